"""Crash consistency with --state: the state commits only after the alerts it produced are
written, so kill -9 at any moment and a rerun give exactly the alerts of one uninterrupted run
(here the rerun's output alone already holds them all; the contract is the union of outputs)."""

from __future__ import annotations

import shutil
import signal
import time

import pytest
from support import jsonl_ids, okta_event, run, tokentrail, write_jsonl

NEW_IP_RULE = """\
[metadata]
creation_date = "2025/01/20"
maturity = "production"

[rule]
author = ["TokenTrail tests"]
description = "A user signs in from an IP address not seen for them in the hour before."
from = "now-1m"
index = ["logs-okta*"]
interval = "1m"
language = "kuery"
name = "Okta session from a new IP for the user"
risk_score = 21
rule_id = "7d1e0c1a-0000-4000-8000-0000000000c3"
severity = "low"
type = "new_terms"
query = 'eventType : "user.session.start"'

[rule.new_terms]
field = "new_terms_fields"
value = ["actor.alternateId", "client.ipAddress"]

[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-1h"
"""

EVENTS = 6000  # one every 3 s: the first hour (1200 events) is the rule's learning period


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    (root / "rules").mkdir()
    (root / "rules" / "new_ip.toml").write_text(NEW_IP_RULE)
    events = []
    for n in range(EVENTS):
        seconds = 3 * n
        event = okta_event(n, "user.session.start", user=f"user{n % 40}@example.com",
                           published=f"2024-05-01T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z")
        event["client"]["ipAddress"] = f"10.{n // 250}.{n % 250}.1"
        events.append(event)
    logs = write_jsonl(root / "okta.jsonl", events)
    whole = root / "whole.db"
    done = run("scan", logs, "-r", root / "rules", "--state", whole, "--format", "jsonl")
    assert done.returncode == 0, done.stderr.decode()
    expected = jsonl_ids(done.stdout)
    assert len(expected) > 100 and len(set(expected)) == len(expected)
    return root, logs, set(expected)


def kill_after(args, lines: int, limit: float = 60.0) -> bytes:
    """Start ``tokentrail ARGS``, kill -9 it once ``lines`` lines are out; return its output."""
    proc = tokentrail(*args)
    out = b""
    deadline = time.monotonic() + limit
    try:
        while out.count(b"\n") < lines and time.monotonic() < deadline:
            chunk = proc.stdout.read1(1 << 16)
            if not chunk:
                break
            out += chunk
        proc.send_signal(signal.SIGKILL)
        out += proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the scan ended before it could be killed"
    return out


@pytest.mark.parametrize("lines", [1, 200, 1500])
def test_kill_then_rerun_gives_the_alerts_of_one_run(setup, lines):
    root, logs, expected = setup
    state = root / f"killed-{lines}.db"
    args = ("scan", logs, "-r", root / "rules", "--state", state, "--format", "jsonl")
    first = kill_after(args, lines)
    assert 0 < len(jsonl_ids(first)) < len(expected)
    rerun = run(*args)
    assert rerun.returncode == 0, rerun.stderr.decode()
    union = set(jsonl_ids(first)) | set(jsonl_ids(rerun.stdout))
    assert union == expected
    assert set(jsonl_ids(rerun.stdout)) == expected  # the killed scan committed nothing


def test_a_rerun_after_a_whole_run_adds_nothing_new(setup):
    root, logs, expected = setup
    state = root / "again.db"
    shutil.copy(root / "whole.db", state)
    again = run("scan", logs, "-r", root / "rules", "--state", state, "--format", "jsonl")
    assert again.returncode == 0
    # The history says every term was seen: no alert is new, and none is lost from the union.
    assert set(jsonl_ids(again.stdout)) <= expected


def test_an_output_path_that_cannot_be_written_stops_the_scan_before_it_starts(setup):
    root, logs, _ = setup
    state = root / "untouched.db"
    proc = run("scan", logs, "-r", root / "rules", "--state", state, "-o", root / "missing" / "dir" / "a.jsonl",
               "--format", "jsonl")
    assert proc.returncode == 2
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1 and "missing/dir/a.jsonl: cannot write" in err[0]
    assert not state.exists()  # nothing was scanned, nothing was recorded

"""``tokentrail watch`` as a real process over the Okta imitation with 429s, 5xx and cut-off
answers, SIGKILLed at seeded random moments and restarted until caught up: the JSONL and SQLite
sinks end with exactly the alerts of one uninterrupted run and of ``tokentrail scan`` (each
once), and the webhook received every alert id at least once as its Idempotency-Key."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
from live_support import HookReceiver, mixed_events, write_rules

from tokentrail.sources.imitate.faults import FaultPlan
from tokentrail.sources.imitate.okta import okta_app
from tokentrail.sources.imitate.server import running

SCRIPT = Path(sys.executable).parent / "tokentrail"
TOKEN = "okta-token-3b9e61d0c4"
ENV = {**os.environ, "OKTA_TOKEN": TOKEN, "NO_COLOR": "1"}


def watch_command(url: str, work: Path, rules: Path, hook: str) -> list[str]:
    return [str(SCRIPT), "watch", "okta", "--org-url", url, "--token-env", "OKTA_TOKEN", "-r", str(rules),
            "--state", str(work / "state.sqlite"), "--sink", f"jsonl:{work / 'alerts.jsonl'}",
            "--sink", f"sqlite:{work / 'alerts.sqlite'}", "--sink", f"webhook:{hook}", "--page-size", "100",
            "--once", "--format", "json"]


def alerts_of(work: Path) -> tuple[list[tuple[str, tuple[str, ...]]], list[tuple[str, tuple[str, ...]]]]:
    """(JSONL alerts, SQLite alerts) as sorted (id, event ids); a repeat shows as a repeat."""
    lines = [orjson.loads(line) for line in (work / "alerts.jsonl").read_bytes().splitlines()]
    db = sqlite3.connect(work / "alerts.sqlite")
    stored = [orjson.loads(doc) for (doc,) in db.execute("SELECT document FROM alerts")]
    db.close()

    def key(a):
        return a["id"], tuple(sorted(a["event_ids"]))

    return sorted(map(key, lines)), sorted(map(key, stored))


def test_killed_and_restarted_watch_ends_with_the_alerts_of_one_run_and_of_scan(tmp_path):
    rng = random.Random(20261202)
    events = mixed_events(1800)
    rules = write_rules(tmp_path)
    plan = FaultPlan(fail_rate=0.12, kinds=("429", "5xx", "cut"), seed=7, reset_after=0.2)
    kills = 0
    with HookReceiver() as hook, running(okta_app(events, tokens=[TOKEN], faults=plan)) as imitation:
        # One uninterrupted run, into its own state and sinks.
        whole = tmp_path / "whole"
        whole.mkdir()
        done = subprocess.run(watch_command(imitation.url, whole, rules, hook.url), env=ENV, capture_output=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        hook.received.clear()
        # The same, killed at random moments and started again until it ends by itself.
        work = tmp_path / "killed"
        work.mkdir()
        alerts = work / "alerts.jsonl"
        for _ in range(40):
            # Each start is killed a random moment after it has written alerts (so mid-page or
            # mid-write, not while still importing), until one run ends by itself.
            size = alerts.stat().st_size if alerts.exists() else 0
            proc = subprocess.Popen(watch_command(imitation.url, work, rules, hook.url), env=ENV,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            while proc.poll() is None and (not alerts.exists() or alerts.stat().st_size == size):
                time.sleep(0.01)
            if proc.poll() is None and kills < 6:
                time.sleep(rng.uniform(0.0, 0.5))
                if proc.poll() is None:
                    proc.kill()  # SIGKILL: no handler runs, no buffer is flushed
                    proc.communicate()
                    kills += 1
                    continue
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
            break
        else:
            raise AssertionError("watch never caught up")
        assert orjson.loads(out)["sources"][0]["caught_up"] is True
    assert kills >= 3, "the run should have been killed several times while writing alerts"
    assert plan.fail_rate and sum(imitation_faults(imitation).values()) > 0

    expected_jsonl, expected_sqlite = alerts_of(whole)
    got_jsonl, got_sqlite = alerts_of(work)
    assert len(got_jsonl) == len({a for a, _ in got_jsonl}), "an alert was written twice to the JSONL sink"
    assert got_jsonl == expected_jsonl
    assert got_sqlite == expected_sqlite == expected_jsonl
    # tokentrail scan over the same events gives the same alerts.
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    scanned = subprocess.run([str(SCRIPT), "scan", str(path), "-r", str(rules), "--format", "jsonl", "-j", "1"],
                             env=ENV, capture_output=True, timeout=120)
    assert scanned.returncode == 0, scanned.stderr.decode()
    from_scan = sorted((a["id"], tuple(sorted(a["event_ids"])))
                       for a in map(orjson.loads, scanned.stdout.splitlines()))
    assert got_jsonl == from_scan
    # The webhook is at least once: every alert id came, repeats carry the same key.
    assert set(hook.keys()) == {a for a, _ in expected_jsonl}


def imitation_faults(imitation) -> dict[str, int]:
    app = imitation.server.config.app
    return dict(app.state.faults.injected)


def test_watch_refuses_a_corrupt_or_locked_state(tmp_path):
    rules = write_rules(tmp_path)
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"this is not a database" * 100)
    command = [str(SCRIPT), "watch", "okta", "--org-url", "http://127.0.0.1:9", "--token-env", "OKTA_TOKEN",
               "-r", str(rules), "--state", str(state), "--sink", f"jsonl:{tmp_path / 'a.jsonl'}", "--once"]
    done = subprocess.run(command, env=ENV, capture_output=True, timeout=60)
    assert done.returncode == 2
    assert "corrupt" in done.stderr.decode() and str(state) in done.stderr.decode()
    state.unlink()
    import fcntl

    state.touch()
    with open(state, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        start = time.monotonic()
        done = subprocess.run(command, env=ENV, capture_output=True, timeout=60)
    assert done.returncode == 2 and time.monotonic() - start < 30
    assert "in use" in done.stderr.decode()

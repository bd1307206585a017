"""The installed `tokentrail` console script in a real process: pipes, exit codes, stream split."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cli_support import OKTA_TOKEN_RULE_ID, okta_event, parse_jsonl

SCRIPT = Path(sys.executable).parent / "tokentrail"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "tokentrail.cli"]
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}

EVENTS = [okta_event(1), okta_event(2, "system.api_token.create"), okta_event(3, "system.api_token.create")]


def run(*args, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*COMMAND, *map(str, args)], input=stdin, capture_output=True, env=ENV,
                          timeout=60, check=False)


def test_pipe_through_stdin(cli):
    rules = cli.rules()
    stdin = "".join(json.dumps(e) + "\n" for e in EVENTS).encode()
    proc = run("scan", "-", "-r", rules, "--format", "jsonl", stdin=stdin)
    assert proc.returncode == 0, proc.stderr.decode()
    alerts = parse_jsonl(proc.stdout.decode())
    assert [(a["rule_id"], a["event_ids"]) for a in alerts] == [
        (OKTA_TOKEN_RULE_ID, ["okta-2"]), (OKTA_TOKEN_RULE_ID, ["okta-3"])]
    assert b"3 events read, 0 skipped, 2 matched" in proc.stderr


def test_errors_go_to_stderr_and_stdout_stays_json(cli):
    rules = cli.rules()
    cli.write("rules/broken.yml", "title: broken\ndetection: [\n")
    logs = cli.jsonl("okta.jsonl", EVENTS, extra_lines={2: "garbage"})
    proc = run("scan", logs, "-r", rules, "--format", "json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["summary"]["events_skipped"] == 1 and doc["summary"]["rule_load_errors"] == 1
    assert len(doc["alerts"]) == 2
    stderr = proc.stderr.decode()
    assert f"{logs}:2: malformed JSON" in stderr
    assert str(rules / "broken.yml") in stderr


def test_strict_exit_code_and_location(cli):
    logs = cli.jsonl("okta.jsonl", EVENTS, extra_lines={3: "garbage"})
    proc = run("scan", logs, "-r", cli.rules(), "--strict", "--format", "jsonl")
    assert proc.returncode == 1
    # The alert of line 2 left before line 3 stopped the scan; nothing after it did.
    assert [a["event_ids"] for a in parse_jsonl(proc.stdout.decode())] == [["okta-2"]]
    assert f"{logs}:3: malformed JSON" in proc.stderr.decode()


def test_help_lists_the_commands():
    proc = run("--help")
    assert proc.returncode == 0
    text = proc.stdout.decode()
    for command in ("scan", "rules", "test", "simulate", "demo"):
        assert command in text

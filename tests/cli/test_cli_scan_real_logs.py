"""`tokentrail scan` on logs TokenTrail did not write: forced log types, events of no known log
type, files the walk does not read, and the reader's size limits, each visible in the summary."""

from __future__ import annotations

import json

from cli_support import OKTA_TOKEN_RULE_ID, okta_event


def _scan_json(cli, *args):
    result = cli("scan", *args, "--format", "json")
    return result, json.loads(result.stdout)


def test_unknown_events_are_counted_and_named_with_their_first_line(cli):
    rules = cli.rules()
    logs = cli.jsonl("mixed.jsonl", [okta_event(1, "system.api_token.create"), {"what": "is this"},
                                     {"neither": 1}])
    result, doc = _scan_json(cli, logs, "-r", rules)
    assert doc["summary"]["unknown_events"] == 2
    assert doc["summary"]["unknown_by_file"] == {str(logs): {"count": 2, "first_line": 2}}
    assert f"2 events of no known log type, first at {logs}:2" in result.stderr
    assert [a["rule_id"] for a in doc["alerts"]] == [OKTA_TOKEN_RULE_ID]


def test_strict_stops_at_an_unknown_event(cli):
    logs = cli.jsonl("mixed.jsonl", [okta_event(1), {"what": "is this"}])
    result = cli("scan", logs, "-r", cli.rules(), "--strict")
    assert result.exit_code == 1
    assert f"{logs}:2" in result.stderr and "no known log type" in result.stderr


def test_log_type_forces_detection_and_an_unknown_name_is_one_line(cli):
    # A trimmed Okta export: no uuid, no published, no actor — detection alone cannot tell.
    logs = cli.jsonl("trimmed.jsonl", [{"eventType": "system.api_token.create"}])
    _, plain = _scan_json(cli, logs, "-r", cli.rules())
    assert plain["alerts"] == [] and plain["summary"]["unknown_events"] == 1
    _, forced = _scan_json(cli, logs, "-r", cli.rules(), "--log-type", "Okta.SystemLog")
    assert [a["rule_id"] for a in forced["alerts"]] == [OKTA_TOKEN_RULE_ID]
    assert forced["summary"]["unknown_events"] == 0
    bad = cli("scan", logs, "-r", cli.rules(), "--log-type", "okat")
    assert bad.exit_code != 0 and "okat" in bad.stderr and "okta" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_log_types_without_rules_are_named(cli):
    logs = cli.jsonl("gh.jsonl", [{"p_log_type": "GitHub.Audit", "action": "repo.create",
                                   "p_event_time": "2024-05-01 10:00:00.000"}])
    result, doc = _scan_json(cli, logs, "-r", cli.rules())
    assert doc["summary"]["no_rule_events"] == {"GitHub.Audit": 1}
    assert "1 events of log types no loaded rule targets: GitHub.Audit (1)" in result.stderr


def test_files_the_walk_does_not_read_are_listed(cli):
    cli.jsonl("logs/okta.jsonl", [okta_event(1, "system.api_token.create")])
    cli.write("logs/notes.txt", "not a log\n")
    result, doc = _scan_json(cli, cli.root / "logs", "-r", cli.rules())
    notes = str(cli.root / "logs" / "notes.txt")
    assert doc["summary"]["files_skipped"] == 1
    assert doc["summary"]["skipped_files"] == [{"path": notes, "reason": "not a log file"}]
    assert f"skipped: {notes}: not a log file" in result.stderr


def test_max_line_size_turns_a_long_line_into_one_error_and_reads_on(cli):
    long_line = okta_event(2, "system.api_token.create") | {"padding": "x" * 5000}
    logs = cli.jsonl("okta.jsonl", [okta_event(1, "system.api_token.create"), long_line,
                                    okta_event(3, "system.api_token.create")])
    result, doc = _scan_json(cli, logs, "-r", cli.rules(), "--max-line-size", "4KiB")
    assert doc["summary"]["events_skipped"] == 1
    assert sorted(a["event_ids"][0] for a in doc["alerts"]) == ["okta-1", "okta-3"]
    assert f"{logs}:2" in result.stderr
    bad = cli("scan", logs, "-r", cli.rules(), "--max-line-size", "lots")
    assert bad.exit_code == 2 and "--max-line-size" in bad.stderr

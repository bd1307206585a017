"""`tokentrail scan` outputs: table, JSON lines, one JSON document, --output and --matches."""

from __future__ import annotations

import json
import re

import pytest
from cli_support import (
    AUTH0_READ_RULE_ID,
    OKTA_TOKEN_RULE_ID,
    SF_LOGIN_RULE_ID,
    auth0_event,
    okta_event,
    parse_jsonl,
    sf_row,
)

EVENTS = [okta_event(1), okta_event(2, "system.api_token.create"), okta_event(3),
          okta_event(4, "system.api_token.create", user="bob@example.com"), auth0_event(5)]


@pytest.fixture
def logs(cli):
    return cli.jsonl("mixed.jsonl", EVENTS)


def test_jsonl_alerts(cli, logs):
    result = cli("scan", logs, "-r", cli.rules(), "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    alerts = parse_jsonl(result.stdout)
    assert [(a["rule_id"], a["event_ids"], a["count"]) for a in alerts] == [
        (OKTA_TOKEN_RULE_ID, ["okta-2"], 1),
        (OKTA_TOKEN_RULE_ID, ["okta-4"], 1),
        (AUTH0_READ_RULE_ID, ["a0-5"], 1),
    ]
    okta_alert = alerts[0]
    assert okta_alert["title"] == "Okta API token created"
    assert okta_alert["severity"] == "high"
    assert okta_alert["techniques"] == ["T1528"]
    assert okta_alert["first_time"] == okta_alert["last_time"] == "2024-05-01T10:00:02.000Z"
    assert all(re.fullmatch(r"[0-9a-f]{24}", a["id"]) for a in alerts)
    assert len({a["id"] for a in alerts}) == 3


def test_alert_ids_are_stable_across_runs(cli, logs):
    rules = cli.rules()
    first = parse_jsonl(cli("scan", logs, "-r", rules, "--format", "jsonl").stdout)
    second = parse_jsonl(cli("scan", logs, "-r", rules, "--format", "jsonl").stdout)
    assert [a["id"] for a in first] == [a["id"] for a in second]


def test_json_document_with_summary(cli, logs):
    result = cli("scan", logs, "-r", cli.rules(), "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"] == {
        "events_read": 5, "events_skipped": 0, "duplicate_events": 0, "untimed_events": 0,
        "matched_events": 3, "matches": 3, "step_matches": 0,
        "alerts": 3, "rules_loaded": 3, "rules_alerting": 3, "rules_correlation_stages": 0,
        "rules_failed": 0, "rules_not_run": 0, "rule_load_errors": 0, "rule_errors": 0,
        "files_skipped": 0, "skipped_files": [], "unknown_events": 0, "unknown_by_file": {},
        "no_rule_events": {}, "engine": "stream",
    }
    assert sorted(e for a in doc["alerts"] for e in a["event_ids"]) == ["a0-5", "okta-2", "okta-4"]


def test_table(cli, logs):
    result = cli("scan", logs, "-r", cli.rules())
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "3 alert(s)" in text
    # Titles, not rule or event ids, in the table (ids are in the JSON outputs).
    assert text.count("Okta API token created") == 2 and text.count("Auth0 client secret read") == 1
    assert "okta-2" not in text and OKTA_TOKEN_RULE_ID not in text
    # Actor and source IP come from the fields the Okta rule outputs; the Auth0 rule names none.
    okta_rows = [line.split() for line in text.splitlines() if "Okta API token created" in line]
    assert okta_rows == [["2024-05-01", "10:00", "high", "Okta", "API", "token", "created", user,
                          "198.51.100.7", "1"] for user in ("alice@example.com", "bob@example.com")]
    auth0_row = next(line.split() for line in text.splitlines() if "Auth0 client secret read" in line)
    assert auth0_row[-3:] == ["-", "-", "1"]


def test_empty_scan_says_zero_alerts(cli):
    path = cli.jsonl("quiet.jsonl", [okta_event(1), okta_event(3)])
    result = cli("scan", path, "-r", cli.rules())
    assert result.exit_code == 0
    assert result.stdout == "no alerts\n"
    assert "2 events read, 0 skipped, 0 matched (0 matches), 0 alert(s)\n3 rules: 3 raise alerts\n" in result.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "json", "table"])
def test_output_file_takes_the_alerts(cli, logs, tmp_path, fmt):
    target = tmp_path / f"alerts.{fmt}"
    result = cli("scan", logs, "-r", cli.rules(), "--format", fmt, "--output", target)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    text = target.read_text()
    if fmt == "jsonl":
        assert [a["event_ids"] for a in parse_jsonl(text)] == [["okta-2"], ["okta-4"], ["a0-5"]]
    elif fmt == "json":
        assert json.loads(text)["summary"]["alerts"] == 3
    else:
        assert "3 alert(s)" in text and "bob@example.com" in text
    assert "5 events read" in result.stderr


def test_matches_file_has_one_line_per_event_and_rule(cli, tmp_path):
    # The malformed second line shifts every later event: line numbers are physical lines.
    path = cli.jsonl("okta.jsonl", EVENTS, extra_lines={2: "{not json"})
    matches = tmp_path / "matches.jsonl"
    result = cli("scan", path, "-r", cli.rules(), "--format", "jsonl", "--matches", matches)
    assert result.exit_code == 1  # the skipped line
    rows = parse_jsonl(matches.read_text())
    assert [(m["rule_id"], m["source"], m["line"], m["event_id"]) for m in rows] == [
        (OKTA_TOKEN_RULE_ID, str(path), 3, "okta-2"),
        (OKTA_TOKEN_RULE_ID, str(path), 5, "okta-4"),
        (AUTH0_READ_RULE_ID, str(path), 6, "a0-5"),
    ]
    assert rows[0]["event"] == EVENTS[1]
    assert rows[2]["event"] == EVENTS[4]
    assert [m["log_type"] for m in rows] == ["okta", "okta", "auth0"]
    assert rows[0]["time"] == "2024-05-01T10:00:02.000Z"
    assert f"matches written to {matches}" in result.stderr


def test_matches_from_csv_name_the_csv_line(cli, tmp_path):
    path = cli.csv("sf.csv", [sf_row(1, status="LOGIN_ERROR"), sf_row(2), sf_row(3)])
    matches = tmp_path / "m.jsonl"
    result = cli("scan", path, "-r", cli.rules(), "--format", "jsonl", "--matches", matches)
    assert result.exit_code == 0, result.stderr
    rows = parse_jsonl(matches.read_text())
    # Line 1 is the header: the rows of req-2 and req-3 are lines 3 and 4.
    assert [(m["rule_id"], m["line"], m["event_id"]) for m in rows] == [
        (SF_LOGIN_RULE_ID, 3, "req-2"), (SF_LOGIN_RULE_ID, 4, "req-3")]
    assert rows[0]["event"]["SOURCE_IP"] == "192.0.2.1"


def test_correlation_alerts_once_and_every_base_match_is_written(cli, tmp_path):
    # Three token creations by alice within ten minutes: one correlation alert, no base alerts
    # (the base rule only feeds the correlation), and still one match line per event.
    rule = cli.write("burst.yml", f"""\
        title: Okta API token created
        id: {OKTA_TOKEN_RULE_ID}
        name: token_created
        logsource: {{product: okta}}
        detection:
          selection: {{eventType: system.api_token.create}}
          condition: selection
        ---
        title: Token burst
        id: 5b0e7c1a-0000-4000-8000-0000000000b1
        level: high
        correlation:
          type: event_count
          rules: token_created
          group-by: [actor.alternateId]
          timespan: 10m
          condition: {{gte: 3}}
        """)
    events = [okta_event(n, "system.api_token.create") for n in (1, 2, 3)]
    events.append(okta_event(4, "system.api_token.create", user="bob@example.com"))
    path = cli.jsonl("burst.jsonl", events)
    matches = tmp_path / "m.jsonl"
    result = cli("scan", path, "-r", rule, "--format", "json", "--matches", matches)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [(a["rule_id"], a["group_key"], a["count"]) for a in doc["alerts"]] == [
        ("5b0e7c1a-0000-4000-8000-0000000000b1", ["alice@example.com"], 3)]
    assert sorted(doc["alerts"][0]["event_ids"]) == ["okta-1", "okta-2", "okta-3"]
    assert doc["summary"]["matches"] == 4
    assert [m["line"] for m in parse_jsonl(matches.read_text())] == [1, 2, 3, 4]


def test_table_shows_bracketed_titles_as_written(cli):
    # Rule titles are data: "[admin]" must not be taken for Rich markup and vanish.
    rule = cli.write("bracket.yml", """\
        title: Token [admin] created [/]
        id: 5b0e7c1a-0000-4000-8000-0000000000d1
        logsource: {product: okta}
        detection:
          selection: {eventType: system.api_token.create}
          condition: selection
        """)
    result = cli("scan", cli.jsonl("okta.jsonl", EVENTS), "-r", rule)
    assert result.exit_code == 0, result.stderr
    assert "Token [admin] created [/]" in result.stdout
    listed = cli("rules", "list", "-r", rule)
    assert "Token [admin] created [/]" in listed.stdout

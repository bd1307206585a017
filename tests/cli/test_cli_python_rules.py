"""Python (Panther) rules through the CLI: they run only from paths named with -r, the CLI says so,
and a rule that raises on one event is reported with the event's file:line while the scan goes on."""

from __future__ import annotations

import json

from cli_support import okta_event, parse_jsonl

RULE_YML = """\
    AnalysisType: rule
    RuleID: Tests.Okta.TokenCreate
    DisplayName: Okta token created (Python)
    Enabled: true
    Filename: token_create.py
    LogTypes: [Okta.SystemLog]
    Severity: High
    Tests:
      - Name: fires
        ExpectedResult: true
        Log: {eventType: system.api_token.create, actor: {alternateId: a@example.com}}
      - Name: quiet
        ExpectedResult: false
        Log: {eventType: user.session.start, actor: {alternateId: a@example.com}}
    """

# Raises KeyError on events without an actor: a rule bug the engine must survive.
RULE_PY = """\
    def rule(event):
        return event["actor"]["alternateId"] != "" and event.get("eventType") == "system.api_token.create"


    def title(event):
        return f"token created by {event['actor']['alternateId']}"
    """


def write_rule(cli):
    cli.write("py/token_create.yml", RULE_YML)
    cli.write("py/token_create.py", RULE_PY)
    return cli.root / "py"


def test_python_rule_runs_and_a_raising_event_is_reported(cli):
    rules = write_rule(cli)
    no_actor = {k: v for k, v in okta_event(2, "system.api_token.create").items() if k != "actor"}
    logs = cli.jsonl("okta.jsonl", [okta_event(1, "system.api_token.create"), no_actor, okta_event(3)])
    result = cli("scan", logs, "-r", rules, "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [(a["rule_id"], a["event_ids"], a["title"]) for a in doc["alerts"]] == [
        ("Tests.Okta.TokenCreate", ["okta-1"], "token created by alice@example.com")]
    assert doc["summary"]["rule_errors"] == 1 and doc["summary"]["events_read"] == 3
    assert f"about to run 1 Python rule(s) from {rules}" in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("rule error: ")]
    assert len(errors) == 1
    assert f"Tests.Okta.TokenCreate on okta-2 ({logs}:2)" in errors[0] and "KeyError" in errors[0]


def test_python_rule_tests_run(cli, tmp_path):
    report = tmp_path / "junit.xml"
    result = cli("test", write_rule(cli), "--format", "json", "--junit", report)
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert [(r["name"], r["passed"]) for r in doc["results"]] == [("fires", True), ("quiet", True)]


def test_declarative_rules_do_not_announce_python(cli):
    result = cli("scan", cli.jsonl("okta.jsonl", [okta_event(1)]), "-r", cli.rules(), "--format", "jsonl")
    assert result.exit_code == 0
    assert "Python" not in result.stderr
    assert parse_jsonl(result.stdout) == []


def test_test_command_takes_pat_style_filters(cli):
    import json
    from pathlib import Path

    pack = Path(__file__).resolve().parents[2] / "src" / "tokentrail" / "content" / "rules" / "panther"
    result = cli("test", str(pack), "--filter", "LogTypes=Salesforce.*", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rule_ids = {r["rule_id"] for r in json.loads(result.stdout)["results"]}
    assert rule_ids == {"Salesforce.OAuth.Credential.Abuse", "TokenTrail.Salesforce.SessionKey.Replay"}
    both = cli("test", str(pack), "--filter", "LogTypes=Salesforce.*", "--filter", "RuleID=Salesforce.*",
               "--format", "json")
    assert {r["rule_id"] for r in json.loads(both.stdout)["results"]} == {"Salesforce.OAuth.Credential.Abuse"}

"""Commands that read well: `test -r`, `rules show` by title, kinds in words, reasons that do
not repeat themselves, errors naming options, counters that add up, shared defaults."""

from __future__ import annotations

import inspect
import json

import typer
from cli_support import OKTA_TOKEN_RULE, OKTA_TOKEN_RULE_ID, okta_event

from tokentrail import api
from tokentrail import simulate as sim
from tokentrail.cli import app
from tokentrail.content import RULES_DIR

ESQL_RULE = """\
[metadata]
maturity = "development"

[rule]
author = ["Tests"]
description = "An ES|QL rule."
index = ["logs-okta*"]
name = "ES|QL rule"
risk_score = 21
rule_id = "00000000-0000-4000-8000-0000000000e1"
severity = "low"
type = "esql"
language = "esql"
query = "from logs-okta* | stats v = values(user.id) by user.name | where v > 5 or v < 2"
"""


def test_test_takes_rules_with_r_like_every_command(cli):
    rules = cli.rules()
    by_option = cli("test", "-r", rules, "--format", "json")
    by_position = cli("test", rules, "--format", "json")
    assert by_option.exit_code == by_position.exit_code == 0, by_option.stderr
    assert json.loads(by_option.stdout) == json.loads(by_position.stdout)
    assert json.loads(by_option.stdout)["passed"] == 0  # the helper rules have no tests
    both = cli("test", rules / "okta_token.yml", "--rules", rules / "sf_login.yml", "--format", "json")
    assert both.exit_code == 0
    panther = cli("test", "-r", RULES_DIR / "panther", "--format", "json")
    doc = json.loads(panther.stdout)
    assert doc["passed"] > 0 and doc["failed"] == 0, panther.stdout


def test_rules_show_finds_a_rule_by_exact_title(cli):
    rules = cli.rules()
    for name in ("Okta API token created", "okta api TOKEN created", OKTA_TOKEN_RULE_ID):
        result = cli("rules", "show", name, "-r", rules, "--format", "json")
        assert result.exit_code == 0, (name, result.stderr)
        assert json.loads(result.stdout)["id"] == OKTA_TOKEN_RULE_ID
    missing = cli("rules", "show", "Okta API token", "-r", rules)
    assert missing.exit_code == 2 and "0 rules match 'Okta API token'" in missing.stderr


def test_kinds_are_words():
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["rules", "list", "--format", "json"])
    kinds = {row["title"]: row["kind"] for row in json.loads(result.stdout)}
    assert set(kinds.values()) == {"expression", "correlation", "new terms", "threshold", "sequence",
                                   "aggregate condition"}
    assert kinds["Okta Access Tokens Granted Through Several Anonymizers (ES|QL)"] == "aggregate condition"
    assert kinds["Okta API Token Created"] == "expression"
    assert kinds["Okta API Token Created After a Proxied Admin Sign-in"] == "sequence"
    assert kinds["Auth0 Burst Of Failed Refresh Token Exchanges From One Address"] == "correlation"
    python = CliRunner().invoke(app, ["rules", "list", "-r", RULES_DIR / "panther", "--format", "json"])
    kinds = {row["title"]: row["kind"] for row in json.loads(python.stdout)}
    assert kinds["Okta API Token Used From An IP Unfamiliar To Its Creator"] == "Python"
    assert not {"PythonLogic", "Correlation", "All", "Cmp"} & set(kinds.values())


def test_unsupported_reason_does_not_repeat_itself(cli):
    rule = cli.write("rules/esql.toml", ESQL_RULE)
    listed = cli("rules", "list", "-r", rule)
    assert "00000000: unsupported: ES|QL condition on VALUES" in listed.stdout
    validated = cli("rules", "validate", "-r", rule)
    for text in (listed.stdout + listed.stderr, validated.stdout + validated.stderr):
        assert "unsupported: unsupported" not in text and "not supported" not in text


def test_missing_placeholder_names_the_option_not_a_class(cli):
    rule = cli.write("rules/expand.yml", OKTA_TOKEN_RULE.replace(
        "eventType: system.api_token.create", "actor.alternateId|expand: '%admins%'"))
    result = cli("rules", "validate", "-r", rule)
    assert result.exit_code == 1
    assert "--sigma-config" in result.stderr and "LoadContext" not in result.stderr


def test_counters_add_up(cli, tmp_path):
    written = sim.write_logs(tmp_path / "logs", ["all"], events=3000, seed=7)
    broken = cli.write("extra/broken.yml", OKTA_TOKEN_RULE.replace("condition: selection",
                                                                  "condition: selection and nothing"))
    esql = cli.write("extra/esql.toml", ESQL_RULE)
    result = cli("scan", *written.values(), "-r", RULES_DIR / "sigma", "-r", RULES_DIR / "elastic",
                 "-r", esql, "-r", broken, "--format", "json")
    summary = json.loads(result.stdout)["summary"]
    parts = ("rules_alerting", "rules_correlation_stages", "rules_failed", "rules_not_run")
    assert summary["rules_loaded"] == sum(summary[p] for p in parts) == 31
    assert summary["rules_correlation_stages"] == 3  # the Sigma correlations' base rules
    assert summary["rules_not_run"] == 1  # the ES|QL rule that cannot be lowered
    assert summary["rule_load_errors"] == 1  # the broken file never became a rule
    assert summary["step_matches"] > 0  # the EQL sequence's inline queries
    assert summary["matched_events"] <= summary["matches"] + summary["step_matches"]
    lines = result.stderr.splitlines()
    assert (f"{summary['events_read']} events read, 0 skipped, {summary['matched_events']} matched "
            f"({summary['matches']} matches, {summary['step_matches']} sequence-step matches), "
            f"{summary['alerts']} alert(s)") in lines
    assert (f"31 rules: {summary['rules_alerting']} raise alerts, 3 only feed correlations, "
            "1 do not run (unsupported or disabled)") in lines


PANTHER_RULE = """\
AnalysisType: rule
RuleID: Test.Boom
Filename: boom.py
Enabled: true
LogTypes: [Okta.SystemLog]
Severity: Low
"""


def test_a_rule_that_cannot_run_is_counted_as_failed(cli):
    cli.write("panther/boom.yml", PANTHER_RULE)
    cli.write("panther/boom.py", "raise ValueError('boom at import')\ndef rule(event):\n    return True\n")
    result = cli("scan", cli.jsonl("okta.jsonl", [okta_event(1)]), "-r", cli.root / "panther", "--format", "json")
    summary = json.loads(result.stdout)["summary"]
    assert (summary["rules_loaded"], summary["rules_failed"], summary["rules_alerting"]) == (1, 1, 0)
    assert "Test.Boom cannot run: ValueError: boom at import" in result.stderr
    assert "1 rules: 0 raise alerts, 1 failed to compile" in result.stderr


def test_scan_and_the_cli_share_their_defaults():
    library = inspect.signature(api.scan).parameters
    command = {p.name: p for p in typer.main.get_command(app).commands["scan"].params}
    assert library["workers"].default == api.DEFAULT_WORKERS == command["workers"].default == 0
    assert library["strict"].default is command["strict"].default is False
    for name in ("dead_letter", "state"):
        assert library[name].default is None and command[name].default is None


def test_reasons_of_broken_export_rules_name_neither_the_file_nor_unsupported_twice(cli):
    rules = [{"rule_id": "0f0f0f0f-0000-4000-8000-000000000002", "name": "Bad query", "type": "query",
              "language": "kuery", "query": "event.action:(a or", "index": ["logs-okta*"], "risk_score": 47,
              "severity": "high", "description": "x"},
             {"rule_id": "0f0f0f0f-0000-4000-8000-000000000003", "name": "Odd type", "type": "mystery",
              "index": ["logs-okta*"], "risk_score": 47, "severity": "high", "description": "x"}]
    export = cli.write("export.ndjson", "".join(json.dumps(r) + "\n" for r in rules))
    result = cli("rules", "validate", "-r", export)
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {export}: 0f0f0f0f-0000-4000-8000-000000000002: unsupported: "
                               "cannot load: KQL syntax error:") and lines[0].endswith("(file line 1)")
    assert lines[1] == (f"error: {export}: 0f0f0f0f-0000-4000-8000-000000000003: unsupported: "
                        "rule type mystery (unknown to TokenTrail)")
    for line in lines:
        assert line.count(str(export)) == 1 and line.count("unsupported") == 1

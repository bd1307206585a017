"""`tokentrail rules validate`: fields a rule reads that its log types do not have."""

from __future__ import annotations

import json

from cli_support import OKTA_TOKEN_RULE, OKTA_TOKEN_RULE_ID

MISSPELT = OKTA_TOKEN_RULE.replace("eventType:", "eventTyp:")
MISSPELT_LINE = 1 + next(i for i, text in enumerate(MISSPELT.splitlines()) if "eventTyp:" in text)

# A compile problem beside the unknown field (a correlation over a rule that is not loaded):
# --allow-unknown-fields must not hide it.
DANGLING_CORRELATION = """\
    title: Many token grants
    id: 5b0e7c1a-0000-4000-8000-0000000000f2
    correlation:
      type: event_count
      rules: [no_such_rule]
      group-by: [actor.id]
      timespan: 5m
      condition: {gte: 2}
    """


def test_misspelt_field_is_an_error_with_file_line_rule_and_suggestion(cli):
    rule = cli.write("rules/typo.yml", MISSPELT)
    result = cli("rules", "validate", "-r", rule)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: {rule}:{MISSPELT_LINE}: {OKTA_TOKEN_RULE_ID}: eventTyp: no such Okta field; "
        "did you mean eventType?")
    assert "1 rule(s) loaded, 1 runnable, 1 problem(s), 1 unknown field(s)" in result.stdout


def test_allow_unknown_fields_turns_them_into_warnings(cli):
    rule = cli.write("rules/typo.yml", MISSPELT)
    result = cli("rules", "validate", "-r", rule, "--allow-unknown-fields")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"warning: {rule}:{MISSPELT_LINE}: ")
    assert "did you mean eventType?" in result.stderr
    assert "0 problem(s), 1 unknown field(s)" in result.stdout


def test_allow_unknown_fields_still_fails_on_other_problems(cli):
    cli.write("rules/typo.yml", MISSPELT)
    cli.write("rules/correlation.yml", DANGLING_CORRELATION)
    result = cli("rules", "validate", "-r", cli.root / "rules", "--allow-unknown-fields")
    assert result.exit_code == 1
    assert "rule 'no_such_rule' is not loaded" in result.stderr and "warning: " in result.stderr


def test_json_lists_unknown_fields(cli):
    rule = cli.write("rules/typo.yml", MISSPELT)
    result = cli("rules", "validate", "-r", rule, "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["unknown_fields"] == [{
        "rule_id": OKTA_TOKEN_RULE_ID, "field": "eventTyp", "log_types": ["Okta"],
        "suggestion": "eventType", "file": str(rule), "line": MISSPELT_LINE,
        "message": doc["problems"][0],
    }]
    allowed = json.loads(cli("rules", "validate", "-r", rule, "--format", "json",
                             "--allow-unknown-fields").stdout)
    assert allowed["problems"] == [] and allowed["warnings"] == [doc["problems"][0]]


def test_correct_rules_and_the_bundled_pack_validate_clean(cli):
    result = cli("rules", "validate", "-r", cli.rules())
    assert result.exit_code == 0, result.stderr
    assert "0 problem(s), 0 unknown field(s)" in result.stdout
    bundled = cli("rules", "validate")
    assert bundled.exit_code == 0, bundled.stderr
    assert "0 problem(s), 0 unknown field(s)" in bundled.stdout

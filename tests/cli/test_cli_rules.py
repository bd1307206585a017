"""`tokentrail rules list` and `tokentrail rules validate`."""

from __future__ import annotations

import json

from cli_support import AUTH0_READ_RULE_ID, OKTA_TOKEN_RULE_ID, SF_LOGIN_RULE_ID

BROKEN_YAML = """\
    title: Broken
    logsource: {product: okta}
    detection:
      selection: {eventType: [unclosed
      condition: selection
    """

BAD_MODIFIER = """\
    title: Bad modifier
    id: 5b0e7c1a-0000-4000-8000-0000000000f1
    logsource: {product: okta}
    detection:
      selection:
        eventType|nosuchmodifier: x
      condition: selection
    """


def test_list_json(cli):
    result = cli("rules", "list", "-r", cli.rules(), "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {OKTA_TOKEN_RULE_ID, AUTH0_READ_RULE_ID, SF_LOGIN_RULE_ID}
    okta = rows[OKTA_TOKEN_RULE_ID]
    assert (okta["title"], okta["format"], okta["severity"], okta["kind"]) == (
        "Okta API token created", "sigma", "high", "expression")
    assert okta["techniques"] == ["T1528"]
    assert okta["status"] == "ok" and okta["reason"] is None and okta["tests"] == 0
    assert okta["path"].endswith("okta_token.yml")
    assert rows[SF_LOGIN_RULE_ID]["techniques"] == ["T1078.004"]
    assert rows[SF_LOGIN_RULE_ID]["severity"] == "low"
    assert {row["log_types"][0] for row in rows.values()} == {"okta", "auth0", "salesforce"}


def test_list_jsonl_has_one_rule_per_line(cli):
    result = cli("rules", "list", "-r", cli.rules(), "--format", "jsonl")
    assert result.exit_code == 0
    assert sorted(json.loads(line)["id"] for line in result.stdout.splitlines()) == sorted(
        [OKTA_TOKEN_RULE_ID, AUTH0_READ_RULE_ID, SF_LOGIN_RULE_ID])


def test_list_table(cli):
    result = cli("rules", "list", "-r", cli.rules())
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "3 rule(s)" in text
    for rule_id in (OKTA_TOKEN_RULE_ID, AUTH0_READ_RULE_ID, SF_LOGIN_RULE_ID):
        # These ids differ only in their last character: the short form is the whole id.
        assert rule_id in text
    assert "T1078.004" in text and "Salesforce successful login from outside" in text


def test_list_reports_broken_files_and_lists_the_rest(cli):
    rules = cli.rules()
    broken = cli.write("rules/broken.yml", BROKEN_YAML)
    result = cli("rules", "list", "-r", rules)
    assert "3 rule(s)" in result.stdout
    assert f"error: {broken}:" in result.stderr
    quiet = cli("rules", "list", "-r", rules, "--format", "json")
    assert len(json.loads(quiet.stdout)) == 3
    assert quiet.stderr == ""


def test_validate_good_rules(cli):
    result = cli("rules", "validate", "-r", cli.rules())
    assert result.exit_code == 0, result.stderr
    assert "3 rule(s) loaded, 3 runnable, 0 problem(s)" in result.stdout
    assert result.stderr == ""


def test_validate_names_each_broken_file(cli):
    rules = cli.rules()
    broken = cli.write("rules/broken.yml", BROKEN_YAML)
    modifier = cli.write("rules/modifier.yml", BAD_MODIFIER)
    result = cli("rules", "validate", "-r", rules)
    assert result.exit_code == 1
    assert "3 rule(s) loaded, 3 runnable, 2 problem(s)" in result.stdout
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"error: {broken}:")
    assert errors[1].startswith(f"error: {modifier}:6:") and "nosuchmodifier" in errors[1]


def test_validate_json(cli):
    rules = cli.rules()
    broken = cli.write("rules/broken.yml", BROKEN_YAML)
    result = cli("rules", "validate", "-r", rules, "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert (doc["rules"], doc["ok"]) == (3, 3)
    assert len(doc["problems"]) == 1 and doc["problems"][0].startswith(f"{broken}:")


def test_validate_a_single_good_file(cli):
    rule = cli.write("one.yml", BAD_MODIFIER.replace("|nosuchmodifier", "|contains"))
    result = cli("rules", "validate", "-r", rule)
    assert result.exit_code == 0, result.stderr
    assert "1 rule(s) loaded, 1 runnable, 0 problem(s)" in result.stdout


def test_validate_a_file_in_no_known_format(cli):
    stray = cli.write("notes.yml", "just: a mapping\n")
    result = cli("rules", "validate", "-r", stray)
    assert result.exit_code == 1
    assert f"error: {stray}: not a rule in any known format" in result.stderr


def test_list_shows_short_ids_of_the_bundled_pack(cli):
    result = cli("rules", "list")
    full = {row["id"] for row in json.loads(cli("rules", "list", "--format", "json").stdout)}
    cells = [line.split()[0] for line in result.stdout.splitlines()
             if line[:8].strip() and any(i.startswith(line.split()[0]) for i in full)]
    assert len(cells) == len(set(cells)) == len(full)
    assert {len(c) for c in cells} == {8}
    for cell in cells:  # each short id finds its rule
        assert cli("rules", "show", cell, "--format", "json").exit_code == 0

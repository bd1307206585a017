"""`tokentrail test`: embedded Sigma tests, sidecar test files, exit codes, --junit and --filter."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

TOKEN_RULE_ID = "5b0e7c1a-0000-4000-8000-000000000a01"
READ_RULE_ID = "5b0e7c1a-0000-4000-8000-000000000a02"
WRONG_RULE_ID = "5b0e7c1a-0000-4000-8000-000000000a03"

TOKEN_RULE = f"""\
    title: Okta API token created
    id: {TOKEN_RULE_ID}
    level: high
    logsource: {{product: okta}}
    detection:
      selection: {{eventType: system.api_token.create}}
      condition: selection
    tests:
      - name: token create fires
        expected: true
        event: {{eventType: system.api_token.create, uuid: t1, published: "2024-05-01T10:00:00Z"}}
      - name: session start is quiet
        expected: false
        event: {{eventType: user.session.start, uuid: t2, published: "2024-05-01T10:00:00Z"}}
      - name: minimal event without log type keys
        expected: true
        event: {{eventType: system.api_token.create}}
    """

READ_RULE = f"""\
    title: Client secret read via the management API
    id: {READ_RULE_ID}
    logsource: {{product: auth0}}
    detection:
      selection:
        data.type: mgmt_api_read
        data.details.accessedSecrets{{}}: client_secret
      condition: selection
    tests:
      - name: secret read
        expected: true
        event:
          log_id: x1
          data: {{type: mgmt_api_read, date: "2024-05-01T10:00:00Z", details: {{accessedSecrets: [client_secret]}}}}
    """

# Its second test expects a match the rule cannot give.
WRONG_RULE = f"""\
    title: Okta token revoked
    id: {WRONG_RULE_ID}
    logsource: {{product: okta}}
    detection:
      selection: {{eventType: system.api_token.revoke}}
      condition: selection
    tests:
      - name: revoke fires
        expected: true
        event: {{eventType: system.api_token.revoke, uuid: r1, published: "2024-05-01T10:00:00Z"}}
      - name: create wrongly expected
        expected: true
        event: {{eventType: system.api_token.create, uuid: r2, published: "2024-05-01T10:00:00Z"}}
    """


@pytest.fixture
def passing(cli):
    cli.write("rules/token.yml", TOKEN_RULE)
    cli.write("rules/read.yml", READ_RULE)
    return cli.root / "rules"


@pytest.fixture
def with_failure(cli, passing):
    cli.write("rules/wrong.yml", WRONG_RULE)
    return passing


def test_all_pass(cli, passing):
    result = cli("test", passing)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "4 passed, 0 failed" in result.stdout
    assert "FAIL" not in result.stdout
    assert result.stdout.count("pass") >= 4


def test_a_failing_test_fails_the_run(cli, with_failure):
    result = cli("test", with_failure)
    assert result.exit_code == 1
    assert "5 passed, 1 failed" in result.stdout
    failing_rows = [line for line in result.stdout.splitlines() if "FAIL" in line]
    assert len(failing_rows) == 1 and "create wrongly expected" in failing_rows[0]


def test_json_results(cli, with_failure):
    result = cli("test", with_failure, "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert (doc["passed"], doc["failed"]) == (5, 1)
    failed = [r for r in doc["results"] if not r["passed"]]
    assert [(r["rule_id"], r["name"], r["expected"], r["actual"]) for r in failed] == [
        (WRONG_RULE_ID, "create wrongly expected", True, False)]


def test_junit_report(cli, with_failure, tmp_path):
    report = tmp_path / "junit.xml"
    result = cli("test", with_failure, "--junit", report)
    assert result.exit_code == 1
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("6", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {TOKEN_RULE_ID, READ_RULE_ID, WRONG_RULE_ID}
    assert [len(suites[r].findall("testcase")) for r in (TOKEN_RULE_ID, READ_RULE_ID, WRONG_RULE_ID)] == [3, 1, 2]
    assert suites[WRONG_RULE_ID].get("failures") == "1" and suites[TOKEN_RULE_ID].get("failures") == "0"
    failures = root.findall(".//testcase/failure/..")
    assert [c.get("name") for c in failures] == ["create wrongly expected"]
    assert failures[0].get("file").endswith("wrong.yml")
    assert failures[0].find("failure").get("message") == "expected True, got False"


def test_junit_report_when_all_pass(cli, passing, tmp_path):
    report = tmp_path / "junit.xml"
    assert cli("test", passing, "--junit", report).exit_code == 0
    root = ET.parse(report).getroot()
    assert (root.get("tests"), root.get("failures")) == ("4", "0")
    assert root.findall(".//failure") == []


def test_filter_by_title_leaves_the_failing_rule_out(cli, with_failure, tmp_path):
    report = tmp_path / "junit.xml"
    result = cli("test", with_failure, "--filter", "API TOKEN CREATED", "--junit", report)
    assert result.exit_code == 0, result.stdout
    assert "3 passed, 0 failed" in result.stdout
    assert [s.get("name") for s in ET.parse(report).getroot().findall("testsuite")] == [TOKEN_RULE_ID]


def test_filter_by_id_and_repeated(cli, with_failure):
    result = cli("test", with_failure, "--filter", READ_RULE_ID, "--filter", "revoked", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert sorted({r["rule_id"] for r in doc["results"]}) == [READ_RULE_ID, WRONG_RULE_ID]
    assert (doc["passed"], doc["failed"]) == (2, 1)


def test_filter_by_log_type(cli, with_failure):
    result = cli("test", with_failure, "--filter", "auth0", "--format", "json")
    assert result.exit_code == 0, result.stdout
    assert {r["rule_id"] for r in json.loads(result.stdout)["results"]} == {READ_RULE_ID}


def test_filter_matching_nothing_runs_nothing(cli, with_failure):
    result = cli("test", with_failure, "--filter", "no-such-rule")
    assert result.exit_code == 0
    assert "0 passed, 0 failed" in result.stdout


def test_sidecar_tests_file(cli):
    cli.write("rules/revoke.yml", WRONG_RULE.split("    tests:")[0])
    cli.write("rules/revoke.tests.yml", """\
        tests:
          - name: sidecar revoke
            expected: true
            event: {eventType: system.api_token.revoke, uuid: s1, published: "2024-05-01T10:00:00Z"}
          - name: sidecar quiet
            expected: false
            event: {eventType: user.session.start, uuid: s2, published: "2024-05-01T10:00:00Z"}
        """)
    result = cli("test", cli.root / "rules", "--format", "json")
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert [(r["name"], r["passed"]) for r in doc["results"]] == [("sidecar revoke", True), ("sidecar quiet", True)]


def test_rules_without_tests_are_counted(cli, passing):
    cli.write("rules/untested.yml", WRONG_RULE.split("    tests:")[0])
    result = cli("test", passing)
    assert result.exit_code == 0
    assert "4 passed, 0 failed, 0 skipped; 1 rule(s) without tests" in result.stdout


def test_a_broken_rule_fails_the_run_even_if_every_test_passes(cli, passing):
    broken = cli.write("rules/broken.yml", "title: x\nlogsource: {product: okta}\ndetection: {condition: nothing}\n")
    result = cli("test", passing)
    assert result.exit_code == 1
    assert "4 passed, 0 failed" in result.stdout
    assert f"error: {broken}" in result.stderr


def test_a_malformed_tests_block_is_a_load_error_naming_the_file(cli):
    bad = cli.write("bad_tests.yml", TOKEN_RULE.replace("expected: false", "expected: maybe"))
    result = cli("test", bad)
    assert result.exit_code == 1
    assert f"error: {bad}" in result.stderr and "expected" in result.stderr

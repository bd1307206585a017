"""`tokentrail test` on a Panther repository: the short table over 100 results and --all, skipped
tests (table, summary, JSON, JUnit), --data-models, and the files pat test does not read."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from tokentrail.cli.testing import FULL_TABLE_LIMIT
from tokentrail.formats.panther.analysis import SIMPLE_TESTS_SKIPPED
from tokentrail.formats.panther.format import NOT_YAML, OUTSIDE_PAT_FOLDERS

MANY = FULL_TABLE_LIMIT + 20  # tests of the Python rule; one of them is wrong on purpose
WRONG = "case 7 wrongly expected"


def _many_tests_rule() -> str:
    tests = [{"Name": f"case {n}", "ExpectedResult": n % 2 == 0,
              "Log": {"action": "bad" if n % 2 == 0 else "good", "n": n}} for n in range(MANY)]
    tests[7] = {**tests[7], "Name": WRONG, "ExpectedResult": True}
    return yaml.safe_dump({"AnalysisType": "rule", "RuleID": "Wire.Many", "Filename": "many.py",
                           "Enabled": True, "LogTypes": ["Custom.Log"], "Severity": "Low", "Tests": tests})


SIMPLE_RULE = """\
AnalysisType: rule
RuleID: Wire.Simple
Enabled: true
LogTypes: [GitHub.Audit]
Severity: Low
Detection:
  - DeepKey: [repos]
    Condition: AnyElement
    Expressions:
      - Key: action
        Condition: Equals
        Value: repo.archived
Tests:
  - Name: archived
    ExpectedResult: true
    Log: {repos: [{action: repo.archived}]}
"""

UDM_RULE = """\
AnalysisType: rule
RuleID: Wire.Udm
Filename: udm.py
Enabled: true
LogTypes: [Custom.Modelled]
Severity: Low
Tests:
  - Name: read through the model
    ExpectedResult: true
    Log: {p_log_type: Custom.Modelled, user: {name: ann}}
"""

DATA_MODEL = """\
AnalysisType: datamodel
DataModelID: Wire.Model
Enabled: true
LogTypes: [Custom.Modelled]
Mappings:
  - Name: who
    Path: $.user.name
"""


@pytest.fixture
def repo(cli) -> Path:
    """A Panther repository: a rule with over 100 tests (one wrong), a simple detection TokenTrail
    cannot lower (its test skipped), a rule reading a data model kept outside the repository, and files pat test
    does not read."""
    cli.write("repo/global_helpers/README.md", "helpers live here\n")
    cli.write("repo/rules/many.py", "def rule(event):\n    return event.get('action') == 'bad'\n")
    cli.write("repo/rules/many.yml", _many_tests_rule())
    cli.write("repo/rules/simple.yml", SIMPLE_RULE)
    cli.write("repo/rules/udm.py", "def rule(event):\n    return event.udm('who') == 'ann'\n")
    cli.write("repo/rules/udm.yml", UDM_RULE)
    cli.write("models/wire.yml", DATA_MODEL)
    cli.write("repo/templates/example.yml", "AnalysisType: rule\nRuleID: T\nFilename: missing.py\n")
    cli.write("repo/pyproject.toml", "[project]\nname = 'x'\n")
    return cli.root / "repo"


def test_over_100_results_the_table_lists_failed_and_skipped_rows_and_says_what_it_left_out(cli, repo):
    result = cli("test", repo, "--data-models", cli.root / "models")
    assert result.exit_code == 1
    listed = [line for line in result.stdout.splitlines() if "case " in line or "archived" in line]
    assert len(listed) == 2
    assert WRONG in listed[0] and "│ FAIL " in listed[0]
    assert "archived" in listed[1] and "│ skip " in listed[1] and "│ pass " not in listed[1]
    passing = MANY - 1 + 1  # the Python rule's right tests and the data model rule's
    assert f"{passing} passed, 1 failed, 1 skipped" in result.stdout
    assert f"{passing} passing test(s) not listed (--all lists them)" in result.stdout


def test_all_lists_every_row(cli, repo):
    result = cli("test", repo, "--data-models", cli.root / "models", "--all")
    assert result.exit_code == 1
    rows = [line for line in result.stdout.splitlines() if "│" in line]
    assert sum("case " in line for line in rows) == MANY
    assert sum("│ pass " in line for line in rows) == MANY - 1 + 1
    assert "not listed" not in result.stdout


def test_a_small_run_lists_every_row_without_all(cli):
    cli.write("small/rules/simple.yml", SIMPLE_RULE)
    result = cli("test", cli.root / "small")
    assert result.exit_code == 0
    [row] = [line for line in result.stdout.splitlines() if "archived" in line]
    assert "│ skip " in row and SIMPLE_TESTS_SKIPPED[:30] in row
    assert "0 passed, 0 failed, 1 skipped" in result.stdout


def test_json_keeps_every_result_counts_skipped_and_lists_the_unread_files(cli, repo):
    result = cli("test", repo, "--data-models", cli.root / "models", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert (doc["passed"], doc["failed"], doc["skipped"]) == (MANY, 1, 1)
    assert len(doc["results"]) == MANY + 2
    [skipped] = [r for r in doc["results"] if r["skipped"]]
    assert skipped["rule_id"] == "Wire.Simple" and skipped["detail"] == SIMPLE_TESTS_SKIPPED
    assert sorted((Path(f["file"]).name, f["reason"]) for f in doc["skipped_files"]) == [
        ("example.yml", OUTSIDE_PAT_FOLDERS), ("pyproject.toml", NOT_YAML)]


def test_junit_marks_skipped_tests(cli, repo, tmp_path):
    report = tmp_path / "junit.xml"
    cli("test", repo, "--data-models", cli.root / "models", "--junit", report)
    root = ET.parse(report).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == (str(MANY + 2), "1", "1")
    [case] = root.findall(".//testcase/skipped/..")
    assert case.get("classname") == "Wire.Simple" and case.find("failure") is None
    assert case.find("skipped").get("message") == SIMPLE_TESTS_SKIPPED
    suites = {s.get("name"): s.get("skipped") for s in root.findall("testsuite")}
    assert suites == {"Wire.Many": "0", "Wire.Simple": "1", "Wire.Udm": "0"}


def test_data_models_makes_udm_see_a_model_kept_elsewhere(cli, repo):
    without = json.loads(cli("test", repo / "rules", "--format", "json").stdout)
    with_models = json.loads(cli("test", repo / "rules", "--data-models", cli.root / "models",
                                 "--format", "json").stdout)
    verdict = {r["rule_id"]: r["passed"] for r in without["results"] if r["rule_id"] == "Wire.Udm"}
    assert verdict == {"Wire.Udm": False}
    assert [r["passed"] for r in with_models["results"] if r["rule_id"] == "Wire.Udm"] == [True]


@pytest.mark.parametrize("command", [("rules", "list"), ("rules", "validate"), ("scan",)])
def test_data_models_is_taken_wherever_helpers_is(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "--data-models" in result.stdout and "--helpers" in result.stdout


def test_one_stderr_line_counts_the_files_pat_test_does_not_read(cli, repo):
    result = cli("test", repo, "--data-models", cli.root / "models")
    lines = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert lines == [f"skipped 2 file(s) left unread on purpose: {OUTSIDE_PAT_FOLDERS} (1); {NOT_YAML} (1)"]
    scanned = cli("scan", cli.write("empty.jsonl", "\n"), "-r", repo, "--data-models", cli.root / "models")
    assert any(line.startswith("skipped 2 file(s)") for line in scanned.stderr.splitlines())

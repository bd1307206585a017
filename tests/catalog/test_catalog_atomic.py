"""Atomic Red Team tests as data: derived from atomics YAML, shipped with TokenTrail's evidence notes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokentrail import load_rules
from tokentrail.catalog.atomic import (
    AtomicDataError,
    AtomicResult,
    AtomicTest,
    atomic_coverage,
    atomic_tests_for,
    derive_atomic,
    load_atomic_tests,
    parse_atomic,
    read_evidence,
    write_atomic,
)
from tokentrail.catalog.verify import verify_rules
from tokentrail.cli import app
from tokentrail.content import RULES_DIR
from tokentrail.simulate import SCENARIOS

MICROBURST = "1b83cddb-eaa7-45aa-98a5-85fb0a8807ea"


def _atomics(root: Path, technique: str, body: str) -> None:
    folder = root / "atomics" / technique
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{technique}.yaml").write_text(textwrap.dedent(body), encoding="utf-8")


def _two_tests(technique: str) -> str:
    return f"""\
        attack_technique: {technique}
        display_name: Made-up technique
        atomic_tests:
        - name: Cloud vault sweep
          auto_generated_guid: 00000000-0000-4000-8000-000000000001
          supported_platforms: [iaas:azure]
          executor: {{name: powershell, command: echo}}
        - name: Local only
          auto_generated_guid: 00000000-0000-4000-8000-000000000002
          supported_platforms: [windows]
          executor: {{name: command_prompt, command: echo}}
        """


def test_derive_keeps_cloud_tests_and_remembers_earlier_filing(tmp_path):
    _atomics(tmp_path / "now", "T1555.006", _two_tests("T1555.006"))
    _atomics(tmp_path / "before", "T1528", _two_tests("T1528"))
    build = derive_atomic(tmp_path / "now", earlier=[tmp_path / "before" / "atomics"], commit="abc")
    assert build.problems == ()
    assert build.data["commit"] == "abc"
    [entry] = build.data["tests"]
    assert entry == {"guid": "00000000-0000-4000-8000-000000000001", "name": "Cloud vault sweep",
                     "technique": "T1555.006", "platforms": ["iaas:azure"], "executor": "powershell",
                     "earlier_techniques": ["T1528"]}


def test_unreadable_files_are_reported_and_the_rest_is_kept(tmp_path):
    _atomics(tmp_path, "T1555.006", _two_tests("T1555.006"))
    _atomics(tmp_path, "T1000", "attack_technique: [unclosed\n")
    _atomics(tmp_path, "T1001", "attack_technique: T1001\natomic_tests:\n- name: no guid\n")
    build = derive_atomic(tmp_path)
    assert len(build.data["tests"]) == 1
    assert len(build.problems) == 2
    assert any("T1000.yaml: cannot read" in p for p in build.problems)
    assert any("T1001.yaml: test 1 lacks" in p for p in build.problems)


def test_written_data_round_trips_with_evidence(tmp_path):
    _atomics(tmp_path, "T1555.006", _two_tests("T1555.006"))
    path = write_atomic(derive_atomic(tmp_path).data, tmp_path / "out.json")
    evidence = tmp_path / "evidence.yml"
    evidence.write_text("tests:\n  00000000-0000-4000-8000-000000000001:\n    source: azure\n"
                        "    summary: Sweeps vaults.\n", encoding="utf-8")
    [test] = load_atomic_tests(path, evidence)
    assert test.evidence_source == "azure" and test.evidence_scenario is None
    assert test.description_summary == "Sweeps vaults."
    assert test.url.endswith("/atomics/T1555.006/T1555.006.md")


def test_evidence_for_an_unknown_test_is_an_error(tmp_path):
    _atomics(tmp_path, "T1555.006", _two_tests("T1555.006"))
    path = write_atomic(derive_atomic(tmp_path).data, tmp_path / "out.json")
    evidence = tmp_path / "evidence.yml"
    evidence.write_text("tests:\n  not-a-guid: {source: azure}\n", encoding="utf-8")
    with pytest.raises(AtomicDataError, match="not-a-guid"):
        load_atomic_tests(path, evidence)


@pytest.mark.parametrize("text, message", [
    ("tests: [a, b]\n", "tests` mapping"),
    ("tests:\n  g: {scenario: x}\n", "needs the source"),
    ("tests:\n  g: {colour: red}\n", "expected source"),
])
def test_malformed_evidence_is_an_error(tmp_path, text, message):
    path = tmp_path / "evidence.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AtomicDataError, match=message):
        read_evidence(path)


def test_shipped_data_has_seed_004s_microburst_test_under_t1528():
    tests = load_atomic_tests()
    microburst = next(t for t in tests if t.guid == MICROBURST)
    assert microburst.name == "Azure - Dump All Azure Key Vaults with Microburst"
    assert microburst.platforms == ("iaas:azure",)
    assert microburst.executor == "powershell"
    assert "T1528" in microburst.techniques
    assert microburst.evidence_source == "azure" and microburst.description_summary
    assert microburst in atomic_tests_for("t1528")
    assert microburst not in atomic_tests_for("T1555")


def test_shipped_data_is_cloud_only_and_unique():
    tests = load_atomic_tests()
    assert len(tests) >= 50
    assert len({t.guid for t in tests}) == len(tests)
    platforms = {p for t in tests for p in t.platforms}
    assert {"iaas:aws", "iaas:azure", "iaas:gcp", "azure-ad", "office-365"} <= platforms
    assert all(any(p.startswith("iaas") or p in ("azure-ad", "office-365", "google-workspace", "saas")
                   for p in t.platforms) for t in tests)
    data = json.loads((Path(__file__).parents[2] / "src/tokentrail/content/atomic/atomic-tests.json").read_text())
    assert data["source"] == "redcanaryco/atomic-red-team" and data["commit"]


def test_result_status_distinguishes_gap_from_no_evidence():
    test = parse_atomic({"tests": [{"guid": "g", "name": "n", "technique": "T1", "platforms": ["iaas:aws"],
                                    "executor": "sh"}]})[0]
    assert isinstance(test, AtomicTest)
    assert AtomicResult(test, (), False).status == "no-evidence"
    assert AtomicResult(test, (), True).status == "gap"
    assert AtomicResult(test, ("rule-1",), True).status == "covered"


SWEEP_RULE = RULES_DIR / "sigma" / "azure_key_vault_secret_sweep.yml"
SWEEP_ID = "6b0f4f0e-3c52-4a8e-9d61-2f7e5a9c4b13"


@pytest.fixture(scope="module")
def sweep_rules():
    loaded = load_rules([SWEEP_RULE])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    return loaded.runnable


@pytest.fixture(scope="module")
def azure_verification(sweep_rules):
    return verify_rules(sweep_rules, events=1500, scenarios=[SCENARIOS["azure-key-vault-dump"]])


def test_microburst_is_covered_by_the_sweep_rule_and_others_are_gaps_or_unseen(sweep_rules, azure_verification):
    results = {r.test.guid: r for r in atomic_coverage(sweep_rules, azure_verification)}
    microburst = results[MICROBURST]
    assert microburst.status == "covered" and microburst.firing_rule_ids == (SWEEP_ID,)
    role_to_user = results["1a94b3fc-b080-450a-b3d8-6d9b57b472ea"]  # activity log, no scenario yet
    assert role_to_user.status == "gap" and role_to_user.evidence
    spray = next(r for r in results.values() if r.test.platforms == ("azure-ad",))
    assert spray.status == "no-evidence" and not spray.evidence and spray.firing_rule_ids == ()


def test_without_the_rule_microburst_is_a_gap(azure_verification):
    results = atomic_coverage([], azure_verification)
    assert next(r for r in results if r.test.guid == MICROBURST).status == "gap"


def test_rules_alerting_on_benign_traffic_do_not_cover(tmp_path):
    noisy = tmp_path / "noisy.yml"
    noisy.write_text(textwrap.dedent("""\
        title: Every Key Vault read
        id: 00000000-0000-4000-8000-0000000000b1
        status: test
        level: low
        logsource: {product: azure, service: keyvault}
        detection:
            sel: {operationName: SecretGet}
            condition: sel
        """), encoding="utf-8")
    rules = load_rules([noisy]).runnable
    [result] = atomic_coverage(rules, tests=[t for t in load_atomic_tests() if t.guid == MICROBURST],
                               events=800, seed=3)
    assert result.status == "gap"


def test_an_evidence_scenario_the_simulator_lacks_is_an_error():
    test = parse_atomic({"tests": [{"guid": "g", "name": "n", "technique": "T1528", "platforms": ["iaas:azure"]}]},
                        {"g": {"source": "azure", "scenario": "no-such-scenario"}})
    with pytest.raises(AtomicDataError, match="no-such-scenario"):
        atomic_coverage([], tests=test)


def test_every_shipped_evidence_scenario_exists_and_writes_its_source():
    for test in load_atomic_tests():
        if test.evidence_scenario:
            assert SCENARIOS[test.evidence_scenario].source == test.evidence_source


def _cli(*args: str):
    runner = CliRunner()
    return runner.invoke(app, ["coverage", "--atomic", "-r", str(SWEEP_RULE), "-n", "1000", *args],
                         env={"COLUMNS": "300", "NO_COLOR": "1", "TERM": "dumb"})


def test_cli_atomic_json_marks_each_test():
    result = _cli("--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    tests = {t["guid"]: t for t in data["tests"]}
    assert tests[MICROBURST]["status"] == "covered"
    assert tests[MICROBURST]["rules"] == [{"id": SWEEP_ID, "title": "Azure Key Vault Secrets Swept Across Many "
                                                                     "Vaults By One Identity"}]
    assert tests[MICROBURST]["earlier_techniques"] == ["T1528"]
    assert data["counts"]["covered"] == 1
    assert data["counts"]["gap"] == sum(1 for t in data["tests"] if t["evidence"] and not t["rules"])
    assert data["counts"]["no-evidence"] == sum(1 for t in data["tests"] if not t["evidence"])


def test_cli_atomic_markdown_lists_microburst_under_t1528_as_covered():
    result = _cli("--format", "markdown")
    assert result.exit_code == 0, result.output
    section = result.stdout.split("## T1528\n", 1)[1].split("\n## ", 1)[0]
    row = next(line for line in section.splitlines() if "Microburst" in line)
    assert "✅ covered" in row and "Swept Across Many Vaults" in row and "(now T1555.006)" in row
    gap_rows = [line for line in result.stdout.splitlines() if "❌" in line]
    assert any("adding user to Azure role" in line for line in gap_rows)


def test_cli_atomic_refuses_options_it_cannot_honour():
    result = _cli("--no-verify")
    assert result.exit_code == 2
    assert "--atomic" in result.output


def test_both_role_assignment_tests_are_covered_by_the_subscription_scope_rule():
    rules = load_rules([RULES_DIR / "sigma" / "azure_subscription_role_assignment.yml"]).runnable
    wanted = {"1a94b3fc-b080-450a-b3d8-6d9b57b472ea", "c8f4bc29-a151-48da-b3be-4680af56f404"}
    results = atomic_coverage(rules, tests=[t for t in load_atomic_tests() if t.guid in wanted], events=1200)
    assert {r.test.guid: r.firing_rule_ids for r in results} == {
        guid: ("9c4e1b7a-2f3d-4a6b-8e5c-7d1f0a2b3c4d",) for guid in wanted}


def test_the_tool_writes_the_data_and_reports_unreadable_files(tmp_path):
    import subprocess
    import sys

    tool = Path(__file__).resolve().parents[2] / "tools" / "build_atomic_data.py"
    _atomics(tmp_path / "now", "T1555.006", _two_tests("T1555.006"))
    _atomics(tmp_path / "before", "T1528", _two_tests("T1528"))
    out = tmp_path / "atomic.json"
    done = subprocess.run([sys.executable, str(tool), str(tmp_path / "now"), "--earlier", str(tmp_path / "before"),
                           "--commit", "abc", "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 tests, 1 techniques (iaas:azure 1); 0 file(s) skipped" in done.stdout
    [test] = parse_atomic(json.loads(out.read_text()))
    assert test.techniques == ("T1555.006", "T1528")
    _atomics(tmp_path / "now", "T1000", "attack_technique: [unclosed\n")
    broken = subprocess.run([sys.executable, str(tool), str(tmp_path / "now"), "-o", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1 and "T1000.yaml: cannot read" in broken.stderr
    assert "1 file(s) skipped" in broken.stdout
    missing = subprocess.run([sys.executable, str(tool), str(tmp_path / "nowhere")], capture_output=True,
                             text=True, timeout=120)
    assert missing.returncode == 1 and "not a directory" in missing.stderr

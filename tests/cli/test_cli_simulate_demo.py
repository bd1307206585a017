"""`tokentrail simulate`, `tokentrail demo`, and the bundled pack through the CLI: every scenario
the simulator plays must be caught by the rule it names, and by no other scenario's rule."""

from __future__ import annotations

import json
import re

import pytest
from cli_support import Cli, parse_jsonl

from tokentrail import simulate as sim

SCENARIO_RULES = {sc.rule_id for sc in sim.SCENARIOS.values()}


def log_files(directory):
    return sorted(p.name for p in directory.iterdir())


def test_list_shows_every_scenario_with_its_rule(cli):
    result = cli("simulate", "--list")
    assert result.exit_code == 0
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == len(sim.SCENARIOS) > 0
    for name, scenario in sim.SCENARIOS.items():
        assert any(name in row and scenario.rule_id in row and scenario.source in row for row in rows), name


def test_no_scenario_lists_too(cli):
    assert cli("simulate").stdout == cli("simulate", "--list").stdout


def test_unknown_scenario_exits_2_and_writes_nothing(cli, tmp_path):
    result = cli("simulate", "okta-api-token-created", "no-such-attack", "--out", tmp_path / "sim")
    assert result.exit_code == 2
    assert "unknown scenario(s): no-such-attack" in result.stderr
    assert not (tmp_path / "sim").exists()


@pytest.fixture(scope="module")
def simulated_all(tmp_path_factory):
    """`simulate all --events 2000 --seed 3` and the bundled pack's alerts over its output."""
    root = tmp_path_factory.mktemp("sim")
    cli = Cli(root)
    made = cli("simulate", "all", "--events", "2000", "--seed", "3", "--out", root / "out")
    scanned = cli("scan", root / "out", "--format", "json")
    return root / "out", made, scanned


def test_simulate_all_writes_one_file_per_source(simulated_all):
    out, made, _ = simulated_all
    assert made.exit_code == 0, made.stderr
    printed = dict(line.split(": ", 1) for line in made.stdout.splitlines())
    assert set(printed) >= {"okta", "auth0", "salesforce"}
    assert sorted(printed.values()) == sorted(str(out / name) for name in log_files(out))
    for path in printed.values():
        with open(path, "rb") as fh:
            assert sum(1 for _ in fh) > 10, path


def test_simulate_all_is_caught_by_the_bundled_pack(simulated_all):
    _, _, scanned = simulated_all
    assert scanned.exit_code == 0, scanned.stderr
    doc = json.loads(scanned.stdout)
    fired = {a["rule_id"] for a in doc["alerts"]}
    assert fired >= SCENARIO_RULES, sorted(SCENARIO_RULES - fired)
    summary = doc["summary"]
    assert summary["events_skipped"] == 0 and summary["rule_load_errors"] == 0 and summary["rule_errors"] == 0
    assert summary["alerts"] == len(doc["alerts"])
    # The simulator's volume knob is approximate, not wild.
    assert 1000 <= summary["events_read"] <= 6000


def test_same_seed_same_logs(cli, simulated_all, tmp_path):
    out, _, _ = simulated_all
    again = tmp_path / "again"
    assert cli("simulate", "all", "--events", "2000", "--seed", "3", "--out", again).exit_code == 0
    assert log_files(again) == log_files(out)
    for name in log_files(out):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_other_seed_other_logs(cli, simulated_all, tmp_path):
    out, _, _ = simulated_all
    other = tmp_path / "other"
    assert cli("simulate", "all", "--events", "2000", "--seed", "4", "--out", other).exit_code == 0
    assert (other / "okta.jsonl").read_bytes() != (out / "okta.jsonl").read_bytes()


@pytest.mark.parametrize("name", sorted(sim.SCENARIOS))
def test_each_scenario_fires_its_rule_and_no_other_scenario_rule(cli, tmp_path, name):
    out = tmp_path / name
    assert cli("simulate", name, "--events", "300", "--seed", "3", "--out", out).exit_code == 0
    result = cli("scan", out, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    fired = {a["rule_id"] for a in parse_jsonl(result.stdout)}
    assert fired & SCENARIO_RULES == {sim.SCENARIOS[name].rule_id}


def test_benign_traffic_fires_no_scenario_rule(cli, tmp_path):
    out = tmp_path / "benign"
    assert cli("simulate", "benign", "--events", "1500", "--seed", "3", "--out", out).exit_code == 0
    result = cli("scan", out, "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"]["events_read"] > 500
    assert {a["rule_id"] for a in doc["alerts"]} & SCENARIO_RULES == set()


def test_demo(cli, tmp_path):
    out = tmp_path / "demo"
    result = cli("demo", "--out", out, "--events", "3000")
    assert result.exit_code == 0, result.stderr
    alerts = parse_jsonl((out / "alerts.jsonl").read_text())
    m = re.search(r"(\d+) events scanned with (\d+) bundled rules: (\d+) alert\(s\)\.", result.stdout)
    assert m, result.stdout
    assert int(m.group(3)) == len(alerts) > 0
    assert f"{len(alerts)} alert(s)" in result.stdout  # the table's title
    assert {a["rule_id"] for a in alerts} >= SCENARIO_RULES
    assert f"alerts (JSON lines): {out / 'alerts.jsonl'}" in result.stdout
    assert {"okta.jsonl", "auth0.jsonl", "salesforce.jsonl", "azure.jsonl"} == set(log_files(out / "logs"))
    # The demo's alerts are what a plain scan of its logs directory gives.
    rescan = cli("scan", out / "logs", "--format", "jsonl")
    # (JSON lines leave in the order alerts become final; the demo file is sorted by time.)
    assert sorted(a["id"] for a in parse_jsonl(rescan.stdout)) == sorted(a["id"] for a in alerts)


def test_bundled_pack_validates_and_its_tests_pass(cli, tmp_path):
    validated = cli("rules", "validate")
    assert validated.exit_code == 0, validated.stderr
    assert re.search(r"(\d+) rule\(s\) loaded, \1 runnable, 0 problem\(s\)", validated.stdout), validated.stdout
    report = tmp_path / "bundled.xml"
    tested = cli("test", "--junit", report)
    assert tested.exit_code == 0, tested.stdout
    assert " 0 failed" in tested.stdout
    listed = json.loads(cli("rules", "list", "--format", "json").stdout)
    assert {row["id"] for row in listed} >= SCENARIO_RULES
    assert all(row["format"] in ("sigma", "elastic") for row in listed)  # no Python without -r

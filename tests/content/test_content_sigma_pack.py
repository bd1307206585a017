"""The bundled Sigma rule pack: well-formed, tested, and in step with the simulator's scenarios."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest
from sigma.collection import SigmaCollection

import tokentrail
from tokentrail.engine import scan_events
from tokentrail.engine.testing import run_rule_tests
from tokentrail.rules.loader import load_rules
from tokentrail.rules.model import Correlation, Rule
from tokentrail.simulate import SCENARIOS, generate, generate_items

PACK = Path(tokentrail.__file__).parent / "content" / "rules" / "sigma"
PRODUCTS = {"okta", "auth0", "salesforce", "azure"}


@pytest.fixture(scope="module")
def rules() -> tuple[Rule, ...]:
    result = load_rules([PACK])
    assert not result.errors, [str(e) for e in result.errors]
    return result.rules


def _correlation_steps(rules) -> set[str]:
    """Names and ids of rules that only feed a correlation."""
    refs = set()
    for rule in rules:
        if isinstance(rule.logic, Correlation):
            refs |= {s.rule_ref for s in rule.logic.steps if s.rule_ref}
    return refs


def _is_step(rule: Rule, steps: set[str]) -> bool:
    return rule.id in steps or (rule.name or "") in steps


def _scenario_rules(rules) -> list[Rule]:
    steps = _correlation_steps(rules)
    return [r for r in rules if not _is_step(r, steps)]


def test_every_file_is_valid_sigma():
    files = sorted(PACK.glob("*.yml"))
    assert len(files) >= 12
    for path in files:
        collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), collect_errors=True)
        collection.resolve_rule_references()
        assert not [e for r in collection for e in r.errors], path.name


def test_rules_carry_complete_metadata(rules):
    assert len({r.id for r in rules}) == len(rules)
    for rule in rules:
        assert str(uuid.UUID(rule.id)) == rule.id, rule.title
        assert rule.runnable, rule.title
        assert rule.metadata.get("author") == "TokenTrail", rule.title
        assert rule.metadata.get("date"), rule.title
        assert rule.description and rule.false_positives and rule.status, rule.title
        assert rule.techniques, rule.title
        tests = rule.tests
        assert len(tests) >= 2, rule.title
        assert any(t.expected for t in tests) and any(not t.expected for t in tests), rule.title
        if not isinstance(rule.logic, Correlation):
            assert rule.logsource.product in PRODUCTS, rule.title


def test_alerting_rules_name_output_fields_and_a_scenario(rules):
    scenario_rules = _scenario_rules(rules)
    assert len(scenario_rules) >= 12
    for rule in scenario_rules:
        assert rule.metadata.get("scenario"), rule.title
        if not isinstance(rule.logic, Correlation):
            assert rule.output_fields, rule.title


def test_scenarios_and_rules_map_one_to_one(rules):
    by_scenario = {r.metadata["scenario"]: r for r in _scenario_rules(rules)}
    assert set(by_scenario) == set(SCENARIOS)
    for name, scenario in SCENARIOS.items():
        assert by_scenario[name].id == scenario.rule_id, name


def test_pack_covers_the_required_detections(rules):
    text = "\n".join(p.read_text(encoding="utf-8") for p in PACK.glob("*.yml"))
    for needle in (
        "system.api_token.create",
        "system.api_token.revoke",
        "Get client by ID",
        "OAuthTokenRefreshFailed",
        "app.oauth2.as.token.detect_reuse",
        "app.oauth2.as.consent.grant",
        "app.oauth2.client.privilege.grant",
        "ferrt",
        "rotate-secret",
    ):
        assert needle in text, needle
    # Realistic use of Sigma: modifiers, 1 of, filters, and at least one correlation.
    for feature in (
        "|contains",
        "|startswith",
        "|endswith",
        "|cidr",
        "|re",
        "1 of selection_",
        "and not filter_",
    ):
        assert feature in text, feature
    assert any(isinstance(r.logic, Correlation) for r in rules)
    products = Counter(r.logsource.product for r in rules if not isinstance(r.logic, Correlation))
    assert set(products) == PRODUCTS


def test_correlation_tests_are_attached_as_rule_tests(rules):
    correlations = [r for r in rules if isinstance(r.logic, Correlation)]
    assert correlations
    for rule in correlations:
        assert "tests" not in rule.metadata, rule.title
        assert all(isinstance(t.event.get("events"), list) and t.event["events"] for t in rule.tests)


def test_embedded_rule_tests_pass(rules):
    results = run_rule_tests(rules)
    assert len(results) == sum(len(r.tests) for r in rules)
    assert any(isinstance(r.logic, Correlation) for r in rules if r.tests)
    failed = [f"{t.rule_title} / {t.name}: {t.detail or t.actual}" for t in results if not t.passed]
    assert not failed


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_fires_its_rule_and_no_other(rules, name):
    scenario = SCENARIOS[name]
    result = scan_events(rules, generate([name], events=1500, seed=31), keep_matches=False)
    fired = Counter(a.rule_id for a in result.alerts)
    assert fired[scenario.rule_id] >= 1
    assert set(fired) == {scenario.rule_id}


@pytest.mark.parametrize("seed", [1, 2])
def test_benign_traffic_raises_no_alert(rules, seed):
    result = scan_events(rules, generate(["benign"], events=60_000, seed=seed), keep_matches=False)
    assert not result.rule_errors
    assert result.alerts == [], Counter(a.title for a in result.alerts)


def test_all_scenarios_in_one_run_fire_inside_the_benign_traffic(rules):
    items = list(generate_items(["all"], events=40_000, seed=77))
    result = scan_events(rules, (e for _, _, e in items), keep_matches=False)
    fired = {a.rule_id for a in result.alerts}
    assert fired == {s.rule_id for s in SCENARIOS.values()}
    first, last = items[0][0] / 1000, items[-1][0] / 1000  # alert times are epoch seconds
    for alert in result.alerts:
        assert alert.first_time is not None and first < alert.first_time < last

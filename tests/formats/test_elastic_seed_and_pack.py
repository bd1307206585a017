"""Seed 001 (Okta API token creation) as an Elastic TOML rule, and the bundled Elastic pack."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seed_docs import seed_text
from tokentrail.engine import scan_events
from tokentrail.engine.testing import run_rule_tests
from tokentrail.formats.elastic import ElasticFormat
from tokentrail.rules.loader import LoadContext, load_rules
from tokentrail.rules.model import Correlation

REPO = Path(__file__).resolve().parents[2]
SEED_RULE = REPO / "tests" / "data" / "elastic" / "okta_api_token_create.toml"
PACK = REPO / "src" / "tokentrail" / "content" / "rules" / "elastic"


@pytest.fixture(scope="module")
def seed_rule():
    (rule,) = ElasticFormat().load(SEED_RULE, LoadContext())
    return rule


def okta_event(uuid: str, event_type: str) -> dict:
    return {
        "uuid": uuid, "published": "2025-01-20T09:30:00.000Z", "eventType": event_type,
        "version": "0", "severity": "INFO", "displayMessage": "Create API token",
        "actor": {"id": "00u1abcd", "type": "User", "alternateId": "admin@example.com",
                  "displayName": "Ada Admin"},
        "client": {"ipAddress": "203.0.113.9", "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
        "outcome": {"result": "SUCCESS"},
        "target": [{"id": "00T1", "type": "Token", "displayName": "ci-token"}],
    }


def ecs_event(event_id: str, action: str) -> dict:
    return {
        "@timestamp": "2025-01-20T09:30:00.000Z",
        "event": {"dataset": "okta.system", "module": "okta", "action": action, "id": event_id},
        "okta": {"actor": {"id": "00u1abcd", "alternate_id": "admin@example.com"},
                 "outcome": {"result": "SUCCESS"}},
        "source": {"ip": "203.0.113.9"},
    }


def test_seed_rule_carries_the_seed_facts(seed_rule):
    seed = seed_text("001")
    assert seed_rule.title in seed
    assert seed_rule.metadata["query"].strip() in seed
    assert seed_rule.metadata["risk_score"] == 47 and "Risk score: 47" in seed
    assert seed_rule.severity == "medium"
    assert seed_rule.tactics == ("TA0003",) and seed_rule.techniques == ("T1136",)
    assert seed_rule.log_types == ("okta", "ecs.okta")
    assert set(seed_rule.references) == set(re.findall(r"^- (https://\S+)$", seed, re.M))
    # Every line of the seed's investigation guide is in the rule's note.
    guide = seed[seed.index("Investigating Attempt"):seed.index("event.dataset:okta.system and event.action")]
    note = seed_rule.metadata["note"]
    for line in filter(None, (ln.strip() for ln in guide.splitlines())):
        assert line in note


def test_seed_rule_fires_on_native_and_ecs_events(seed_rule):
    events = [
        okta_event("native-create", "system.api_token.create"),
        okta_event("native-revoke", "system.api_token.revoke"),
        ecs_event("ecs-create", "system.api_token.create"),
        ecs_event("ecs-revoke", "system.api_token.revoke"),
        {"@timestamp": "2025-01-20T09:31:00Z", "event.dataset": "okta.system",
         "event.action": "system.api_token.create", "event.id": "dotted-create"},
    ]
    result = scan_events([seed_rule], events)
    assert not result.rule_errors and not result.load_errors
    fired = sorted(e for alert in result.alerts for e in alert.event_ids)
    assert fired == ["dotted-create", "ecs-create", "native-create"]


def test_seed_rule_is_case_sensitive_like_elasticsearch(seed_rule):
    result = scan_events([seed_rule], [okta_event("upper", "SYSTEM.API_TOKEN.CREATE")])
    assert result.alerts == []


def test_bundled_pack_loads_and_covers_every_rule_kind():
    result = load_rules([PACK], formats=[ElasticFormat()])
    assert result.errors == ()
    assert len(result.rules) >= 4
    kinds = {r.metadata["rule_type"] for r in result.rules}
    assert kinds >= {"query", "eql", "threshold", "new_terms"}
    assert any(isinstance(r.logic, Correlation) for r in result.rules)
    for rule in result.rules:
        assert rule.runnable, rule.unsupported
        assert rule.techniques and rule.tactics and rule.metadata.get("note")
        assert len(rule.tests) >= 3, rule.path
        assert {t.expected for t in rule.tests} == {True, False}, rule.path


def test_bundled_pack_tests_pass():
    rules = load_rules([PACK], formats=[ElasticFormat()]).rules
    results = run_rule_tests(rules)
    failures = [(r.rule_title, r.name, r.detail) for r in results if not r.passed]
    assert results and failures == []

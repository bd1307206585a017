"""Seed 002: the Panther rule for Salesforce OAuth credential abuse, loaded from the seed itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from seed_docs import seed_text
from tokentrail.formats.panther import run_panther_tests
from tokentrail.formats.panther.shims.panther_detection_helpers import caching
from tokentrail.rules.loader import load_rules

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "src" / "tokentrail" / "content" / "rules" / "panther"
CONTEXT_FIELDS = [
    "EVENT_TYPE",
    "USER_ID",
    "USER_NAME",
    "CONNECTED_APP_ID",
    "CONNECTED_APP_NAME",
    "CLIENT_ID",
    "CLIENT_NAME",
    "SOURCE_IP",
    "STATUS",
    "API_TOTAL_COUNT",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "SESSION_KEY",
]


def seed_yaml() -> str:
    text = seed_text("002")
    return text.split("Rule body yaml", 1)[1].split("Detection logic", 1)[0].strip("\n") + "\n"


@pytest.fixture()
def seed_rule(tmp_path: Path):
    (tmp_path / "seed.yml").write_text(seed_yaml())
    shutil.copy(PACK / "salesforce_oauth_credential_abuse.py", tmp_path)
    result = load_rules([tmp_path / "seed.yml"])
    assert result.errors == ()
    [rule] = result.rules
    return rule


def test_bundled_yaml_is_the_seed_verbatim() -> None:
    assert (PACK / "salesforce_oauth_credential_abuse.yml").read_text(encoding="utf-8") == seed_yaml()


def test_seed_metadata(seed_rule) -> None:
    rule = seed_rule
    assert rule.id == "Salesforce.OAuth.Credential.Abuse"
    assert rule.title == "Salesforce OAuth Credential Abuse Detection"
    assert rule.severity == "medium" and rule.runnable
    assert rule.metadata["panther_log_types"] == ("Salesforce.RealtimeEvent",)
    assert rule.log_types == ("salesforce", "salesforce.rtem")
    assert (rule.grouping.window, rule.grouping.threshold) == (3600, 1)
    assert rule.tactics == ("TA0006", "TA0005", "TA0010")
    assert rule.techniques == ("T1528", "T1110", "T1550", "T1020")
    assert rule.tags == ("Salesforce", "OAuth", "Credential Abuse", "Token Theft", "API Abuse")
    assert [o.label for o in rule.output_fields] == CONTEXT_FIELDS
    assert len(rule.tests) == 5


def test_seed_tests_pass(seed_rule) -> None:
    outcomes = run_panther_tests([seed_rule])
    assert [o.name for o in outcomes] == [t.name for t in seed_rule.tests]
    failures = [(o.name, o.detail) for o in outcomes if not o.passed]
    assert failures == []


def test_seed_severity_title_dedup_and_context(seed_rule) -> None:
    outcomes = {o.name: o.outputs for o in run_panther_tests([seed_rule])}
    assert outcomes["OAuth Token Revoked - High Severity"]["severity"] == "high"
    assert outcomes["OAuth Token Refresh Failed - Medium Severity"]["severity"] == "medium"
    assert outcomes["Excessive API Usage - High Severity"]["severity"] == "high"
    assert outcomes["Normal OAuth Usage - Default Severity"]["severity"] == "medium"  # DEFAULT
    revoked = outcomes["OAuth Token Revoked - High Severity"]
    assert revoked["dedup"] == "0H05f000000XzDqEEN:0055f00000RzTCE"
    assert "CompromisedApp" in revoked["title"] and "revoked" in revoked["title"]
    assert list(revoked["context"]) == CONTEXT_FIELDS
    assert revoked["context"]["SOURCE_IP"] == "10.10.10.10"  # YAML 1.2: an IP stays a string
    assert revoked["context"]["CLIENT_NAME"] is None
    assert outcomes["Excessive API Usage - High Severity"]["context"]["API_TOTAL_COUNT"] == 15000


def test_any_event_type_mentioning_oauth_matches(seed_rule) -> None:
    detection = seed_rule.logic.load()
    assert detection.matches({"EVENT_TYPE": "ConnectedAppOauthPolicyChange"})
    assert not detection.matches({"EVENT_TYPE": "LoginEvent"})
    assert not detection.matches({})


def test_seed_rule_alerts_through_the_engine(seed_rule) -> None:
    from tokentrail.engine import scan_events

    events = [dict(t.event) for t in seed_rule.tests]
    with caching.isolated_state():
        result = scan_events([seed_rule], events)
    assert result.rule_errors == [] and result.load_errors == []
    assert sorted(a.severity for a in result.alerts) == ["high", "high", "medium", "medium"]
    keys = {a.group_key for a in result.alerts}
    assert ("0H05f000000XzFsGGP:0055f00000TzVEG",) in keys
    revoked = next(a for a in result.alerts if a.severity == "high" and "revoked" in a.title)
    assert revoked.fields["CONNECTED_APP_NAME"] == "CompromisedApp"


def test_seed_rule_fires_in_a_scan_of_simulated_salesforce_logs(seed_rule, tmp_path: Path) -> None:
    from tokentrail.api import scan
    from tokentrail.simulate import SCENARIOS, write_logs

    attack = write_logs(tmp_path / "attack", ["salesforce-oauth-credential-abuse"], 3000, 5,
                        sources=("salesforce",))
    benign = write_logs(tmp_path / "benign", ["benign"], 3000, 5, sources=("salesforce",))
    hit = scan([attack["salesforce"]], [seed_rule], workers=1)
    quiet = scan([benign["salesforce"]], [seed_rule], workers=1)
    assert SCENARIOS["salesforce-oauth-credential-abuse"].source == "salesforce"
    assert hit.alerts and hit.rule_errors == []
    assert {a.rule_id for a in hit.alerts} == {"Salesforce.OAuth.Credential.Abuse"}
    assert {a.fields["EVENT_TYPE"] for a in hit.alerts} >= {"OAuthTokenRevoked"}
    assert quiet.alerts == []

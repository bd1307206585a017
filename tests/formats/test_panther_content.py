"""TokenTrail's bundled Panther rules: they load, pass their own tests, and work on sequences of
events with real cache state (no mocks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tokentrail.formats.panther import run_panther_tests
from tokentrail.formats.panther.shims.panther_detection_helpers import caching
from tokentrail.rules.loader import load_rules

PACK = Path(__file__).resolve().parents[2] / "src" / "tokentrail" / "content" / "rules" / "panther"


@pytest.fixture(scope="module")
def pack():
    result = load_rules([PACK])
    assert result.errors == ()
    return {r.id: r for r in result.rules}


@pytest.fixture(autouse=True)
def fresh_cache():
    with caching.isolated_state():
        yield


def test_pack_has_our_own_tested_rules(pack) -> None:
    own = [r for r in pack.values() if r.id.startswith("TokenTrail.") and r.runnable]
    assert len(own) >= 4
    assert all(len(r.tests) >= 3 and any(t.expected for t in r.tests) for r in own)
    assert all("T1528" in r.techniques or "T1539" in r.techniques for r in own)
    assert pack["TokenTrail.Okta.SystemLog"].metadata["analysis_type"] == "datamodel"


def test_pack_tests_pass(pack) -> None:
    outcomes = run_panther_tests(pack.values())
    assert len(outcomes) >= 20
    assert [(o.rule_id, o.name, o.detail) for o in outcomes if not o.passed] == []


def okta(minute: int, event_type: str, ip: str, agent: str = "Mozilla/5.0", **extra: Any) -> dict:
    event = {
        "uuid": f"evt-{minute}",
        "published": f"2024-05-01T{minute // 60:02d}:{minute % 60:02d}:00.000Z",
        "eventType": event_type,
        "outcome": {"result": "SUCCESS"},
        "actor": {"id": "00u1admin", "type": "User", "alternateId": "admin@example.com"},
        "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": agent}},
    }
    event.update(extra)
    return event


def test_okta_api_token_used_from_an_unfamiliar_ip(pack) -> None:
    det = pack["TokenTrail.Okta.APIToken.UnfamiliarIP"].logic.load()
    used = {"transaction": {"detail": {"requestApiTokenId": "00Tci"}}}
    assert not det.matches(okta(0, "user.session.start", "198.51.100.7"))
    assert not det.matches(
        okta(
            5,
            "system.api_token.create",
            "198.51.100.7",
            target=[{"id": "00Tci", "type": "Token", "displayName": "ci"}],
        )
    )
    assert not det.matches(okta(10, "user.lifecycle.activate", "198.51.100.7", **used))
    stolen = okta(20, "user.account.privilege.grant", "203.0.113.66", **used)
    assert det.matches(stolen)
    described = det.describe(stolen)
    assert described["severity"] == "critical"
    assert described["context"]["usual_ips"] == ["198.51.100.7"]
    assert described["context"]["token_owner"] == "admin@example.com"
    # a token nobody saw being created has no baseline
    assert not det.matches(
        okta(
            30,
            "user.lifecycle.activate",
            "203.0.113.66",
            transaction={"detail": {"requestApiTokenId": "00Tother"}},
        )
    )


def test_okta_session_reused_elsewhere_and_expiry(pack) -> None:
    det = pack["TokenTrail.Okta.Session.ReusedElsewhere"].logic.load()
    session = {"debugContext": {"debugData": {"dtHash": "abc123"}}}
    assert not det.matches(okta(0, "user.session.start", "198.51.100.7", **session))
    assert not det.matches(okta(5, "app.access", "203.0.113.9", **session))  # same browser
    assert det.matches(okta(6, "app.access", "203.0.113.9", agent="curl/8.4.0", **session))
    # 13 hours later the first sighting has expired: this event starts a new record
    assert not det.matches(okta(13 * 60, "app.access", "192.0.2.1", agent="Other/1.0", **session))


def auth0(log_type: str, ip: str, **extra: Any) -> dict:
    return {"date": "2024-07-01T10:00:00.000Z", "type": log_type, "ip": ip, **extra}


def test_auth0_secret_read_then_used_from_new_ip(pack) -> None:
    det = pack["TokenTrail.Auth0.ClientSecret.ReadThenUsedFromNewIP"].logic.load()
    exchange = {"client_id": "cli1", "client_name": "billing"}
    assert not det.matches(auth0("seccft", "192.0.2.44", **exchange))  # no secret read yet
    assert not det.matches(
        auth0(
            "mgmt_api_read",
            "198.51.100.20",
            description="Get client by ID",
            user_id="auth0|admin",
            details={"accessedSecrets": ["client_secret"], "response": {"body": {"client_id": "cli1"}}},
        )
    )
    assert not det.matches(auth0("seccft", "192.0.2.44", **exchange))  # a known IP
    stream_form = {"log_id": "1", "data": auth0("seccft", "203.0.113.91", **exchange)}
    assert det.matches(stream_form)
    assert det.describe(stream_form)["context"]["secret_read_by"] == "auth0|admin"
    assert not det.matches(auth0("seccft", "203.0.113.91", **exchange))  # now known


def salesforce(event_type: str, ip: str, session: str | None = "sk-1") -> dict:
    event = {
        "EVENT_TYPE": event_type,
        "TIMESTAMP_DERIVED": "2024-08-20 14:00:00.000",
        "USER_NAME": "sam@example.com",
        "SOURCE_IP": ip,
    }
    if session:
        event["SESSION_KEY"] = session
    return event


def test_salesforce_session_key_replay(pack) -> None:
    det = pack["TokenTrail.Salesforce.SessionKey.Replay"].logic.load()
    assert not det.matches(salesforce("LoginEvent", "198.51.100.30"))
    assert not det.matches(salesforce("ApiEvent", "198.51.100.30"))
    assert not det.matches(salesforce("ApiEvent", "203.0.113.1", session=None))  # inline filter
    replay = salesforce("ApiEvent", "203.0.113.150")
    assert det.matches(replay)
    assert det.describe(replay)["severity"] == "critical"
    assert det.describe(salesforce("ReportEvent", "203.0.113.150"))["severity"] == "high"


@pytest.mark.parametrize("missing", [None, ""])
def test_salesforce_session_replay_ignores_events_without_a_session_key(pack, missing) -> None:
    # rule() itself, past the InlineFilters: a copy of the rule without them must stay quiet too.
    det = pack["TokenTrail.Salesforce.SessionKey.Replay"].logic.load()
    keyless = salesforce("ApiEvent", "198.51.100.30", session=None)
    if missing is not None:
        keyless["SESSION_KEY"] = missing
    elsewhere = {**keyless, "SOURCE_IP": "203.0.113.150"}
    assert det.module.rule(keyless) is False
    assert det.module.rule(elsewhere) is False  # not "the same session" under key "None"
    assert not caching.get_dictionary(f"salesforce.session:{missing}")

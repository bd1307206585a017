"""The Auth0 collector against the Auth0 imitation: checkpoint paging by log_id, the first start
by search, client-credentials tokens cached until expiry, 429 waits, auth failures, secrets."""

from __future__ import annotations

import httpx
import orjson
import pytest

from collect_support import TOKEN, FakeTime, ids, simulated, until_caught_up
from tokentrail.errors import ConfigError
from tokentrail.schemas.detect import detect_log_type
from tokentrail.sources.collectors.auth0 import Auth0LogCollector
from tokentrail.sources.collectors.http import CollectorAuthError
from tokentrail.sources.imitate import FaultPlan, running
from tokentrail.sources.imitate.auth0 import api_form, auth0_app

EVENTS = tuple(api_form(e) for e in simulated("auth0"))
ORDERED = sorted(EVENTS, key=lambda e: e["log_id"])
CLIENT = ("m2m-client-id", "m2m-client-secret-0b9f")


def collector(url: str, fake: FakeTime, **kw) -> Auth0LogCollector:
    if "client_id" not in kw:
        kw.setdefault("token", TOKEN)
    return Auth0LogCollector(url, timing=fake.timing(), poll_interval=5.0, **kw)


def test_checkpoint_paging_delivers_every_log_once_in_log_id_order(fake_time):
    with running(auth0_app(simulated("auth0"), tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time))
    assert ids(batches, "log_id") == [e["log_id"] for e in ORDERED]
    assert all(len(b.events) <= 100 for b in batches) and batches[-1].caught_up
    assert {detect_log_type(e) for b in batches for e in b.events} == {"auth0.api"}
    assert orjson.loads(batches[-1].checkpoint) == {"source": "auth0", "from": ORDERED[-1]["log_id"]}


def test_the_api_answers_by_checkpoint_with_link_next_and_an_empty_array_at_the_end():
    with running(auth0_app(EVENTS, tokens=[TOKEN])) as srv:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        first = httpx.get(f"{srv.url}/api/v2/logs", params={"from": ORDERED[0]["log_id"], "take": 3}, headers=auth)
        assert [e["log_id"] for e in first.json()] == [e["log_id"] for e in ORDERED[1:4]]
        assert first.links["next"]["url"].endswith(f"from={ORDERED[3]['log_id']}&take=3")
        assert int(first.headers["x-ratelimit-remaining"]) < int(first.headers["x-ratelimit-limit"])
        end = httpx.get(f"{srv.url}/api/v2/logs", params={"from": ORDERED[-1]["log_id"]}, headers=auth)
        assert end.status_code == 200 and end.content == b"[]"


def test_since_starts_by_search_then_goes_on_by_checkpoint(fake_time):
    cut = ORDERED[200]["date"]
    with running(auth0_app(EVENTS, tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, since=cut))
    assert ids(batches, "log_id") == [e["log_id"] for e in ORDERED if e["date"] >= cut]


def test_resume_from_any_checkpoint_gives_the_rest_exactly_once(fake_time):
    want = [e["log_id"] for e in ORDERED]
    with running(auth0_app(EVENTS, tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, batch_size=40))
        seen = 0
        for batch in batches[:-1]:
            seen += len(batch.events)
            rest = until_caught_up(collector(srv.url, fake_time), batch.checkpoint)
            assert ids(rest, "log_id") == want[seen:]


def test_an_empty_tenant_is_caught_up_and_resumes_from_the_same_since(fake_time):
    with running(auth0_app([], tokens=[TOKEN])) as srv:
        first, = until_caught_up(collector(srv.url, fake_time, since="2025-01-06T00:00:00Z"))
        assert first.events == () and orjson.loads(first.checkpoint)["since"] == "2025-01-06T00:00:00.000Z"
        srv_store = srv.server.config.app.state.store
        srv_store.extend(EVENTS[:5])
        again = until_caught_up(collector(srv.url, fake_time), first.checkpoint)
    assert sorted(ids(again, "log_id")) == sorted(e["log_id"] for e in EVENTS[:5])


def test_client_credentials_token_is_cached_until_it_expires(fake_time):
    app = auth0_app(EVENTS, client=CLIENT, token_ttl=3600, clock=fake_time.clock)
    at_end = orjson.dumps({"source": "auth0", "from": ORDERED[-1]["log_id"]}).decode()
    with running(app) as srv:
        c = collector(srv.url, fake_time, client_id=CLIENT[0], client_secret=CLIENT[1], take=50)
        assert ids(until_caught_up(c), "log_id") == [e["log_id"] for e in ORDERED]
        assert app.state.tokens.issued == 1  # one token for the ten requests
        fake_time.now += 3000
        until_caught_up(c, at_end)
        assert app.state.tokens.issued == 1  # still cached
        fake_time.now += 600  # past its hour (less the margin): fetched again before the request
        until_caught_up(c, at_end)
        assert app.state.tokens.issued == 2


def test_a_401_on_a_cached_token_fetches_a_new_one_once(fake_time):
    app = auth0_app(EVENTS, client=CLIENT, token_ttl=3600, clock=fake_time.clock)
    with running(app) as srv:
        c = collector(srv.url, fake_time, client_id=CLIENT[0], client_secret=CLIENT[1])
        until_caught_up(c, max_batches=1)
        app.state.tokens.revoke_all()
        batches = until_caught_up(c)
    assert app.state.tokens.issued == 2 and ids(batches, "log_id") == [e["log_id"] for e in ORDERED]


def test_wrong_client_secret_is_one_clear_error_without_the_secret(fake_time):
    with running(auth0_app(EVENTS, client=CLIENT)) as srv:
        with pytest.raises(CollectorAuthError) as caught:
            until_caught_up(collector(srv.url, fake_time, client_id=CLIENT[0], client_secret="not-" + CLIENT[1]))
        message = str(caught.value)
        assert "refused the credentials (401" in message and "access_denied" in message
        assert CLIENT[1] not in message and "\n" not in message
        with pytest.raises(CollectorAuthError, match="401"):
            until_caught_up(collector(srv.url, fake_time, token="stale-" + TOKEN))


def test_429_waits_for_the_x_ratelimit_reset(fake_time):
    plan = FaultPlan(schedule=((1, "429"), (3, "5xx")), reset_after=12)
    with running(auth0_app(EVENTS, tokens=[TOKEN], faults=plan, clock=fake_time.clock)) as srv:
        batches = until_caught_up(collector(srv.url, fake_time))
    assert ids(batches, "log_id") == [e["log_id"] for e in ORDERED]
    assert 12 <= fake_time.sleeps[0] <= 13 and 1 <= fake_time.sleeps[1] <= 2


def test_secrets_never_reach_checkpoints(fake_time):
    with running(auth0_app(EVENTS, client=CLIENT)) as srv:
        c = collector(srv.url, fake_time, client_id=CLIENT[0], client_secret=CLIENT[1])
        batches = until_caught_up(c)
    text = "".join(b.checkpoint + "".join(b.rejected) for b in batches)
    assert all(secret not in text for secret in c.token.secrets()) and len(c.token.secrets()) == 2


def test_configuration_errors():
    with pytest.raises(ConfigError, match="needs a token, or a client id"):
        Auth0LogCollector("tenant.auth0.com")
    with pytest.raises(ConfigError, match="must use https"):
        Auth0LogCollector("http://tenant.auth0.com", token=TOKEN)
    assert Auth0LogCollector("tenant.eu.auth0.com", token=TOKEN).audience == "https://tenant.eu.auth0.com/api/v2/"

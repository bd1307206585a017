"""The Okta collector against the Okta imitation on 127.0.0.1: paging by the Link next URL,
resume, back-off on 429/5xx/cut-off bodies (fake clock), auth failure, bounded pages, secrets."""

from __future__ import annotations

import threading

import httpx
import orjson
import pytest

from collect_support import TOKEN, FakeTime, ids, simulated, until_caught_up
from tokentrail.errors import ConfigError
from tokentrail.schemas.detect import detect_log_type
from tokentrail.sources.collectors.http import Backoff, CollectorAuthError, CollectorError
from tokentrail.sources.collectors.okta import OktaLogCollector
from tokentrail.sources.imitate import FaultPlan, running
from tokentrail.sources.imitate.okta import okta_app, okta_key
from tokentrail.sources.limits import ReadLimits

EVENTS = simulated("okta")


def in_order(events) -> list[str]:
    return [e["uuid"] for e in sorted(events, key=okta_key)]


def collector(url: str, fake: FakeTime, **kw) -> OktaLogCollector:
    kw.setdefault("limit", 200)
    return OktaLogCollector(url, kw.pop("token", TOKEN), timing=fake.timing(), poll_interval=5.0, **kw)


def test_pages_deliver_every_event_once_in_order(fake_time):
    with running(okta_app(EVENTS, tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time))
    assert ids(batches, "uuid") == in_order(EVENTS)
    assert all(len(b.events) <= 200 for b in batches)
    assert [b.caught_up for b in batches].count(True) == 1 and batches[-1].caught_up
    assert len(batches) == len(EVENTS) // 200 + 1
    assert {detect_log_type(e) for b in batches for e in b.events} == {"okta"}


def test_empty_log_is_caught_up_with_a_next_url_to_poll(fake_time):
    with running(okta_app([], tokens=[TOKEN])) as srv:
        first, = until_caught_up(collector(srv.url, fake_time, since="2025-01-01T00:00:00Z"))
        assert first.events == () and first.caught_up
        state = orjson.loads(first.checkpoint)
        assert state["next"].startswith(srv.url + "/api/v1/logs?") and "since=2025-01-01" in state["next"]


def test_since_is_exclusive_and_limits_the_first_start(fake_time):
    ordered = sorted(EVENTS, key=okta_key)
    cut = ordered[500]["published"]
    with running(okta_app(EVENTS, tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, since=cut))
    assert ids(batches, "uuid") == [e["uuid"] for e in ordered if e["published"] > cut]


@pytest.mark.parametrize("batch_size", [200, 75])
def test_resume_from_any_checkpoint_gives_the_rest_exactly_once(fake_time, batch_size):
    want = in_order(EVENTS)
    with running(okta_app(EVENTS, tokens=[TOKEN])) as srv:
        c = collector(srv.url, fake_time, batch_size=batch_size)
        batches = until_caught_up(c)
        seen = 0
        for n, batch in enumerate(batches[:-1]):
            seen += len(batch.events)
            if n % 3 == 0:  # resume as a restarted process would, from what was stored
                rest = until_caught_up(collector(srv.url, fake_time, batch_size=batch_size), batch.checkpoint)
                assert ids(rest, "uuid") == want[seen:]
    assert max(len(b.events) for b in batches) == batch_size


def test_events_appended_while_serving_are_polled(fake_time):
    ordered = sorted(EVENTS, key=okta_key)
    app = okta_app(ordered[:300], tokens=[TOKEN])
    with running(app) as srv:
        c = collector(srv.url, fake_time)
        stop = threading.Event()
        got: list[str] = []
        for batch in c.batches(None, stop):
            got += [e["uuid"] for e in batch.events]
            if batch.caught_up and len(got) == 300:
                body = b"\n".join(orjson.dumps(e) for e in ordered[300:400])
                answer = httpx.post(srv.url + "/_imitate/events", content=body,
                                    headers={"Authorization": f"SSWS {TOKEN}"})
                assert answer.json() == {"added": 100, "total": 400}
            elif batch.caught_up:
                stop.set()
    assert got == [e["uuid"] for e in ordered[:400]]
    assert 5.0 in fake_time.sleeps  # the poll interval after the caught-up page


def test_429_waits_until_the_reset_with_jitter(fake_time):
    plan = FaultPlan(schedule=((2, "429"),), reset_after=30)
    with running(okta_app(EVENTS, tokens=[TOKEN], faults=plan, clock=fake_time.clock)) as srv:
        batches = until_caught_up(collector(srv.url, fake_time))
    assert ids(batches, "uuid") == in_order(EVENTS)
    waits = [s for s in fake_time.sleeps if s != 5.0]
    assert len(waits) == 1 and 30 <= waits[0] <= 31


def test_low_remaining_waits_for_the_window_before_the_next_request(fake_time):
    fake_time.now = 1_800_000_010.0  # 50 s before the minute window resets
    with running(okta_app(EVENTS, tokens=[TOKEN], rate_limit=3, clock=fake_time.clock)) as srv:
        batches = until_caught_up(collector(srv.url, fake_time))
    assert ids(batches, "uuid") == in_order(EVENTS)
    # the third request of a window leaves Remaining 0: wait for the Reset, never a 429
    assert fake_time.sleeps and 50 <= fake_time.sleeps[0] <= 51


def test_5xx_and_cut_off_bodies_are_retried_with_exponential_backoff(fake_time):
    plan = FaultPlan(schedule=((1, "5xx"), (2, "5xx"), (3, "cut"), (6, "cut")))
    app = okta_app(EVENTS, tokens=[TOKEN], faults=plan)
    with running(app) as srv:
        batches = until_caught_up(collector(srv.url, fake_time))
    assert ids(batches, "uuid") == in_order(EVENTS)
    assert app.state.faults.injected["cut"] == 2
    first_three = fake_time.sleeps[:3]
    assert 1 <= first_three[0] <= 2 and 2 <= first_three[1] <= 3 and 4 <= first_three[2] <= 5


def test_a_server_that_keeps_failing_is_one_error_after_the_attempts(fake_time):
    plan = FaultPlan(fail_rate=1.0, kinds=("5xx",))
    with running(okta_app(EVENTS, tokens=[TOKEN], faults=plan)) as srv, \
            pytest.raises(CollectorError, match="gave up after 4 tries; last: HTTP 503"):
        until_caught_up(collector(srv.url, fake_time, backoff=Backoff(attempts=4)))
    assert len(fake_time.sleeps) == 3


@pytest.mark.parametrize("scheme", ["SSWS", "Bearer"])
def test_both_auth_schemes_work_and_a_wrong_token_is_one_clear_error(fake_time, scheme):
    with running(okta_app(EVENTS[:10], tokens=[TOKEN])) as srv:
        good = until_caught_up(collector(srv.url, fake_time, scheme=scheme))
        assert len(ids(good, "uuid")) == 10
        wrong = "wrong-" + TOKEN
        with pytest.raises(CollectorAuthError) as caught:
            until_caught_up(collector(srv.url, fake_time, scheme=scheme, token=wrong))
    message = str(caught.value)
    assert "refused the credentials (401" in message and "E0000011" in message
    assert "\n" not in message and TOKEN not in message and wrong not in message
    assert fake_time.sleeps == [] or all(s == 5.0 for s in fake_time.sleeps)  # no retry of a 401


def test_an_oversized_event_is_rejected_and_the_page_goes_on(fake_time):
    events = [dict(e) for e in sorted(EVENTS, key=okta_key)[:50]]
    events[10]["debugContext"] = {"debugData": {"blob": "x" * 300_000}}
    limits = ReadLimits(max_document_bytes=4096)
    with running(okta_app(events, tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, limits=limits))
    assert ids(batches, "uuid") == [e["uuid"] for e in events if e is not events[10]]
    rejected = [r for b in batches for r in b.rejected]
    assert len(rejected) == 1 and "longer than the 4096-byte limit" in rejected[0]
    assert "/api/v1/logs" in rejected[0] and "after=" not in rejected[0]


def test_secrets_never_reach_checkpoints_or_errors(fake_time):
    plan = FaultPlan(schedule=((1, "5xx"), (2, "429")))
    with running(okta_app(EVENTS, tokens=[TOKEN], faults=plan, clock=fake_time.clock)) as srv:
        batches = until_caught_up(collector(srv.url, fake_time))
    everything = "".join(b.checkpoint + "".join(b.rejected) + repr(b) for b in batches)
    assert TOKEN not in everything


def test_plain_http_is_refused_except_to_loopback():
    with pytest.raises(ConfigError, match="must use https"):
        OktaLogCollector("http://example.okta.com", TOKEN)
    assert OktaLogCollector("example.okta.com", TOKEN).first_url().startswith(
        "https://example.okta.com/api/v1/logs?sortOrder=ASCENDING&limit=1000")
    assert OktaLogCollector("http://[::1]:8080", TOKEN).origin == "http://[::1]:8080"
    with pytest.raises(ConfigError, match="at most 1000"):
        OktaLogCollector("example.okta.com", TOKEN, limit=1001)


def test_checkpoints_of_another_org_or_source_are_refused(fake_time):
    c = collector("https://a.okta.com", fake_time)
    other = '{"source":"okta","next":"https://b.okta.com/api/v1/logs?after=1_x","skip":0}'
    with pytest.raises(ConfigError, match="another org"):
        next(c.batches(other, threading.Event()))
    with pytest.raises(ConfigError, match="belongs to auth0"):
        next(c.batches('{"source":"auth0","from":"9"}', threading.Event()))
    with pytest.raises(ConfigError, match="not JSON"):
        next(c.batches("garbage", threading.Event()))


def test_stop_during_the_poll_wait_ends_the_batches():
    stop = threading.Event()

    def sleep(seconds: float, ev: threading.Event) -> None:
        stop.set()

    fake = FakeTime()
    fake.sleep = sleep  # type: ignore[method-assign]
    with running(okta_app(EVENTS[:5], tokens=[TOKEN])) as srv:
        got = list(collector(srv.url, fake).batches(None, stop))
    assert [len(b.events) for b in got] == [5]

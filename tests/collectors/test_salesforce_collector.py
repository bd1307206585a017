"""The Salesforce collector against the Salesforce imitation: EventLogFile listing by SOQL with
nextRecordsUrl paging, LogFile CSVs streamed in batches and resumed mid-file, incremental hourly
files, storage objects by EventDate, client-credentials tokens, faults, secrets."""

from __future__ import annotations

import orjson
import pytest

from collect_support import TOKEN, FakeTime, ids, simulated, until_caught_up
from tokentrail.errors import ConfigError
from tokentrail.schemas.detect import detect_log_type
from tokentrail.sources.collectors.http import CollectorAuthError
from tokentrail.sources.collectors.salesforce import SalesforceLogCollector
from tokentrail.sources.imitate import FaultPlan, running
from tokentrail.sources.imitate.salesforce import salesforce_app

EVENTS = simulated("salesforce")
CLIENT = ("3MVG9-connected-app", "sf-client-secret-51ac")
LOGINS = tuple({"attributes": {"type": "LoginEvent"}, "Id": f"0Yw{n:015d}", "EventIdentifier": f"ev-{n}",
                "EventDate": f"2025-01-06T09:{n // 60:02d}:{n % 60:02d}.000+0000", "Username": f"u{n}@example.com",
                "SourceIp": "203.0.113.9", "LoginType": "Remote Access 2.0", "Status": "Success"}
               for n in range(250))


def collector(url: str, fake: FakeTime, **kw) -> SalesforceLogCollector:
    if "client_id" not in kw:
        kw.setdefault("token", TOKEN)
    return SalesforceLogCollector(url, timing=fake.timing(), poll_interval=5.0, **kw)


def request_ids(batches) -> list[str]:
    return sorted(ids(batches, "REQUEST_ID"))


ALL_IDS = sorted(e["REQUEST_ID"] for e in EVENTS)


def test_every_row_of_every_hourly_file_once(fake_time):
    with running(salesforce_app(EVENTS, tokens=[TOKEN], query_batch=7)) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, batch_size=100))
    assert request_ids(batches) == ALL_IDS
    assert len(ids(batches, "REQUEST_ID")) == len(ALL_IDS)
    assert {detect_log_type(e) for b in batches for e in b.events} == {"salesforce"}
    assert max(len(b.events) for b in batches) == 100
    state = orjson.loads(batches[-1].checkpoint)
    assert set(state["files"]) == {e["EVENT_TYPE"] for e in EVENTS}
    assert all(set(cp) == {"LogDate", "Id"} for cp in state["files"].values())


def test_daily_files_hold_the_same_rows(fake_time):
    with running(salesforce_app(EVENTS, tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, interval="Daily"))
    assert request_ids(batches) == ALL_IDS


def test_event_types_and_since_narrow_the_listing(fake_time):
    with running(salesforce_app(EVENTS, tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, event_types=["Login", "API"],
                                            since="2025-01-06T12:00:00Z"))
    want = sorted(e["REQUEST_ID"] for e in EVENTS
                  if e["EVENT_TYPE"] in ("Login", "API") and e["TIMESTAMP_DERIVED"] >= "2025-01-06T12")
    assert want and request_ids(batches) == want


def test_resume_from_any_checkpoint_mid_file_gives_the_rest_exactly_once(fake_time):
    with running(salesforce_app(EVENTS, tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, batch_size=60))
        order = ids(batches, "REQUEST_ID")
        assert any("row" in cp for b in batches for cp in orjson.loads(b.checkpoint)["files"].values())
        seen = 0
        for n, batch in enumerate(batches[:-1]):
            seen += len(batch.events)
            if n % 4 == 1:
                rest = until_caught_up(collector(srv.url, fake_time, batch_size=60), batch.checkpoint)
                assert ids(rest, "REQUEST_ID") == order[seen:]


def test_rows_appended_later_come_as_a_new_sequence_and_are_read_once(fake_time):
    first, later = EVENTS[: len(EVENTS) // 2], EVENTS[len(EVENTS) // 2:]
    app = salesforce_app(first, tokens=[TOKEN])
    with running(app) as srv:
        c = collector(srv.url, fake_time)
        batches = until_caught_up(c)
        app.state.data.extend(later)
        more = until_caught_up(c, batches[-1].checkpoint)
    assert sorted(ids(batches, "REQUEST_ID") + ids(more, "REQUEST_ID")) == ALL_IDS
    assert max(f["Sequence"] for f in app.state.data.files) >= 2


def test_cut_off_log_files_and_5xx_are_retried_and_nothing_repeats(fake_time):
    plan = FaultPlan(schedule=((2, "cut"), (3, "5xx"), (5, "cut"), (9, "429")))
    app = salesforce_app(EVENTS, tokens=[TOKEN], faults=plan)
    with running(app) as srv:
        batches = until_caught_up(collector(srv.url, fake_time))
    assert ids(batches, "REQUEST_ID") == sorted(ids(batches, "REQUEST_ID"), key=ids(batches, "REQUEST_ID").index)
    assert request_ids(batches) == ALL_IDS and len(ids(batches, "REQUEST_ID")) == len(ALL_IDS)
    assert app.state.faults.injected["cut"] == 2 and len(fake_time.sleeps) >= 4


def test_storage_objects_by_event_date_with_paging_and_resume(fake_time):
    with running(salesforce_app([*EVENTS[:20], *LOGINS], tokens=[TOKEN], query_batch=40)) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, objects=["LoginEvent"], batch_size=100))
        logins = [e for b in batches for e in b.events if "EventIdentifier" in e]
        assert [e["EventIdentifier"] for e in logins] == [e["EventIdentifier"] for e in LOGINS]
        assert {detect_log_type(e) for e in logins} == {"salesforce.rtem"}
        middle = next(b for b in batches if any("EventIdentifier" in e for e in b.events))
        rest = until_caught_up(collector(srv.url, fake_time, objects=["LoginEvent"], batch_size=100),
                               middle.checkpoint)
    assert [e["EventIdentifier"] for b in rest for e in b.events] == [e["EventIdentifier"] for e in LOGINS[100:]]


def test_client_credentials_and_a_refused_client(fake_time):
    with running(salesforce_app(EVENTS, client=CLIENT)) as srv:
        good = until_caught_up(collector(srv.url, fake_time, client_id=CLIENT[0], client_secret=CLIENT[1]))
        assert request_ids(good) == ALL_IDS
        with pytest.raises(CollectorAuthError) as caught:
            until_caught_up(collector(srv.url, fake_time, client_id=CLIENT[0], client_secret="x" + CLIENT[1]))
        with pytest.raises(CollectorAuthError, match="INVALID_SESSION_ID"):
            until_caught_up(collector(srv.url, fake_time, token="expired-" + TOKEN))
    assert "invalid_client" in str(caught.value) and CLIENT[1] not in str(caught.value)
    assert all(CLIENT[1] not in b.checkpoint for b in good)


def test_an_unreadable_row_is_reported_and_the_file_goes_on(fake_time):
    rows = [dict(e) for e in EVENTS if e["EVENT_TYPE"] == "Login"]
    rows[3]["USER_AGENT"] = "z" * 5000
    from tokentrail.sources.limits import ReadLimits
    with running(salesforce_app(rows, tokens=[TOKEN])) as srv:
        batches = until_caught_up(collector(srv.url, fake_time, limits=ReadLimits(max_line_bytes=4096)))
    assert request_ids(batches) == sorted(r["REQUEST_ID"] for r in rows if r is not rows[3])
    rejected = [r for b in batches for r in b.rejected]
    assert len(rejected) == 1 and "(Login) line" in rejected[0] and "4096-byte limit" in rejected[0]


def test_configuration_errors():
    with pytest.raises(ConfigError, match="needs a token, or a client id"):
        SalesforceLogCollector("acme.my.salesforce.com")
    with pytest.raises(ConfigError, match="Hourly or Daily"):
        SalesforceLogCollector("acme.my.salesforce.com", token=TOKEN, interval="Weekly")
    with pytest.raises(ConfigError, match="name the fields"):
        SalesforceLogCollector("acme.my.salesforce.com", token=TOKEN, objects=["ReportEvent"])

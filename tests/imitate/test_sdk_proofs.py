"""The vendors' official SDKs against the imitations: each returns exactly the imitation's events,
which is the evidence that the imitated protocol (paging, links, auth, token endpoints) is right.

SDK quirks met, and worked around here only (the imitations stay strict):
- okta 3.x: its generated API client builds ``Authorization`` as ``authorization_mode + token``
  with no space (``SSWS<token>``), which the imitation refuses as Okta's format says; a
  per-call ``_request_auth`` gives the proper ``SSWS <token>``. It pages by taking the ``after``
  cursor out of the next link and asking again, not by following the link; its response headers
  keep one ``Link`` header of several (the last), so the imitation sends ``rel="next"`` last. A
  polling request always has a next link, so the SDK loop is bounded here with ``until``.
- auth0-python 6.x: ``ManagementClient`` hard-codes ``https://{domain}``; the generated
  ``Auth0(base_url=…)`` underneath takes the loopback URL. Its ``logs.list`` pages by search
  (``page``/``per_page``, at most 1000 results, as Auth0 allows) and offers no ``from``/``take``
  checkpoint form; ``GetToken(protocol="http")`` fetches the client-credentials token.
- simple-salesforce: every URL is ``https://{instance}`` (the ``nextRecordsUrl`` too), so it is
  given a requests session that sends those to the imitation over plain http.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime

import pytest
import requests

from collect_support import TOKEN, simulated
from tokentrail.sources.imitate import running
from tokentrail.sources.imitate.auth0 import api_form, auth0_app
from tokentrail.sources.imitate.okta import okta_app, okta_key
from tokentrail.sources.imitate.salesforce import salesforce_app


def test_okta_sdk_list_log_events_returns_exactly_the_imitations_events(monkeypatch):
    okta_client = pytest.importorskip("okta.client", reason="the okta SDK is a dev extra")
    from okta.pagination import PaginationHelper

    monkeypatch.setenv("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")
    events = sorted(simulated("okta"), key=okta_key)
    auth = {"type": "api_key", "in": "header", "key": "Authorization", "value": f"SSWS {TOKEN}"}

    async def pull(url: str) -> list:
        client = okta_client.Client({"orgUrl": url, "token": TOKEN})
        got, after = [], None
        while True:
            logs, response, error = await client.list_log_events(
                since="2025-01-01T00:00:00Z", until="2030-01-01T00:00:00Z", limit=300, after=after,
                _request_auth=auth)
            assert error is None
            got += logs
            after = PaginationHelper.extract_next_cursor(response.headers)
            if after is None:
                return got

    with running(okta_app(events, tokens=[TOKEN])) as srv:
        got = asyncio.run(pull(srv.url))
    assert [(e.uuid, e.event_type, e.published) for e in got] == \
        [(e["uuid"], e["eventType"], datetime.fromisoformat(e["published"])) for e in events]
    assert [e.actor.id for e in got] == [e["actor"]["id"] for e in events]


def test_auth0_sdk_token_and_logs_return_exactly_the_imitations_events():
    pytest.importorskip("auth0", reason="auth0-python is a dev extra")
    from auth0.authentication import GetToken
    from auth0.management.client import Auth0

    events = sorted((api_form(e) for e in simulated("auth0", 900)), key=lambda e: (e["date"], e["log_id"]))
    assert len(events) <= 1000  # Auth0's search paging stops at 1000 results
    client = ("sdk-client", "sdk-secret-3c")
    with running(auth0_app(events, client=client)) as srv:
        host = srv.url.split("://", 1)[1]
        token = GetToken(host, client[0], client[1], protocol="http").client_credentials(f"https://{host}/api/v2/")
        assert token["token_type"] == "Bearer" and token["expires_in"] > 0
        logs = Auth0(base_url=srv.url + "/api/v2", token=token["access_token"]).logs
        got = list(logs.list(per_page=100, sort="date:1", include_totals=True))
    assert [(g.log_id, g.type, g.client_id) for g in got] == [(e["log_id"], e["type"], e["client_id"]) for e in events]


class _LoopbackSession(requests.Session):
    """Sends the https URLs simple-salesforce builds to the imitation's http address."""

    def __init__(self, origin: str) -> None:
        super().__init__()
        self.origin = origin
        self.secure = "https://" + origin.split("://", 1)[1]

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        if url.startswith(self.secure):
            url = self.origin + url[len(self.secure):]
        return super().request(method, url, *args, **kwargs)


def test_simple_salesforce_query_all_and_log_file_download_return_exactly_the_imitations_events():
    simple_salesforce = pytest.importorskip("simple_salesforce", reason="simple-salesforce is a dev extra")
    events = simulated("salesforce")
    with running(salesforce_app(events, tokens=[TOKEN], query_batch=25)) as srv:
        sf = simple_salesforce.Salesforce(instance_url=srv.url, session_id=TOKEN, version="59.0",
                                          session=_LoopbackSession(srv.url))
        files = sf.query_all("SELECT Id, EventType, LogDate, Interval, Sequence, LogFileLength FROM EventLogFile "
                             "WHERE Interval = 'Hourly' ORDER BY LogDate, Id")
        assert files["done"] and files["totalSize"] == len(files["records"]) > 25  # several query pages
        rows = []
        for record in files["records"]:
            answer = sf.session.get(f"{sf.base_url}sobjects/EventLogFile/{record['Id']}/LogFile", headers=sf.headers)
            assert answer.status_code == 200 and len(answer.content) == record["LogFileLength"]
            rows += list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(r["REQUEST_ID"] for r in rows) == sorted(e["REQUEST_ID"] for e in events)
    by_id = {e["REQUEST_ID"]: e for e in events}
    assert all(r["EVENT_TYPE"] == by_id[r["REQUEST_ID"]]["EVENT_TYPE"] for r in rows)

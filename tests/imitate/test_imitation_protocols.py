"""The imitations' protocol details that no collector test reaches: bounded and descending Okta
queries, validation answers, the SOQL subset, Auth0 search paging, seeded fault plans."""

from __future__ import annotations

import httpx
import pytest

from collect_support import TOKEN, simulated
from tokentrail.errors import ConfigError
from tokentrail.sources.imitate import FaultPlan, running
from tokentrail.sources.imitate.auth0 import api_form, auth0_app
from tokentrail.sources.imitate.faults import Faults
from tokentrail.sources.imitate.gate import BadRequest
from tokentrail.sources.imitate.okta import okta_app, okta_key
from tokentrail.sources.imitate.salesforce import salesforce_app
from tokentrail.sources.imitate.soql import parse, run

OKTA = sorted(simulated("okta"), key=okta_key)
SSWS = {"Authorization": f"SSWS {TOKEN}"}


@pytest.fixture(scope="module")
def okta_url():
    with running(okta_app(OKTA, tokens=[TOKEN])) as srv:
        yield srv.url


def test_okta_bounded_query_ends_without_a_next_link(okta_url):
    since, until = OKTA[100]["published"], OKTA[400]["published"]
    want = [e["uuid"] for e in OKTA if since < e["published"] < until]
    got, url = [], f"{okta_url}/api/v1/logs"
    params: dict | None = {"since": since, "until": until, "limit": "120"}
    while url:
        answer = httpx.get(url, params=params, headers=SSWS)
        got += [e["uuid"] for e in answer.json()]
        url, params = answer.links.get("next", {}).get("url"), None
        assert answer.links["self"]["url"]
    assert got == want


def test_okta_descending_order_and_validation(okta_url):
    answer = httpx.get(f"{okta_url}/api/v1/logs", params={"sortOrder": "DESCENDING", "limit": "5"}, headers=SSWS)
    assert [e["uuid"] for e in answer.json()] == [e["uuid"] for e in OKTA[::-1][:5]]
    too_many = httpx.get(f"{okta_url}/api/v1/logs", params={"limit": "1001"}, headers=SSWS)
    assert too_many.status_code == 400 and too_many.json()["errorCode"] == "E0000001"
    assert int(answer.headers["X-Rate-Limit-Remaining"]) < int(answer.headers["X-Rate-Limit-Limit"])
    assert int(answer.headers["X-Rate-Limit-Reset"]) > 1_700_000_000


def test_okta_polling_on_an_empty_page_keeps_the_cursor(okta_url):
    last = "{}_{}".format(*okta_key(OKTA[-1]))
    answer = httpx.get(f"{okta_url}/api/v1/logs", params={"after": last}, headers=SSWS)
    assert answer.json() == [] and f"after={last}" in answer.links["next"]["url"]


def test_auth0_search_pages_sort_and_the_1000_result_limit():
    events = [api_form(e) for e in simulated("auth0")]
    with running(auth0_app(events, tokens=[TOKEN])) as srv:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        newest = httpx.get(f"{srv.url}/api/v2/logs", params={"per_page": "3"}, headers=bearer).json()
        assert [e["log_id"] for e in newest] == sorted((e["log_id"] for e in events), reverse=True)[:3]
        totals = httpx.get(f"{srv.url}/api/v2/logs", params={"include_totals": "true", "per_page": "2"},
                           headers=bearer).json()
        assert totals["total"] == len(events) and len(totals["logs"]) == 2
        past = httpx.get(f"{srv.url}/api/v2/logs", params={"page": "10", "per_page": "100"}, headers=bearer)
        assert past.status_code == 400 and "first 1000" in past.json()["message"]
        assert httpx.get(f"{srv.url}/api/v2/logs", headers={"Authorization": "Bearer x"}).status_code == 401


def test_soql_subset():
    records = [{"attributes": {"type": "X"}, "Id": f"a{n}", "N": n, "D": f"2025-01-06T0{n}:00:00.000+0000",
                "T": "Login" if n % 2 else "API"} for n in range(6)]
    query = parse("SELECT Id, N FROM X WHERE D >= 2025-01-06T02:00:00Z AND T IN ('Login', 'Logout') "
                  "ORDER BY N DESC LIMIT 2")
    assert [r["Id"] for r in run(query, records)] == ["a5", "a3"]
    assert set(run(query, records)[0]) == {"attributes", "Id", "N"}
    with pytest.raises(BadRequest, match="MALFORMED_QUERY"):
        parse("SELECT Id FROM X WHERE N LIKE 'a%'")
    with pytest.raises(BadRequest, match="MALFORMED_QUERY"):
        parse("SELECT Id FROM")


def test_salesforce_answers_bad_soql_and_a_bad_session_as_salesforce_does():
    with running(salesforce_app(simulated("salesforce")[:10], tokens=[TOKEN])) as srv:
        bad = httpx.get(f"{srv.url}/services/data/v59.0/query", params={"q": "SELECT FROM"},
                        headers={"Authorization": f"Bearer {TOKEN}"})
        assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "MALFORMED_QUERY"
        expired = httpx.get(f"{srv.url}/services/data/v59.0/query", params={"q": "SELECT Id FROM EventLogFile"},
                            headers={"Authorization": "Bearer nope"})
        assert expired.status_code == 401 and expired.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_fault_plans_are_reproducible_and_checked():
    plan = FaultPlan(fail_rate=0.3, slow_rate=0.1, seed=4, schedule=((2, "cut"),))
    first, second = Faults(plan), Faults(plan)
    draws = [first.draw() for _ in range(200)]
    assert draws == [second.draw() for _ in range(200)]
    assert draws[1] == "cut" and {"429", "5xx", "cut", "slow", None} == set(draws)
    with pytest.raises(ConfigError, match="unknown fault"):
        FaultPlan(kinds=("teapot",))
    with pytest.raises(ConfigError, match="between 0 and 1"):
        FaultPlan(fail_rate=2)

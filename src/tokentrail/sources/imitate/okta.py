"""The Okta System Log API, ``GET /api/v1/logs``, over an event store.

Faithful where the collector and the SDK depend on it: ``since``/``after`` exclusive, ``until``,
``limit`` (default 100, at most 1000), ``sortOrder``; on a polling request (no ``until``,
ascending) a ``Link: rel="next"`` always, even on an empty page; ``X-Rate-Limit-*`` headers; a 401
with Okta's error body for a missing or wrong ``SSWS``/``Bearer`` token; ``POST /oauth2/v1/token``
for a service app signing in with a private-key JWT (signature, iss/sub, aud, expiry within the
hour and a fresh ``jti`` checked; errors as Okta's OAuth ``error``/``error_description``). The ``after`` cursor is
opaque to clients (here ``<published ms>_<uuid>`` of the last event sent). One deliberate
difference: without ``since`` every stored event is served, not only the last seven days, so
simulated logs of any date can be pulled.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokentrail.sources.imitate.assertions import AssertionCheck, Rejected, SignedApp
from tokentrail.sources.imitate.faults import FaultPlan, Faults, RateWindow
from tokentrail.sources.imitate.gate import BadRequest, Gate, Style, append_route, bearer, dumps
from tokentrail.sources.imitate.store import EventStore, Key, json_array
from tokentrail.sources.imitate.tokens import IssuedTokens

MAX_LIMIT = 1000
JWT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_ERRORS = {
    400: ("E0000001", "Api validation failed: {what}"),
    401: ("E0000011", "Invalid token provided"),
    429: ("E0000047", "API call exceeded rate limit due to too many requests."),
    503: ("E0000009", "Internal Server Error"),
}


def _epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def okta_key(event: dict[str, Any]) -> Key:
    """Okta's order: published time, then uuid."""
    return (_epoch_ms(str(event.get("published", "1970-01-01T00:00:00Z"))), str(event.get("uuid", "")))


def _error_body(status: int, what: str = "") -> bytes:
    code, summary = _ERRORS.get(status, ("E0000009", "Internal Server Error"))
    return dumps({"errorCode": code, "errorSummary": summary.format(what=what), "errorLink": code,
                  "errorId": "oaeImitation", "errorCauses": []})


def okta_app(events: Iterable[dict[str, Any]] = (), *, tokens: Iterable[str] = (), faults: FaultPlan = FaultPlan(),
             rate_limit: int = 1_000_000, clock: Callable[[], float] = time.time,
             service_app: SignedApp | None = None, token_ttl: int = 3600) -> Starlette:
    """The imitation as an ASGI app; ``app.state.store`` takes more events while it serves.
    ``service_app`` may get access tokens from ``POST /oauth2/v1/token`` (client credentials with
    a private-key JWT client assertion, scope ``okta.logs.read``), valid ``token_ttl`` seconds."""
    store = EventStore(okta_key, events)
    accepted = IssuedTokens(tokens, clock, token_ttl)
    check = None if service_app is None else \
        AssertionCheck(service_app, max_lifetime=3600.0, unique=True, clock=clock)
    gate = Gate(Style(("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"), _error_body),
                Faults(faults), RateWindow(rate_limit, 60.0, clock))

    def authorized(request: Request) -> bool:
        return accepted.valid(bearer(request, ("SSWS", "Bearer")))

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "The authorization grant type is not supported.")
        if form.get("client_assertion_type") != JWT_ASSERTION_TYPE or check is None:
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        audience = f"{request.url.scheme}://{request.url.netloc}/oauth2/v1/token"
        try:
            check.verify(form.get("client_assertion"), audience=audience, subject=check.app.client_id)
        except Rejected as exc:
            return _oauth_error(401, "invalid_client", f"The client_assertion {exc}.")
        if form.get("scope") != "okta.logs.read":
            return _oauth_error(400, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
        return Response(dumps({"token_type": "Bearer", "expires_in": token_ttl, "access_token": accepted.issue(),
                               "scope": "okta.logs.read"}), media_type="application/json")

    async def logs(request: Request) -> Response:
        return await gate.serve(request, authorized(request), lambda r: _page(store, r))

    app = Starlette(routes=[Route("/oauth2/v1/token", token, methods=["POST"]), Route("/api/v1/logs", logs),
                            append_route(store, authorized)])
    app.state.store = store
    app.state.tokens = accepted
    app.state.faults = gate.faults
    return app


def _oauth_error(status: int, error: str, description: str) -> Response:
    return Response(dumps({"error": error, "error_description": description}), status, media_type="application/json")


def _page(store: EventStore, request: Request) -> tuple[bytes, tuple[str, ...]]:
    """The page's JSON body and its Link headers."""
    q = request.query_params
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        raise BadRequest("limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest("limit")
    order = q.get("sortOrder", "ASCENDING").upper()
    if order not in ("ASCENDING", "DESCENDING"):
        raise BadRequest("sortOrder")
    try:
        low = store.after((_epoch_ms(q["since"]), "\uffff")) if "since" in q else 0
        high = store.before((_epoch_ms(q["until"]), "")) if "until" in q else len(store)
        cursor = _cursor(q["after"]) if "after" in q else None
    except (ValueError, KeyError):
        raise BadRequest("since, until or after") from None
    if order == "ASCENDING":
        start = max(low, store.after(cursor)) if cursor else low
        stop = min(high, start + limit)
        raw = store.raw(start, stop) if start < stop else []
        more = stop < high
    else:
        end = min(high, store.before(cursor)) if cursor else high
        start = max(low, end - limit)
        raw = list(reversed(store.raw(start, end))) if start < end else []
        more = start > low
    base = f"{request.url.scheme}://{request.url.netloc}/api/v1/logs"
    links = [f'<{base}?{request.url.query}>; rel="self"']
    polling = "until" not in q and order == "ASCENDING"
    if raw or polling:
        if raw:
            last = orjson.loads(raw[-1])
            after = "{}_{}".format(*okta_key(last))
        else:
            after = q.get("after")
        if more or polling:
            params = {k: v for k, v in q.items() if k != "after"}
            if after:
                params["after"] = after
            links.append(f'<{base}?{urlencode(params)}>; rel="next"')
    return json_array(raw), tuple(links)


def _cursor(text: str) -> Key:
    ms, _, uuid = text.partition("_")
    return (int(ms), uuid)

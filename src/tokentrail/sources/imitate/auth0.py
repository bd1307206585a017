"""The Auth0 Management API's logs, ``POST /oauth/token`` and ``GET /api/v2/logs``, over a store.

By checkpoint (``from`` exclusive, ``take`` up to 100, in ``log_id`` order, ``Link rel=next`` on a
non-empty page, ``[]`` when there is nothing newer); by search (``page``/``per_page`` up to 100,
``sort=date:1`` or ``date:-1``, ``q=date:[X TO Y]`` with ``*`` for an open end,
``include_totals``, and no paging past the first 1000 results, as Auth0 limits it). Tokens: the
given ones, or ones issued by client credentials for the audience ``https://{host}/api/v2/``,
which expire after ``token_ttl`` seconds. ``x-ratelimit-*`` headers on every data answer.
"""

from __future__ import annotations

import re
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

from tokentrail.sources.imitate.faults import FaultPlan, Faults, RateWindow
from tokentrail.sources.imitate.gate import BadRequest, Gate, Style, append_route, bearer, dumps
from tokentrail.sources.imitate.store import EventStore, Key, json_array
from tokentrail.sources.imitate.tokens import IssuedTokens

MAX_TAKE = 100
MAX_SEARCH_RESULTS = 1000
_MESSAGES = {400: "Bad Request", 401: "Unauthorized", 429: "Too Many Requests", 503: "Service Unavailable"}
_DATE_RANGE = re.compile(r"^\s*date:\[\s*(\S+)\s+TO\s+(\S+)\s*\]\s*$")


def auth0_key(event: dict[str, Any]) -> Key:
    """Auth0's checkpoint order: the log id (time-ordered by construction)."""
    return (str(event.get("log_id") or event.get("_id") or ""),)


def api_form(event: dict[str, Any]) -> dict[str, Any]:
    """A log as the Management API returns it: a log-stream envelope (``{"log_id", "data"}``)
    loses its envelope, and the log keeps its id."""
    data = event.get("data")
    if isinstance(data, dict) and "log_id" in event:
        return {**data, "log_id": data.get("log_id", event["log_id"])}
    return event


def _error_body(status: int, message: str = "") -> bytes:
    return dumps({"statusCode": status, "error": _MESSAGES.get(status, "Error"),
                  "message": message or _MESSAGES.get(status, "Error"), "errorCode": f"imitation_{status}"})


def auth0_app(events: Iterable[dict[str, Any]] = (), *, tokens: Iterable[str] = (),
              client: tuple[str, str] | None = None, token_ttl: int = 86400, faults: FaultPlan = FaultPlan(),
              rate_limit: int = 1_000_000, clock: Callable[[], float] = time.time) -> Starlette:
    """The imitation as an ASGI app. ``client`` is the (id, secret) that may get tokens;
    ``app.state.store`` takes more events while it serves."""
    store = EventStore(auth0_key, (api_form(e) for e in events))
    accepted = IssuedTokens(tokens, clock, token_ttl)
    gate = Gate(Style(("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"), _error_body),
                Faults(faults), RateWindow(rate_limit, 60.0, clock))

    async def token(request: Request) -> Response:
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                form = orjson.loads(raw)
            except orjson.JSONDecodeError:
                form = None
        else:
            form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        if not isinstance(form, dict) or form.get("grant_type") != "client_credentials":
            return Response(dumps({"error": "unsupported_grant_type", "error_description": "client_credentials only"}),
                            400, media_type="application/json")
        if client is None or (form.get("client_id"), form.get("client_secret")) != client:
            return Response(dumps({"error": "access_denied", "error_description": "Unauthorized"}), 401,
                            media_type="application/json")
        if form.get("audience") != f"https://{request.url.netloc}/api/v2/":
            return Response(dumps({"error": "access_denied",
                                   "error_description": "Service not found: " + str(form.get("audience"))}),
                            403, media_type="application/json")
        return Response(dumps({"access_token": accepted.issue(), "scope": "read:logs", "expires_in": token_ttl,
                               "token_type": "Bearer"}), media_type="application/json")

    def authorized(request: Request) -> bool:
        return accepted.valid(bearer(request))

    async def logs(request: Request) -> Response:
        return await gate.serve(request, authorized(request), lambda r: _answer(store, r))

    app = Starlette(routes=[Route("/oauth/token", token, methods=["POST"]), Route("/api/v2/logs", logs),
                            append_route(store, authorized, api_form)])
    app.state.store = store
    app.state.faults = gate.faults
    app.state.tokens = accepted
    return app


def _int(value: str | None, default: int, name: str, most: int) -> int:
    try:
        number = default if value is None else int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not 0 <= number <= most:
        raise BadRequest(f"{name} must be between 0 and {most}")
    return number


def _answer(store: EventStore, request: Request) -> tuple[bytes, tuple[str, ...]]:
    q = request.query_params
    if "from" in q:  # by checkpoint: every other parameter is ignored
        take = _int(q.get("take"), 50, "take", MAX_TAKE)
        start = store.after((q["from"],))
        raw = store.raw(start, start + take)
        if not raw:
            return b"[]", ()
        last = orjson.loads(raw[-1])["log_id"]
        base = f"{request.url.scheme}://{request.url.netloc}/api/v2/logs"
        return json_array(raw), (f'<{base}?{urlencode({"from": last, "take": take})}>; rel="next"',)
    page = _int(q.get("page"), 0, "page", MAX_SEARCH_RESULTS)
    per_page = _int(q.get("per_page"), 50, "per_page", MAX_TAKE)
    if (page + 1) * per_page > MAX_SEARCH_RESULTS and per_page:
        raise BadRequest(f"You can only page through the first {MAX_SEARCH_RESULTS} records")
    low, high = _date_range(store, q.get("q"))
    ascending = q.get("sort", "date:-1").replace(" ", "") == "date:1"
    if ascending:
        start = low + page * per_page
        raw = store.raw(start, min(high, start + per_page)) if start < high else []
    else:
        end = high - page * per_page
        raw = list(reversed(store.raw(max(low, end - per_page), end))) if end > low else []
    if q.get("include_totals", "false").lower() == "true":
        head = dumps({"start": page * per_page, "limit": per_page, "length": len(raw), "total": high - low})
        return head[:-1] + b',"logs":' + json_array(raw) + b"}", ()
    return json_array(raw), ()


def _date_range(store: EventStore, query: str | None) -> tuple[int, int]:
    """Indexes of the first event in the date range and just past its last (dates rise with the
    log id, so the store is searched by bisection)."""
    if not query:
        return 0, len(store)
    match = _DATE_RANGE.match(query)
    if match is None:
        raise BadRequest("the imitation searches by date:[X TO Y] only")
    low_text, high_text = match.groups()
    return (_first_at_or_after(store, low_text, False) if low_text != "*" else 0,
            _first_at_or_after(store, high_text, True) if high_text != "*" else len(store))


def _first_at_or_after(store: EventStore, text: str, past: bool) -> int:
    """The first index whose date is at or after ``text`` (after it, with ``past``)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"bad date {text!r}") from None
    lo, hi = 0, len(store)
    while lo < hi:
        mid = (lo + hi) // 2
        date = datetime.fromisoformat(str(store.events(mid, mid + 1)[0].get("date")).replace("Z", "+00:00"))
        if date > moment or (date == moment and not past):
            hi = mid
        else:
            lo = mid + 1
    return lo

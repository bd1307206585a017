"""The Salesforce REST API parts a log collector uses, over given or simulated events.

``POST /services/oauth2/token`` (client credentials, or the JWT bearer flow with the assertion's
signature, issuer, user, audience and three-minute expiry checked); ``GET /services/data/vXX.X/query?q=SOQL``
with ``nextRecordsUrl`` paging (``…/query/<locator>``); ``GET …/sobjects/EventLogFile/{Id}/LogFile``
answering the CSV. Event Log File rows (events with ``EVENT_TYPE``) are grouped into one Hourly
and one Daily file per event type and period, published as ``EventLogFile`` records; rows appended
later to a period already published become a new file with the next ``Sequence``, as Salesforce
publishes incremental files. Records with ``attributes.type`` (LoginEvent, ApiEvent, …) are the
event storage objects, queried by SOQL like any object.
"""

from __future__ import annotations

import csv
import io
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tokentrail.sources.imitate.assertions import AssertionCheck, Rejected, SignedApp
from tokentrail.sources.imitate.faults import FaultPlan, Faults, RateWindow
from tokentrail.sources.imitate.gate import BadRequest, Gate, Style, append_route, bearer, dumps
from tokentrail.sources.imitate.soql import parse, parse_datetime, run

API_VERSION = "59.0"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
INTERVALS = ("Hourly", "Daily")
_ERROR_CODES = {400: "MALFORMED_QUERY", 401: "INVALID_SESSION_ID", 404: "NOT_FOUND",
                429: "REQUEST_LIMIT_EXCEEDED", 503: "SERVER_UNAVAILABLE"}
_ERROR_TEXT = {401: "Session expired or invalid", 404: "The requested resource does not exist",
               429: "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
               503: "Server temporarily unavailable"}


def _error_body(status: int, message: str = "") -> bytes:
    return dumps([{"message": message or _ERROR_TEXT.get(status, "Error"),
                   "errorCode": _ERROR_CODES.get(status, "UNKNOWN_EXCEPTION")}])


def _oauth_error(error: str, description: str) -> Response:
    return Response(dumps({"error": error, "error_description": description}), 400, media_type="application/json")


def sf_datetime(moment: datetime) -> str:
    """``2025-01-06T08:00:00.000+0000``: how the REST API writes datetimes."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _event_time(row: dict[str, Any]) -> datetime:
    text = row.get("TIMESTAMP_DERIVED")
    if isinstance(text, str):
        return parse_datetime(text)
    stamp = str(row.get("TIMESTAMP", "19700101000000"))  # 20250106080000.123
    return datetime.strptime(stamp[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC)


class SalesforceData:
    """EventLogFile records with their CSV bodies, and event storage records; thread-safe."""

    def __init__(self, api_version: str = API_VERSION) -> None:
        self.api_version = api_version
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.files: list[dict[str, Any]] = []
        self.bodies: dict[str, bytes] = {}
        self.objects: dict[str, list[dict[str, Any]]] = {}
        self._sequences: dict[tuple[str, str, str], int] = {}
        self._events = 0

    def __len__(self) -> int:
        """Events published: log file rows and storage records."""
        return self._events

    def extend(self, events: Iterable[dict[str, Any]]) -> int:
        """Publish ``events``: Event Log File rows as new files, storage records as records."""
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        added = 0
        with self._lock:
            for event in events:
                added += 1
                kind = event.get("attributes", {}).get("type") if isinstance(event.get("attributes"), dict) else None
                if kind:
                    self._add_record(str(kind), event)
                    continue
                moment = _event_time(event)
                for interval in INTERVALS:
                    start = moment.replace(minute=0, second=0, microsecond=0)
                    if interval == "Daily":
                        start = start.replace(hour=0)
                    groups.setdefault((str(event.get("EVENT_TYPE", "")), interval, sf_datetime(start)), []).append(event)
            for key in sorted(groups, key=lambda k: (k[2], k[0], k[1])):
                self._publish(key, groups[key])
            self._events += added
        return added

    def _add_record(self, kind: str, event: dict[str, Any]) -> None:
        record = dict(event)
        record.setdefault("Id", self._new_id("0Ym"))
        record["attributes"] = {"type": kind, "url": self._url(kind, record["Id"])}
        self.objects.setdefault(kind, []).append(record)

    def _publish(self, key: tuple[str, str, str], rows: list[dict[str, Any]]) -> None:
        event_type, interval, log_date = key
        rows = sorted(rows, key=_event_time)
        columns = list(dict.fromkeys(k for row in rows for k in row))
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
        body = out.getvalue().encode()
        published = self._sequences.get(key, 0) + 1  # an hour's later rows: the next Sequence
        self._sequences[key] = published
        sequence = published if interval == "Hourly" else 0
        file_id = self._new_id("0AT")
        self.bodies[file_id] = body
        self.files.append({
            "attributes": {"type": "EventLogFile", "url": self._url("EventLogFile", file_id)},
            "Id": file_id, "EventType": event_type, "LogDate": log_date, "Interval": interval,
            "Sequence": sequence, "LogFileLength": float(len(body)), "LogFileContentType": "CSV",
            "LogFileFieldNames": ",".join(columns), "CreatedDate": sf_datetime(datetime.now(UTC)),
            "ApiVersion": float(self.api_version)})

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):015d}"

    def _url(self, kind: str, record_id: str) -> str:
        return f"/services/data/v{self.api_version}/sobjects/{kind}/{record_id}"

    def records(self, sobject: str) -> list[dict[str, Any]]:
        """A snapshot of one object's records."""
        with self._lock:
            return list(self.files if sobject == "EventLogFile" else self.objects.get(sobject, []))


def salesforce_app(events: Iterable[dict[str, Any]] = (), *, tokens: Iterable[str] = (),
                   client: tuple[str, str] | None = None, faults: FaultPlan = FaultPlan(),
                   rate_limit: int = 1_000_000, clock: Callable[[], float] = time.time,
                   query_batch: int = 2000, api_version: str = API_VERSION,
                   signed_app: SignedApp | None = None, login_url: str | None = None) -> Starlette:
    """The imitation as an ASGI app; ``app.state.store.extend`` publishes more events while it serves.
    ``client`` (consumer key, secret) may use the client credentials flow; ``signed_app`` the JWT
    bearer flow, its assertion's audience ``login_url`` (default: the URL of the server the token
    request came to). ``app.state.login_app`` is the login server (``login.salesforce.com``): only
    the token endpoint, its tokens good at this app; serve it on a second port. Every token
    request is noted in ``app.state.sign_ins``: the origin it came to, the grant, and the
    assertion's audience."""
    check = None if signed_app is None else \
        AssertionCheck(signed_app, max_lifetime=180.0, unique=False, clock=clock)
    data = SalesforceData(api_version)
    data.extend(events)
    accepted = set(tokens)
    gate = Gate(Style(None, _error_body), Faults(faults), RateWindow(rate_limit, 60.0, clock))
    cursors: dict[str, list[dict[str, Any]]] = {}
    cursor_ids = itertools.count(1)
    sign_ins: list[SignIn] = []

    def authorized(request: Request) -> bool:
        return bearer(request, ("Bearer", "OAuth")) in accepted

    def issue(request: Request) -> Response:
        issued = f"00Dimitation!{next(cursor_ids):08d}.{time.time_ns()}"
        accepted.add(issued)
        base = f"{request.url.scheme}://{request.url.netloc}"
        return Response(dumps({"access_token": issued, "signature": "imitation", "scope": "api",
                               "instance_url": base, "id": f"{base}/id/00D000000000001/005000000000001",
                               "token_type": "Bearer", "issued_at": str(int(clock() * 1000))}),
                        media_type="application/json")

    def jwt_bearer(request: Request, assertion: str | None) -> Response:
        if check is None:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        audience = login_url or f"{request.url.scheme}://{request.url.netloc}"
        try:
            check.verify(assertion, audience=audience.rstrip("/"), subject=str(check.app.username))
        except Rejected as exc:
            return _oauth_error("invalid_grant", f"assertion {exc}")
        return issue(request)

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        sign_ins.append(SignIn(f"{request.url.scheme}://{request.url.netloc}", form.get("grant_type", ""),
                               _audience(form.get("assertion"))))
        if form.get("grant_type") == JWT_BEARER_GRANT:
            return jwt_bearer(request, form.get("assertion"))
        if form.get("grant_type") != "client_credentials":
            return Response(dumps({"error": "unsupported_grant_type", "error_description": "grant type not supported"}),
                            400, media_type="application/json")
        if client is None or (form.get("client_id"), form.get("client_secret")) != client:
            return Response(dumps({"error": "invalid_client", "error_description": "invalid client credentials"}),
                            400, media_type="application/json")
        return issue(request)

    def page(version: str, locator: str, records: list[dict[str, Any]], offset: int) -> bytes:
        chunk = records[offset:offset + query_batch]
        answer: dict[str, Any] = {"totalSize": len(records), "done": offset + len(chunk) >= len(records),
                                  "records": chunk}
        if not answer["done"]:
            answer["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{offset + len(chunk)}"
        return dumps(answer)

    def query(request: Request) -> tuple[bytes, tuple[str, ...]]:
        soql = request.query_params.get("q")
        if not soql:
            raise BadRequest("MALFORMED_QUERY: q is required")
        parsed = parse(soql)
        found = run(parsed, data.records(parsed.sobject))
        locator = f"01gIMITATION{next(cursor_ids):06d}"
        cursors[locator] = found
        return page(request.path_params["version"], locator, found, 0), ()

    def more(request: Request) -> tuple[bytes, tuple[str, ...]]:
        locator, _, offset = request.path_params["locator"].rpartition("-")
        if locator not in cursors or not offset.isdigit():
            raise BadRequest("INVALID_QUERY_LOCATOR: invalid query locator")
        return page(request.path_params["version"], locator, cursors[locator], int(offset)), ()

    def log_file(request: Request) -> tuple[bytes, tuple[str, ...]]:
        body = data.bodies.get(request.path_params["file_id"])
        if body is None:
            raise BadRequest("NOT_FOUND: no such EventLogFile")
        return body, ()

    async def serve_query(request: Request) -> Response:
        return await gate.serve(request, authorized(request), query)

    async def serve_more(request: Request) -> Response:
        return await gate.serve(request, authorized(request), more)

    async def serve_log_file(request: Request) -> Response:
        return await gate.serve(request, authorized(request), log_file, media_type="text/csv")

    data_path = "/services/data/v{version}"
    app = Starlette(routes=[
        Route("/services/oauth2/token", token, methods=["POST"]),
        Route(data_path + "/query", serve_query),
        Route(data_path + "/query/{locator}", serve_more),
        Route(data_path + "/sobjects/EventLogFile/{file_id}/LogFile", serve_log_file),
        append_route(data, authorized),
    ])
    app.state.store = data
    app.state.faults = gate.faults
    app.state.sign_ins = sign_ins
    app.state.login_app = Starlette(routes=[Route("/services/oauth2/token", token, methods=["POST"])])
    return app


@dataclass(frozen=True)
class SignIn:
    """One token request the imitation got: where, which grant, the assertion's ``aud`` (if any)."""

    origin: str
    grant_type: str
    audience: str | None


def _audience(assertion: str | None) -> str | None:
    """The ``aud`` claim of an assertion, unverified (what was asked for, good or not)."""
    if not assertion:
        return None
    try:
        aud = jwt.decode(assertion, options={"verify_signature": False}).get("aud")
    except jwt.PyJWTError:
        return None
    return aud if isinstance(aud, str) else None

"""Salesforce Event Monitoring: EventLogFile CSVs, and the Real-Time Event Monitoring storage
objects (LoginEvent, ApiEvent, …), by SOQL ``query`` with ``nextRecordsUrl`` paging.

Each poll lists the EventLogFile records of one ``Interval`` (Hourly or Daily) in ``LogDate``,
``Id`` order and reads every file not read yet: its ``LogFile`` CSV is streamed and parsed by the
file readers' CSV code, so a file of any size is read in bounded memory and handed on in batches.
Then each storage object is queried by ``EventDate``. The checkpoint holds, per event type, the
last file's ``LogDate`` and ``Id`` (and the rows of it already handed on, while it is being read),
and per object the last record's ``EventDate`` and ``Id``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from tokentrail.errors import ConfigError
from tokentrail.sources.collectors.assertions import JWT_BEARER_GRANT, SigningKey, salesforce_bearer_assertion
from tokentrail.sources.collectors.base import Batch
from tokentrail.sources.collectors.common import (
    DEFAULT_BATCH,
    check_positive,
    decode_checkpoint,
    encode_checkpoint,
    iso_z,
    parse_since,
)
from tokentrail.sources.collectors.http import (
    Backoff,
    Clock,
    HttpApi,
    Stopped,
    Timing,
    base_url,
)
from tokentrail.sources.collectors.tokens import BearerToken, TokenRequest, client_credentials
from tokentrail.sources.csvrows import csv_rows
from tokentrail.sources.limits import DEFAULT_LIMITS, ReadLimits
from tokentrail.sources.rejects import KeptRecord

_COMMON = ("Id", "EventIdentifier", "EventDate", "UserId", "Username", "SourceIp", "SessionKey", "LoginKey")
# Fields asked of each storage object unless the caller names its own (SOQL has no "all fields"
# without a LIMIT of 200).
OBJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "LoginEvent": (*_COMMON, "LoginType", "Status", "Application", "Browser", "Platform", "LoginUrl",
                   "CountryIso", "City", "TlsProtocol", "CipherSuite", "UserType"),
    "ApiEvent": (*_COMMON, "ApiType", "ApiVersion", "Application", "Client", "ConnectedAppId", "Operation",
                 "QueriedEntities", "RowsProcessed", "UserAgent", "Query"),
}
_ELF_FIELDS = "Id, EventType, LogDate, Interval, Sequence, LogFileLength"


class SalesforceLogCollector:
    """Pulls one org's Event Monitoring logs. Give ``token`` (an access token); or ``client_id``
    and ``client_secret`` of a connected app with the client-credentials flow enabled; or
    ``client_id`` (the consumer key), ``username`` and the app's ``private_key`` for the JWT bearer
    flow. ``login_url`` (e.g. ``https://login.salesforce.com``, ``https://test.salesforce.com`` or
    the My Domain URL) is the JWT assertion's audience and where tokens are asked for
    (``<login url>/services/oauth2/token``); default: the instance URL."""

    def __init__(self, instance_url: str, *, token: str | None = None, client_id: str | None = None,
                 client_secret: str | None = None, username: str | None = None,
                 private_key: SigningKey | None = None, login_url: str | None = None,
                 api_version: str = "59.0", interval: str = "Hourly",
                 event_types: Sequence[str] | None = None,
                 objects: Sequence[str] | Mapping[str, Sequence[str]] = (),
                 since: datetime | str | None = None, poll_interval: float = 60.0,
                 batch_size: int = DEFAULT_BATCH, backoff: Backoff = Backoff(), timing: Timing | None = None,
                 limits: ReadLimits = DEFAULT_LIMITS, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.origin = base_url(instance_url, what="Salesforce instance URL")
        if interval not in ("Hourly", "Daily"):
            raise ConfigError(f"EventLogFile interval must be Hourly or Daily, not {interval!r}")
        check_positive("batch size", batch_size)
        self.name = f"salesforce:{self.origin.split('://', 1)[1]}"
        self.api_version, self.interval = api_version.lstrip("v"), interval
        self.event_types = tuple(event_types or ())
        if isinstance(objects, Mapping):
            self.objects = {name: tuple(fields) for name, fields in objects.items()}
        else:
            unknown = [o for o in objects if o not in OBJECT_FIELDS]
            if unknown:
                raise ConfigError(f"no default fields for {', '.join(unknown)}; name the fields to query")
            self.objects = {name: OBJECT_FIELDS[name] for name in objects}
        self.timing = timing or Timing()
        self.login_origin = _login_origin(login_url) if login_url else self.origin
        if private_key is not None:
            if not (client_id and username):
                raise ConfigError("the Salesforce JWT bearer flow needs the consumer key and a username")
            grant = _jwt_bearer(private_key, client_id, username, self.login_origin, self.timing.clock)
        else:
            login = self.login_origin
            grant = client_credentials("Salesforce", client_id, client_secret,
                                       lambda cid, secret: _token_request(cid, secret, login))
        self.token = BearerToken(vendor="Salesforce", token=token, grant=grant, clock=self.timing.clock)
        self.since = parse_since(since)
        self.batch_size, self.poll_interval, self.limits = batch_size, poll_interval, limits
        self._http: dict[str, Any] = dict(backoff=backoff, timing=self.timing, limits=limits, timeout=timeout,
                                          transport=transport)

    def batches(self, checkpoint: str | None, stop: threading.Event) -> Iterator[Batch]:
        """Yield new log rows and records from ``checkpoint``; see ``Collector.batches``."""
        state = self._resume(checkpoint)
        api = HttpApi(self.origin, auth=lambda: self.token.headers(api, stop), secrets=self.token.secrets,
                      on_unauthorized=self.token.forget, **self._http)
        try:
            while not stop.is_set():
                try:
                    yield from self._files(api, state, stop)
                    yield from self._objects(api, state, stop)
                except Stopped:
                    return
                yield Batch((), encode_checkpoint("salesforce", state), self.name, caught_up=True)
                self.timing.sleep(self.poll_interval, stop)
        finally:
            api.close()

    # -- EventLogFile ----------------------------------------------------------------------------

    def _files(self, api: HttpApi, state: dict[str, Any], stop: threading.Event) -> Iterator[Batch]:
        done: dict[str, dict[str, Any]] = state["files"]
        where = [f"Interval = '{self.interval}'"]
        lower = min((_when(cp["LogDate"]) for cp in done.values()), default=None) or _when(state["since"])
        if lower is not None:
            where.append(f"LogDate >= {_soql_datetime(lower)}")
        if self.event_types:
            where.append("EventType IN ({})".format(", ".join(_soql_string(t) for t in self.event_types)))
        soql = f"SELECT {_ELF_FIELDS} FROM EventLogFile WHERE {' AND '.join(where)} ORDER BY LogDate, Id"
        for record in self._query(api, soql, stop):
            kind, file_id, log_date = str(record["EventType"]), str(record["Id"]), str(record["LogDate"])
            cp = done.get(kind)
            skip = 0
            if cp is not None:
                here, there = (_when(log_date), file_id), (_when(cp["LogDate"]), cp["Id"])
                if here < there or (here == there and "row" not in cp):
                    continue
                skip = cp["row"] if here == there else 0
            yield from self._file(api, state, kind, file_id, log_date, skip, stop)

    def _file(self, api: HttpApi, state: dict[str, Any], kind: str, file_id: str, log_date: str,
              skip: int, stop: threading.Event) -> Iterator[Batch]:
        """The rows of one log file after the first ``skip``, in batches."""
        rejected: list[str] = []
        read = 0

        def reject(message: str, line: int | None) -> KeptRecord | None:
            if read >= skip:  # a bad row before the resume point was reported the first time
                rejected.append(f"EventLogFile {file_id} ({kind}) line {line}: {message}")
            return None

        url = f"{self.origin}/services/data/v{self.api_version}/sobjects/EventLogFile/{file_id}/LogFile"
        rows = csv_rows(api.lines(url, stop, reject), row_limit=self.limits.max_line_bytes,
                        cell_limit=self.limits.max_cell_bytes, reject=reject)
        pending: list[dict[str, Any]] = []
        for row, _line in rows:
            read += 1
            if read <= skip:
                continue
            pending.append(row)
            if len(pending) == self.batch_size:
                state["files"][kind] = {"LogDate": log_date, "Id": file_id, "row": read}
                yield self._batch(state, pending, rejected)
        state["files"][kind] = {"LogDate": log_date, "Id": file_id}
        yield self._batch(state, pending, rejected)

    # -- storage objects -------------------------------------------------------------------------

    def _objects(self, api: HttpApi, state: dict[str, Any], stop: threading.Event) -> Iterator[Batch]:
        for name, fields in self.objects.items():
            cp = state["objects"].get(name)
            lower = _when(cp["EventDate"]) if cp else _when(state["since"])
            where = f" WHERE EventDate >= {_soql_datetime(lower)}" if lower is not None else ""
            soql = f"SELECT {', '.join(fields)} FROM {name}{where} ORDER BY EventDate, Id"
            seen = (_when(cp["EventDate"]), cp["Id"]) if cp else None
            pending: list[dict[str, Any]] = []
            for record in self._query(api, soql, stop):
                if seen is not None and (_when(record.get("EventDate")), str(record.get("Id"))) <= seen:
                    continue
                pending.append(record)
                state["objects"][name] = {"EventDate": record.get("EventDate"), "Id": str(record.get("Id"))}
                if len(pending) == self.batch_size:
                    yield self._batch(state, pending, [])
            if pending:
                yield self._batch(state, pending, [])

    # -- shared ------------------------------------------------------------------------------------

    def _query(self, api: HttpApi, soql: str, stop: threading.Event) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, following ``nextRecordsUrl``."""
        url: str | None = f"{self.origin}/services/data/v{self.api_version}/query?{urlencode({'q': soql})}"
        while url is not None:
            body, _ = api.json_object("GET", url, stop)
            if not isinstance(body, dict) or not isinstance(body.get("records"), list):
                raise api.error(f"{self.origin}: a query answered without records")
            yield from (r for r in body["records"] if isinstance(r, dict))
            following = body.get("nextRecordsUrl")
            url = f"{self.origin}{following}" if isinstance(following, str) and following.startswith("/") \
                and not body.get("done", True) else None

    def _batch(self, state: dict[str, Any], pending: list[dict[str, Any]], rejected: list[str]) -> Batch:
        batch = Batch(tuple(pending), encode_checkpoint("salesforce", state), self.name, rejected=tuple(rejected))
        pending.clear()
        rejected.clear()
        return batch

    def _resume(self, checkpoint: str | None) -> dict[str, Any]:
        state = decode_checkpoint("salesforce", checkpoint)
        if state is None:
            return {"files": {}, "objects": {}, "since": iso_z(self.since) if self.since else None}
        if not isinstance(state.get("files"), dict) or not isinstance(state.get("objects"), dict):
            raise ConfigError("Salesforce checkpoint lacks its files and objects; refusing to guess where to resume")
        return state


_TOKEN_PATH = "/services/oauth2/token"
_REFUSED = (400, 401, 403)


def _login_origin(url: str) -> str:
    """The login server's ``scheme://host[:port]``: https except to loopback, and no path — the
    assertion's audience must be exactly that origin, so a path is refused rather than dropped."""
    origin = base_url(url, what="Salesforce login URL")
    rest = url.strip().rstrip("/")
    if "://" not in rest:
        rest = "https://" + rest
    if rest.lower() != origin.lower():
        raise ConfigError(f"Salesforce login URL {url!r} must be an origin such as https://login.salesforce.com "
                          "(no path, query or fragment)")
    return origin


def _token_request(client_id: str, client_secret: str, origin: str) -> TokenRequest:
    return TokenRequest(_TOKEN_PATH, form={"grant_type": "client_credentials", "client_id": client_id,
                                           "client_secret": client_secret}, refused=_REFUSED,
                        secrets=(client_secret,), origin=origin)


def _jwt_bearer(key: SigningKey, consumer_key: str, username: str, login: str,
                clock: Clock) -> Callable[[], TokenRequest]:
    """The JWT bearer grant: the assertion's audience is the login server, which the token is asked of."""

    def grant() -> TokenRequest:
        assertion = salesforce_bearer_assertion(key, consumer_key, username, login, clock())
        return TokenRequest(_TOKEN_PATH, form={"grant_type": JWT_BEARER_GRANT, "assertion": assertion},
                            refused=_REFUSED, secrets=(assertion,), origin=login)

    return grant


def _when(text: Any) -> datetime | None:
    """A Salesforce or ISO datetime as an aware UTC datetime (None for none)."""
    if not isinstance(text, str) or not text:
        return None
    text = text.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise ConfigError(f"unreadable Salesforce date {text!r}") from None


def _soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal, to the second (the collector skips what it already has)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _soql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

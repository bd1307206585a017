"""One HTTP layer for every vendor collector: retries, rate limits, transport checks, bounded reads.

A request is retried with exponential back-off on 5xx answers, timeouts, connection errors and
bodies cut off mid-way; a 429 waits until the rate-limit window resets (plus jitter); a response
whose remaining allowance is low makes the *next* request wait for the reset. Bodies are streamed
and parsed as they arrive, each record held to the ``ReadLimits``. Clock, sleep and jitter are
injectable so back-off tests take no time. Secrets travel in headers only and are scrubbed from
every message this module builds.
"""

from __future__ import annotations

import ipaddress
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson
import simdjson

from tokentrail.errors import ConfigError, TokenTrailError
from tokentrail.sources.jsondoc import DocumentScanner
from tokentrail.sources.limits import DEFAULT_LIMITS, ReadLimits
from tokentrail.sources.lines import CHUNK_BYTES, Read, line_batches
from tokentrail.sources.rejects import KeptRecord, Reject

T = TypeVar("T")
# A JSON body up to this size (and the record limit) is parsed whole, in C; a larger one is
# scanned element by element, so memory stays bounded whatever a server sends.
WHOLE_BODY_BYTES = 64 << 20
Clock = Callable[[], float]
Sleep = Callable[[float, threading.Event], None]


class CollectorError(TokenTrailError):
    """A log API could not be read: refused, kept failing, or answered something unusable."""


class CollectorAuthError(CollectorError):
    """The API refused the credentials (401/403): retrying cannot help."""


class Stopped(Exception):
    """The stop event was set while waiting: the caller returns without yielding more."""


class _Retry(Exception):
    """The response is worth another try (a truncated body, a non-JSON answer from a proxy)."""


def wait_on_stop(seconds: float, stop: threading.Event) -> None:
    """The default sleep: wakes as soon as ``stop`` is set."""
    stop.wait(seconds)


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def base_url(url: str, *, what: str) -> str:
    """``url`` as ``scheme://host[:port]`` (a bare host gets https); http is refused except to a
    loopback address, so a token never crosses a network in clear."""
    text = url.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{what} {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(f"{what} {url!r} must use https (plain http is allowed to loopback addresses only)")
    if parts.username or parts.password:
        raise ConfigError(f"{what} must not carry credentials in the URL")
    return f"{parts.scheme}://{parts.netloc}"


def same_origin(url: str, origin: str) -> bool:
    """Whether ``url`` points at ``origin`` (scheme, host and port): a next link elsewhere would
    carry the token to another server."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() == origin.lower()


def link_next(headers: httpx.Headers) -> str | None:
    """The target of the ``rel="next"`` link among the response's ``Link`` headers."""
    for value in headers.get_list("link"):
        for part in value.split(","):
            target, _, params = part.partition(";")
            rels = {p.strip().replace('"', "").lower() for p in params.split(";")}
            if "rel=next" in rels:
                return target.strip().strip("<>")
    return None


@dataclass(frozen=True)
class RateHeaders:
    """The names of a vendor's rate-limit headers (lower case)."""

    limit: str
    remaining: str
    reset: str


OKTA_RATE = RateHeaders("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
AUTH0_RATE = RateHeaders("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@dataclass(frozen=True)
class Backoff:
    """How long to wait and how often to try again.

    ``attempts``: tries of one request through 5xx answers, timeouts and broken connections
    (waits ``base * 2**n`` capped at ``cap``, plus jitter); ``rate_limited``: 429s in a row before
    giving up; ``low_remaining``: a Remaining at or below it waits for the Reset before the next
    request; ``max_reset_wait`` caps a Reset far ahead (a skewed clock).
    """

    attempts: int = 8
    base: float = 1.0
    cap: float = 60.0
    jitter: float = 1.0
    rate_limited: int = 100
    low_remaining: int = 0
    max_reset_wait: float = 300.0


@dataclass(frozen=True)
class Timing:
    """Where time comes from: injectable so back-off tests are instant and exact."""

    clock: Clock = time.time
    sleep: Sleep = wait_on_stop
    rng: random.Random = field(default_factory=random.Random)


class _Rejects:
    """Collects the one-line errors for records of a body that could not be used."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.messages: list[str] = []
        self.truncated = False

    def __call__(self, message: str, line: int | None) -> KeptRecord | None:
        if message.startswith(("JSON ends inside", "JSON array not closed")):
            self.truncated = True
        self.messages.append(f"{self.where}: {message}")
        return None


@dataclass(frozen=True)
class JsonPage:
    """The records of one JSON response and what came with them. ``raw``, when asked for and the
    body is a JSON array of objects within the record limit: each record as its compact JSON
    text instead of ``items`` (see ``object_texts``)."""

    items: tuple[dict[str, Any], ...]
    headers: httpx.Headers
    rejected: tuple[str, ...]
    raw: tuple[bytes, ...] | None = None


class HttpApi:
    """Requests to one API origin with the retry, rate-limit and size rules above.

    ``auth`` gives the request headers carrying the credentials (called per request, so a token
    refreshed after expiry is used); ``on_unauthorized`` is called once on a 401 and returns
    whether new credentials are worth one more try; ``secrets`` lists what must never appear in a
    message.
    """

    def __init__(self, origin: str, *, auth: Callable[[], Mapping[str, str]],
                 secrets: Callable[[], Iterable[str]], rate: RateHeaders | None = None,
                 backoff: Backoff = Backoff(), timing: Timing | None = None,
                 limits: ReadLimits = DEFAULT_LIMITS, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None,
                 on_unauthorized: Callable[[], bool] | None = None) -> None:
        self.origin = origin
        self._auth = auth
        self._secrets = secrets
        self._rate = rate
        self.backoff = backoff
        self.timing = timing or Timing()
        self.limits = limits
        self._on_unauthorized = on_unauthorized
        self._not_before = 0.0
        self._timeout, self._transport = timeout, transport
        self._simdjson: simdjson.Parser | None = None  # made on first use, by the thread that reads
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                                    headers={"Accept": "application/json", "User-Agent": "tokentrail"})

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def sibling(self, origin: str) -> HttpApi:
        """An API at another origin with this one's retry, size and secret rules and no
        credentials of its own (a token endpoint on a separate login server); close it after use."""
        return HttpApi(origin, auth=dict, secrets=self._secrets, backoff=self.backoff, timing=self.timing,
                       limits=self.limits, timeout=self._timeout, transport=self._transport)

    def scrub(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self._secrets():
            if secret:
                text = text.replace(secret, "***")
        return text

    def error(self, message: str, cls: type[CollectorError] = CollectorError) -> CollectorError:
        """A collector error whose message is scrubbed of secrets."""
        return cls(self.scrub(message))

    # -- requests ------------------------------------------------------------------------------

    def json_array(self, url: str, stop: threading.Event, *, what: str, raw: bool = False) -> JsonPage:
        """GET ``url`` (whose body is a JSON array, or a wrapper holding one), element by element;
        with ``raw``, an array of objects comes as their texts (``JsonPage.raw``)."""

        def read(response: httpx.Response) -> JsonPage:
            rejects = _Rejects(f"{what} {_path(url)}")
            read_on = _reader(response)
            most = min(self.limits.max_document_bytes, WHOLE_BODY_BYTES)
            head = _head(read_on, most)
            if raw and len(head) <= most:  # the whole body, within the record limit
                if self._simdjson is None:
                    self._simdjson = simdjson.Parser()
                texts = object_texts(self._simdjson, head)
                if texts is not None:
                    return JsonPage((), response.headers, (), raw=texts)
            whole = _whole_array(head)
            if whole is not None:  # a body within the record limit holds no record over it
                return JsonPage(whole, response.headers, ())
            scanner = DocumentScanner(read_on, head, 1, limit=self.limits.max_document_bytes,
                                      line_limit=self.limits.max_line_bytes, reject=rejects)
            items = tuple(event for event, _ in scanner.events())
            if rejects.truncated:
                raise _Retry("the response body was cut off")
            return JsonPage(items, response.headers, tuple(rejects.messages))

        return self.send("GET", url, stop, read)

    def json_object(self, method: str, url: str, stop: threading.Event, *,
                    data: Mapping[str, str] | None = None, json: Any = None, authorized: bool = True,
                    refused: tuple[int, ...] = (401, 403)) -> tuple[Any, httpx.Headers]:
        """A small JSON answer (a token, one query page), its body held to the document limit."""

        def read(response: httpx.Response) -> tuple[Any, httpx.Headers]:
            body = bytearray()
            for chunk in response.iter_bytes(CHUNK_BYTES):
                body += chunk
                if len(body) > self.limits.max_document_bytes:
                    raise self.error(f"{_path(url)}: response longer than the "
                                     f"{self.limits.max_document_bytes}-byte limit")
            try:
                return orjson.loads(body), response.headers
            except orjson.JSONDecodeError:
                raise _Retry("the response is not JSON (cut off?)") from None

        return self.send(method, url, stop, read, data=data, json=json, authorized=authorized, refused=refused)

    def send(self, method: str, url: str, stop: threading.Event, consume: Callable[[httpx.Response], T], *,
             data: Mapping[str, str] | None = None, json: Any = None, authorized: bool = True,
             refused: tuple[int, ...] = (401, 403)) -> T:
        """Send one request, retrying as described above, and hand the 2xx response to ``consume``
        while its body streams (a body that breaks off is asked for again). Raises ``Stopped``
        when ``stop`` is set while waiting."""
        tries = _Tries(self, url, stop)
        while True:
            try:
                with self.opened(method, url, stop, data=data, json=json, authorized=authorized,
                                 tries=tries, refused=refused) as response:
                    return consume(response)
            except (httpx.TransportError, _Retry) as exc:
                tries.failed(f"{type(exc).__name__}: {exc}")

    def lines(self, url: str, stop: threading.Event, reject: Reject, *,
              accept: str = "text/csv") -> Iterator[tuple[int, list[bytes]]]:
        """The body of ``url`` as numbered batches of lines, as they arrive (memory: one line
        limit plus one read). A body that breaks off is asked for again and goes on after the
        last line already handed on."""
        delivered = 0
        tries = _Tries(self, url, stop)
        while True:
            try:
                with self.opened("GET", url, stop, accept=accept, tries=tries) as response:
                    for first, batch in line_batches(_reader(response), self.limits.max_line_bytes,
                                                     _after(delivered, reject)):
                        skip = max(0, delivered + 1 - first)
                        if skip < len(batch):
                            yield first + skip, batch[skip:]
                            delivered = first + len(batch) - 1
                    return
            except httpx.TransportError as exc:
                tries.failed(f"{type(exc).__name__}: {exc}")

    @contextmanager
    def opened(self, method: str, url: str, stop: threading.Event, *, data: Mapping[str, str] | None = None,
               json: Any = None, authorized: bool = True, accept: str | None = None,
               tries: _Tries | None = None, refused: tuple[int, ...] = (401, 403)) -> Iterator[httpx.Response]:
        """The 2xx response to one request, its body not read yet; ``refused`` statuses raise
        ``CollectorAuthError`` and other 4xx a ``CollectorError``,
        429s wait for the reset, 5xx and broken connections are tried again."""
        if not same_origin(url, self.origin):
            raise self.error(f"refusing to send credentials to {_origin(url)} (expected {self.origin})")
        tries = tries or _Tries(self, url, stop)
        limited = 0
        reauthorized = False
        while True:
            self._wait(self._not_before - self.timing.clock(), stop)
            headers = dict(self._auth()) if authorized else {}
            if accept:
                headers["Accept"] = accept
            try:
                with ExitStack() as open_response:
                    response = open_response.enter_context(
                        self._client.stream(method, url, headers=headers, data=data, json=json))
                    status = response.status_code
                    self._note_allowance(response.headers)
                    if status < 300:
                        opened_ok = open_response.pop_all()
                    else:
                        body = _excerpt(response)
            except httpx.TransportError as exc:
                tries.failed(f"{type(exc).__name__}: {exc}")
                continue
            if status < 300:
                with opened_ok:
                    yield response
                return
            if status == 401 and not reauthorized and self._on_unauthorized is not None \
                    and self._on_unauthorized():
                reauthorized = True
                continue
            if status in refused:
                raise self.error(f"{_origin(url)} refused the credentials ({status} {body})", CollectorAuthError)
            if status == 429:
                limited += 1
                if limited > self.backoff.rate_limited:
                    raise self.error(f"{_path(url)}: still rate-limited after {limited - 1} waits")
                delay = self._reset_wait(response.headers)
                if delay is None:
                    delay = self._exponential(limited)
                self._wait(delay + self.timing.rng.uniform(0, self.backoff.jitter), stop)
                continue
            if status < 500 and status != 408:
                raise self.error(f"{_path(url)}: HTTP {status} {body}")
            tries.failed(f"HTTP {status} {body}")

    # -- waiting -------------------------------------------------------------------------------

    def _exponential(self, n: int) -> float:
        return min(self.backoff.cap, self.backoff.base * 2 ** (n - 1))

    def _reset_wait(self, headers: httpx.Headers) -> float | None:
        """Seconds until the rate-limit window resets (Reset header, else Retry-After)."""
        if self._rate is not None and (reset := _number(headers.get(self._rate.reset))) is not None:
            return max(0.0, min(self.backoff.max_reset_wait, reset - self.timing.clock()))
        if (after := _number(headers.get("retry-after"))) is not None:
            return max(0.0, min(self.backoff.max_reset_wait, after))
        return None

    def _note_allowance(self, headers: httpx.Headers) -> None:
        """A low Remaining makes the next request wait for the Reset."""
        if self._rate is None:
            return
        remaining = _number(headers.get(self._rate.remaining))
        if remaining is not None and remaining <= self.backoff.low_remaining:
            wait = self._reset_wait(headers)
            if wait:
                self._not_before = self.timing.clock() + wait + self.timing.rng.uniform(0, self.backoff.jitter)

    def _wait(self, seconds: float, stop: threading.Event) -> None:
        if stop.is_set():
            raise Stopped
        if seconds > 0:
            self.timing.sleep(seconds, stop)
            if stop.is_set():
                raise Stopped


class _Tries:
    """The failed tries of one request, wherever they failed (status, connection, body)."""

    def __init__(self, api: HttpApi, url: str, stop: threading.Event) -> None:
        self.api, self.url, self.stop = api, url, stop
        self.failures = 0

    def failed(self, problem: str) -> None:
        """Count one more: give up after the attempts, else wait exponentially longer."""
        self.failures += 1
        api = self.api
        if self.failures >= api.backoff.attempts:
            raise api.error(f"{_path(self.url)}: gave up after {self.failures} tries; last: {problem}")
        api._wait(api._exponential(self.failures) + api.timing.rng.uniform(0, api.backoff.jitter), self.stop)


def _reader(response: httpx.Response) -> Read:
    """``read(n)`` over the body as it arrives, at most ``n`` bytes a call (the readers' limits
    count on it): memory is one record limit plus one network read."""
    chunks = response.iter_bytes()
    rest = b""

    def read(n: int) -> bytes:
        nonlocal rest
        if not rest:
            rest = next(chunks, b"")
        data, rest = rest[:n], rest[n:]
        return data

    return read


def _head(read: Read, most: int) -> bytes:
    """The body up to ``most`` bytes and one read past them (all of it, when it is shorter)."""
    head = bytearray()
    while len(head) <= most:
        data = read(CHUNK_BYTES)
        if not data:
            return bytes(head)
        head += data
    return bytes(head)


def _whole_array(body: bytes) -> tuple[dict[str, Any], ...] | None:
    """The elements of ``body`` parsed in one go when it is a whole JSON array of objects (the
    common page); None sends it to the element-by-element scanner, which reports what is wrong."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if value.__class__ is list and all(item.__class__ is dict for item in value):
        return tuple(value)
    return None


_ARRAY_STARTS = (b"[", b" ", b"\t", b"\r", b"\n")


def object_texts(parser: simdjson.Parser, body: bytes) -> tuple[bytes, ...] | None:
    """The elements of ``body``, a JSON array of objects, each as its compact JSON text, or None
    when ``body`` is anything else (the caller then parses it as before, which reports what is
    wrong). simdjson validates the whole body strictly and builds no Python objects; each text
    is simdjson's own minified form of one element, whose ``orjson.loads`` is the dict the
    element gives in ``orjson.loads(body)`` (same keys in order, duplicates included, same
    strings, same numbers and number types), so nothing about the records changes, only that
    the caller may prove most of them away without building them (``StreamingEngine.take_line``)."""
    if body[:1] not in _ARRAY_STARTS:  # a byte order mark: simdjson skips it, orjson refuses it
        return None
    # The parser takes a new body only once nothing refers to the last one's document: ``doc``
    # and ``element`` are locals, gone when this returns.
    try:
        doc = parser.parse(body)
    except (ValueError, RuntimeError):  # not JSON, or a number simdjson cannot hold (BIGINT_ERROR)
        return None
    if doc.__class__ is not simdjson.Array:
        return None
    texts = []
    for element in doc:
        if element.__class__ is not simdjson.Object:
            return None
        texts.append(element.mini)
    return tuple(texts)


def _after(delivered: int, reject: Reject) -> Reject:
    """``reject`` for the lines after ``delivered`` only: a body asked for again does not report
    the bad lines before that twice."""

    def on_reject(message: str, line: int | None) -> KeptRecord | None:
        return reject(message, line) if line is None or line > delivered else None

    return on_reject


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _excerpt(response: httpx.Response, limit: int = 300) -> str:
    """The start of an error body, on one line."""
    body = b""
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= limit:
                break
    except httpx.HTTPError:
        pass
    return " ".join(body[:limit].decode("utf-8", "replace").split())


def _path(url: str) -> str:
    """The URL without its query: enough to say where, never a cursor or a filter value."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"

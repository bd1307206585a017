"""Okta System Log (``GET /api/v1/logs``) as polling requests.

A polling request has no ``until`` and ``sortOrder=ASCENDING``; its ``Link: rel="next"`` is always
there, even on an empty page, and is followed whole (the ``after`` cursor is Okta's, never built
here). The checkpoint is the next URL, plus how many events of that page were already handed on
when a page was split into several batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from tokentrail.errors import ConfigError
from tokentrail.sources.collectors.assertions import JWT_CLIENT_ASSERTION, SigningKey, okta_client_assertion
from tokentrail.sources.collectors.base import Batch
from tokentrail.sources.collectors.common import (
    DEFAULT_BATCH,
    check_positive,
    chunks,
    decode_checkpoint,
    encode_checkpoint,
    iso_z,
    parse_since,
)
from tokentrail.sources.collectors.http import (
    OKTA_RATE,
    Backoff,
    Clock,
    HttpApi,
    Stopped,
    Timing,
    base_url,
    link_next,
    same_origin,
)
from tokentrail.sources.collectors.tokens import BearerToken, TokenRequest
from tokentrail.sources.limits import DEFAULT_LIMITS, ReadLimits

MAX_LIMIT = 1000
TOKEN_PATH = "/oauth2/v1/token"
LOGS_SCOPE = "okta.logs.read"


class OktaLogCollector:
    """Pulls one Okta org's System Log. ``token`` is an API token (``SSWS``) or, with
    ``scheme="Bearer"``, an OAuth access token of a service app; or give the service app's
    ``client_id`` and ``private_key`` and the collector gets its own access tokens
    (``okta.logs.read``, private-key JWT client credentials). With ``raw_pages`` the batches
    carry each event's JSON text (``Batch.raw``) instead of the parsed events."""

    def __init__(self, org_url: str, token: str | None = None, *, scheme: str = "SSWS",
                 client_id: str | None = None, private_key: SigningKey | None = None,
                 since: datetime | str | None = None, limit: int = MAX_LIMIT, poll_interval: float = 10.0,
                 batch_size: int = DEFAULT_BATCH, backoff: Backoff = Backoff(), timing: Timing | None = None,
                 limits: ReadLimits = DEFAULT_LIMITS, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None, raw_pages: bool = False) -> None:
        self.origin = base_url(org_url, what="Okta org URL")
        self.raw_pages = raw_pages
        if scheme not in ("SSWS", "Bearer"):
            raise ConfigError(f"Okta token scheme must be SSWS or Bearer, not {scheme!r}")
        if not token and not (client_id and private_key):
            raise ConfigError("no Okta token given, nor a service app's client id and private key")
        check_positive("Okta limit", limit, MAX_LIMIT)
        check_positive("batch size", batch_size)
        self.name = f"okta:{self.origin.split('://', 1)[1]}"
        timing = timing or Timing()
        self._token, self._scheme = token, scheme
        self._bearer = None if token or client_id is None or private_key is None else \
            BearerToken(vendor="Okta", token=None, clock=timing.clock,
                        grant=_service_app(private_key, client_id, self.origin + TOKEN_PATH, timing.clock))
        self.since = parse_since(since)
        self.limit, self.batch_size, self.poll_interval = limit, batch_size, poll_interval
        self._http: dict[str, Any] = dict(backoff=backoff, timing=timing, limits=limits, timeout=timeout,
                                          transport=transport)

    def first_url(self) -> str:
        """The polling request a first start sends."""
        query = {"sortOrder": "ASCENDING", "limit": str(self.limit)}
        if self.since is not None:
            query["since"] = iso_z(self.since)
        return f"{self.origin}/api/v1/logs?{urlencode(query)}"

    def batches(self, checkpoint: str | None, stop: threading.Event) -> Iterator[Batch]:
        """Yield the log page by page from ``checkpoint``; see ``Collector.batches``."""
        url, skip = self._resume(checkpoint)
        api = self._api(stop)
        try:
            while not stop.is_set():
                try:
                    page = api.json_array(url, stop, what="Okta System Log", raw=self.raw_pages)
                except Stopped:
                    return
                following = link_next(page.headers)
                if following is None:
                    raise api.error(f"{self.origin}/api/v1/logs answered a polling request without a "
                                    "Link rel=next; cannot resume without building a cursor")
                if not same_origin(following, self.origin):
                    raise api.error(f"Okta next link points away from {self.origin}")
                records: tuple[Any, ...] = page.items if page.raw is None else page.raw
                caught_up = len(records) < self.limit
                parts = list(chunks(records[skip:], self.batch_size))
                for n, (at, events) in enumerate(parts):
                    last = n == len(parts) - 1
                    state = {"next": following, "skip": 0} if last else \
                        {"next": url, "skip": skip + at + len(events)}
                    yield Batch(events if page.raw is None else (), encode_checkpoint("okta", state), self.name,
                                caught_up=caught_up and last, rejected=page.rejected if n == 0 else (),
                                raw=events if page.raw is not None else ())
                url, skip = following, 0
                if caught_up:
                    self._http["timing"].sleep(self.poll_interval, stop)
        finally:
            api.close()

    def secrets(self) -> tuple[str, ...]:
        """What must never appear in a message: the token, or the service app's tokens and assertions."""
        return self._bearer.secrets() if self._bearer is not None else (self._token or "",)

    def _api(self, stop: threading.Event) -> HttpApi:
        bearer = self._bearer
        if bearer is None:
            return HttpApi(self.origin, auth=lambda: {"Authorization": f"{self._scheme} {self._token}"},
                           secrets=self.secrets, rate=OKTA_RATE, **self._http)
        api = HttpApi(self.origin, auth=lambda: bearer.headers(api, stop), secrets=bearer.secrets,
                      on_unauthorized=bearer.forget, rate=OKTA_RATE, **self._http)
        return api

    def _resume(self, checkpoint: str | None) -> tuple[str, int]:
        state = decode_checkpoint("okta", checkpoint)
        if state is None:
            return self.first_url(), 0
        url, skip = state.get("next"), state.get("skip", 0)
        if not isinstance(url, str) or not isinstance(skip, int) or skip < 0:
            raise ConfigError("Okta checkpoint lacks a next URL; refusing to guess where to resume")
        if not same_origin(url, self.origin):
            raise ConfigError(f"Okta checkpoint is for another org than {self.origin}")
        return url, skip


def _service_app(key: SigningKey, client_id: str, token_url: str, clock: Clock) -> Callable[[], TokenRequest]:
    """Okta's client credentials grant for a service app, authenticated by a signed assertion."""

    def grant() -> TokenRequest:
        assertion = okta_client_assertion(key, client_id, token_url, clock())
        return TokenRequest(TOKEN_PATH, form={"grant_type": "client_credentials", "scope": LOGS_SCOPE,
                                              "client_assertion_type": JWT_CLIENT_ASSERTION,
                                              "client_assertion": assertion},
                            refused=(400, 401, 403), secrets=(assertion,))

    return grant

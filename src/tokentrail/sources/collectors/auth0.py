"""Auth0 tenant logs (``GET /api/v2/logs``) by checkpoint: ``from=<log_id>&take=100``.

The checkpoint is the last ``log_id`` handed on. A first start has no log id to go from, so it
asks the search form once (``sort=date:1``, and ``q=date:[since TO *]`` with ``--since``) and goes
on by checkpoint from the last id of that page. The Management API token is either given, or
fetched with client credentials from ``POST /oauth/token`` and cached until shortly before it
expires (and fetched again on a 401).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from tokentrail.errors import ConfigError
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
    AUTH0_RATE,
    Backoff,
    HttpApi,
    Stopped,
    Timing,
    base_url,
)
from tokentrail.sources.collectors.tokens import BearerToken, TokenRequest, client_credentials
from tokentrail.sources.limits import DEFAULT_LIMITS, ReadLimits

MAX_TAKE = 100


class Auth0LogCollector:
    """Pulls one Auth0 tenant's logs. Give ``token`` (a Management API token) or ``client_id``
    and ``client_secret`` of a machine-to-machine application allowed ``read:logs``."""

    def __init__(self, domain: str, *, token: str | None = None, client_id: str | None = None,
                 client_secret: str | None = None, audience: str | None = None,
                 since: datetime | str | None = None, take: int = MAX_TAKE, poll_interval: float = 10.0,
                 batch_size: int = DEFAULT_BATCH, backoff: Backoff = Backoff(), timing: Timing | None = None,
                 limits: ReadLimits = DEFAULT_LIMITS, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.origin = base_url(domain, what="Auth0 domain")
        check_positive("Auth0 take", take, MAX_TAKE)
        check_positive("batch size", batch_size)
        host = urlsplit(self.origin).netloc
        self.name = f"auth0:{host}"
        self.audience = audience or f"https://{host}/api/v2/"
        self.timing = timing or Timing()
        self.token = BearerToken(vendor="Auth0", token=token, clock=self.timing.clock,
                                 grant=client_credentials("Auth0", client_id, client_secret, self._token_request))
        self.since = parse_since(since)
        self.take, self.batch_size, self.poll_interval = take, batch_size, poll_interval
        self._http: dict[str, Any] = dict(backoff=backoff, timing=self.timing, limits=limits, timeout=timeout,
                                          transport=transport)

    def batches(self, checkpoint: str | None, stop: threading.Event) -> Iterator[Batch]:
        """Yield the logs page by page from ``checkpoint``; see ``Collector.batches``."""
        last = self._resume(checkpoint)
        api = HttpApi(self.origin, auth=lambda: self.token.headers(api, stop), secrets=self.token.secrets,
                      rate=AUTH0_RATE, on_unauthorized=self.token.forget, **self._http)
        try:
            while not stop.is_set():
                try:
                    page = api.json_array(self._url(last), stop, what="Auth0 logs")
                except Stopped:
                    return
                caught_up = len(page.items) < self.take
                parts = list(chunks(page.items, self.batch_size))
                for n, (_, events) in enumerate(parts):
                    if events:
                        last = str(events[-1].get("log_id") or events[-1].get("_id") or last)
                    state = {"from": last} if last is not None else {"since": self._since_text()}
                    yield Batch(events, encode_checkpoint("auth0", state), self.name,
                                caught_up=caught_up and n == len(parts) - 1,
                                rejected=page.rejected if n == 0 else ())
                if caught_up:
                    self.timing.sleep(self.poll_interval, stop)
        finally:
            api.close()

    def _url(self, last: str | None) -> str:
        if last is not None:
            return f"{self.origin}/api/v2/logs?{urlencode({'from': last, 'take': self.take})}"
        query = {"sort": "date:1", "per_page": str(self.take), "page": "0", "include_totals": "false"}
        if self.since is not None:
            query["q"] = f"date:[{iso_z(self.since)} TO *]"
        return f"{self.origin}/api/v2/logs?{urlencode(query)}"

    def _since_text(self) -> str | None:
        return iso_z(self.since) if self.since is not None else None

    def _resume(self, checkpoint: str | None) -> str | None:
        state = decode_checkpoint("auth0", checkpoint)
        if state is None:
            return None
        if "from" in state and isinstance(state["from"], str) and state["from"]:
            return state["from"]
        if "since" in state:  # stored before the first log arrived: start the same way again
            self.since = parse_since(state["since"])
            return None
        raise ConfigError("Auth0 checkpoint lacks a log id; refusing to guess where to resume")

    def _token_request(self, client_id: str, client_secret: str) -> TokenRequest:
        return TokenRequest("/oauth/token", json={"grant_type": "client_credentials", "client_id": client_id,
                                                  "client_secret": client_secret, "audience": self.audience},
                            secrets=(client_secret,))

"""The webhook sink: each alert POSTed as JSON, at least once, with its id as the
``Idempotency-Key`` so the receiver can drop a repeat.

``deliver`` only puts the alerts in an outbox kept in the run's state store, inside the
transaction the checkpoint commits, so an alert is durable the moment its batch is; a thread
sends the outbox in order, retrying with exponential backoff, and removes what was accepted.
The outbox is bounded: when it is full, ``deliver`` waits for room (back-pressure on the
collectors), and gives up with ``SinkError`` when the run is stopped, never blocking for ever.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from tokentrail.sinks.base import SinkError
from tokentrail.sinks.writers import dumps_line
from tokentrail.state import StateStore

DEFAULT_OUTBOX = 10_000
SIGNATURE_HEADER = "X-TokenTrail-Signature"


def redacted_url(url: str) -> str:
    """The URL without path, query or credentials (``https://hooks.example.com/…``): a webhook's
    path often is its secret, and errors and status lines must not show it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-TokenTrail-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookSink:
    """POSTs alerts to ``url``; see the module docstring."""

    def __init__(self, url: str, state: StateStore, *, secret: bytes | None = None,
                 outbox: int = DEFAULT_OUTBOX, on_error: Callable[[str], None] | None = None,
                 timeout: float = 10.0, max_backoff: float = 60.0) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise SinkError(f"webhook:{redacted_url(url)}: the URL must be http or https")
        self.url = url
        self.name = f"webhook:{redacted_url(url)}"
        self.state = state
        self.ns = "\x00webhook:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self.secret = secret
        self.capacity = max(1, outbox)
        self.on_error = on_error or (lambda message: None)
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.sent = 0
        self.failures = 0
        self._seq = time.time_ns()
        self._pending = self._count()
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._send_loop, name="webhook", daemon=True)
        self._thread.start()

    def _count(self) -> int:
        return sum(1 for _ in self.state.items(self.ns))

    def deliver(self, records: Sequence[Mapping[str, Any]], stop: threading.Event | None = None) -> None:
        """Put ``records`` in the outbox, waiting while it is full (until ``stop`` is set)."""
        for record in records:
            with self._wake:
                while self._pending >= self.capacity:
                    if (stop is not None and stop.is_set()) or self._stop.is_set():
                        raise SinkError(f"{self.name}: outbox full ({self.capacity} alerts) and the run "
                                        "is stopping; the batch will be read again")
                    self._wake.wait(0.2)
                self._seq += 1
                self.state.put(self.ns, f"{self._seq:020d}", dict(record))
                self._pending += 1
                self._wake.notify_all()

    @property
    def pending(self) -> int:
        """Alerts in the outbox, not yet accepted by the receiver."""
        return self._pending

    def _send_loop(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            with self._wake:
                if self._pending == 0:
                    self._wake.wait(0.5)
                    continue
            batch = sorted(self.state.items(self.ns))[:100]
            if not batch:
                with self._wake:
                    self._pending = 0
                continue
            for key, record in batch:
                if self._stop.is_set():
                    return
                problem = self._post(record)
                if problem is not None:
                    self.failures += 1
                    self.on_error(f"{self.name}: alert {record.get('id')}: {problem}; retrying in {backoff:.1f}s")
                    self._stop.wait(backoff)
                    backoff = min(self.max_backoff, backoff * 2)
                    break
                backoff = 0.5
                self.state.delete(self.ns, key)
                self.sent += 1
                with self._wake:
                    self._pending -= 1
                    self._wake.notify_all()

    def _post(self, record: Mapping[str, Any]) -> str | None:
        """Send one alert; None when the receiver took it, else why not (one line)."""
        body = dumps_line(record)[:-1]
        headers = {"Content-Type": "application/json", "Idempotency-Key": str(record.get("id")),
                   "User-Agent": "tokentrail"}
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.secret, body)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - scheme checked
                response.read()
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"cannot connect ({getattr(reason, 'strerror', None) or type(reason).__name__})"
        return None

    def drain(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for the outbox to empty; give what is left."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._pending and time.monotonic() < deadline:
                self._wake.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            return self._pending

    def mark(self) -> None:
        return None

    def recover(self, mark: Any) -> None:
        """The outbox left by an earlier run is sent first; nothing else to do."""

    def close(self) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        self._thread.join(timeout=self.timeout + 1)

"""Shared by the live tests: events, rules, and a paged log API on a real local HTTP server with
a small collector for it (the vendor collectors are tested in tests/sources)."""

from __future__ import annotations

import http.server
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from tokentrail.sources.collectors.base import Batch

RULES = """\
title: Okta API token created
id: 7d1e0c1a-0000-4000-8000-0000000000a1
name: token_created
level: high
logsource: {product: okta}
detection:
  selection: {eventType: system.api_token.create}
  condition: selection
---
title: Okta session from a new place
id: 7d1e0c1a-0000-4000-8000-0000000000a2
level: medium
logsource: {product: okta}
detection:
  selection: {eventType: user.session.start}
  condition: selection
---
title: Token burst
id: 5b0e7c1a-0000-4000-8000-0000000000b1
level: critical
correlation:
  type: event_count
  rules: token_created
  group-by: [actor.alternateId]
  timespan: 10m
  condition: {gte: 3}
"""


def okta_event(n: int, event_type: str = "system.api_token.create", user: str = "alice@example.com",
               minute: int | None = None) -> dict:
    """An Okta System Log record; ``n`` makes its uuid and (unless ``minute``) its time."""
    m = n // 60 if minute is None else minute
    return {
        "uuid": f"okta-{n}",
        "published": f"2024-05-01T{10 + m // 60:02d}:{m % 60:02d}:{n % 60:02d}.000Z",
        "eventType": event_type,
        "actor": {"id": "00u1", "type": "User", "alternateId": user},
        "client": {"ipAddress": "198.51.100.7"},
    }


def mixed_events(count: int) -> list[dict]:
    """Token creations by a few users (bursts for the correlation), sessions and noise, in time order."""
    kinds = ["system.api_token.create", "user.session.start", "user.authentication.sso", "system.api_token.create"]
    users = ["alice@example.com", "bob@example.com", "carol@example.com"]
    return [okta_event(n, kinds[n % 4], users[(n // 4) % 3], minute=n // 7) for n in range(count)]


def write_rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yml"
    path.write_text(RULES)
    return path


class PageServer:
    """A log API on 127.0.0.1: ``GET /page/N`` gives page N of ``events`` (``size`` each) as
    ``{"events": [...], "next": N+1}``; a page past the end is empty."""

    def __init__(self, events: list[dict], size: int) -> None:
        self.events, self.size = events, size
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                outer.requests += 1
                n = int(self.path.rsplit("/", 1)[1])
                page = outer.events[n * outer.size:(n + 1) * outer.size]
                body = orjson.dumps({"events": page, "next": n + 1 if page else n})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class PageCollector:
    """Pulls a ``PageServer``; the checkpoint is the next page number. Stops after ``pages``
    pages when given (a run cut short)."""

    def __init__(self, url: str, name: str = "test", pages: int | None = None) -> None:
        self.url, self.name, self.pages = url, name, pages

    def batches(self, checkpoint: str | None, stop: threading.Event) -> Iterator[Batch]:
        n = int(checkpoint or 0)
        taken = 0
        while not stop.is_set():
            with urllib.request.urlopen(f"{self.url}/page/{n}", timeout=10) as response:
                doc = orjson.loads(response.read())
            events = tuple(doc["events"])
            n = doc["next"]
            yield Batch(events, str(n), self.name, caught_up=not events)
            taken += 1
            if self.pages is not None and taken >= self.pages:
                return
            if not events:
                stop.wait(0.05)


AUTH0_RULE = """\
title: Auth0 failed login
id: 7d1e0c1a-0000-4000-8000-0000000000c1
level: medium
logsource: {product: auth0}
detection:
  selection: {data.type: f}
  condition: selection
"""


def auth0_event(n: int, kind: str = "f") -> dict:
    """An Auth0 log stream record (envelope with ``log_id`` and ``data``)."""
    log_id = f"9001{n:08d}"
    return {"log_id": log_id, "data": {"log_id": log_id, "type": kind, "date": f"2024-05-01T10:00:{n % 60:02d}.000Z",
                                       "user_name": f"user{n % 3}@example.com", "ip": "198.51.100.7"}}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: bytes, token: str | None, content_type: str = "application/json") -> tuple[int, bytes]:
    """POST ``body``; (status, response body), HTTP errors included."""
    import urllib.error

    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = token
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_listening(url: str, proc, timeout: float = 30.0) -> None:
    """Wait until ``url``/health answers (or the process died)."""
    import time
    import urllib.error

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"receiver exited {proc.returncode}: {proc.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AssertionError("receiver did not start listening")


class HookReceiver:
    """A webhook receiver on 127.0.0.1 that records each POST's headers and JSON body."""

    def __init__(self, fail_first: int = 0, sock: socket.socket | None = None) -> None:
        """``sock``: a socket bound (not listening) that the receiver takes over, so a test can
        hold a port that nobody answers on and then answer on it, with no moment it is free."""
        self.received: list[tuple[Any, bytes]] = []
        self.fail_first = fail_first
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(503)
                else:
                    outer.received.append((self.headers, body))  # names case-blind, as in HTTP
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        if sock is None:
            self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        else:
            self.httpd = http.server.ThreadingHTTPServer(sock.getsockname(), Handler, bind_and_activate=False)
            self.httpd.socket.close()
            self.httpd.socket = sock
            self.httpd.server_activate()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/secret-path"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def keys(self) -> list[str]:
        return [headers["Idempotency-Key"] for headers, _ in self.received]

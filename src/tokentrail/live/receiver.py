"""The Auth0 Log Streams receiver (a "custom webhook" stream): an ASGI app that takes batches of
log events pushed to it and answers 200 only once their alerts are durable.

Auth0 sends the configured authorization token verbatim in ``Authorization`` (compared here in
constant time: 401 otherwise), a body of JSON lines, a JSON array or one JSON object, and
retries what was not answered 200, so the same ``log_id`` can come twice: ids already taken are
kept in the state store (committed with the batch's alerts) and dropped when they come again.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tokentrail.errors import TokenTrailError
from tokentrail.live.pipeline import Pipeline
from tokentrail.live.sinkset import Stopped

SEEN_NS = "\x00live.auth0-log-ids"
SEEN_DAYS = 30.0  # Auth0 retries for far less; a log id older than this is forgotten
DEFAULT_MAX_BODY = 16 << 20


class TooLarge(Exception):
    """The body passed the cap before it ended."""


def parse_body(body: bytes) -> tuple[list[Mapping[str, Any]], list[str]]:
    """The log events of a body (one JSON object, a JSON array of them, or JSON lines) and one
    line per part that is not an event (bad JSON, not an object)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        doc = None
        events, problems = [], []
        for n, line in enumerate(body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                problems.append(f"line {n}: not JSON ({str(exc).split(':', 1)[0]})")
                continue
            (events if isinstance(item, dict) else problems).append(
                item if isinstance(item, dict) else f"line {n}: not a JSON object")
        return events, problems
    items = doc if isinstance(doc, list) else [doc]
    events = [item for item in items if isinstance(item, dict)]
    problems = [f"item {n}: not a JSON object" for n, item in enumerate(items, 1) if not isinstance(item, dict)]
    return events, problems


def log_id(event: Mapping[str, Any]) -> str | None:
    """The event's Auth0 ``log_id`` (top level, or inside ``data``)."""
    found = event.get("log_id")
    if not isinstance(found, str):
        data = event.get("data")
        found = data.get("log_id") if isinstance(data, Mapping) else None
    return found if isinstance(found, str) and found else None


class Receiver:
    """Takes the pushed batches through ``pipeline``, one at a time."""

    def __init__(self, pipeline: Pipeline, token: str, stop: threading.Event, *,
                 max_body: int = DEFAULT_MAX_BODY, on_error=None) -> None:
        self.pipeline = pipeline
        self._token = token.encode()
        self.stop = stop
        self.max_body = max_body
        self.on_error = on_error or (lambda message: None)
        self.batches = 0
        self.redelivered = 0
        self.rejected = 0
        self.dirty = False
        self._lock = threading.Lock()

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/", self.receive, methods=["POST"]),
                                 Route("/health", self.health, methods=["GET"])])

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "batches": self.batches})

    async def receive(self, request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, self._token):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return JSONResponse({"error": f"body over {self.max_body} bytes"}, status_code=413)
        try:
            body = await self._read(request)
        except TooLarge:
            return JSONResponse({"error": f"body over {self.max_body} bytes"}, status_code=413)
        events, problems = parse_body(body)
        for problem in problems:
            self.on_error(f"auth0-stream: {problem}")
        self.rejected += len(problems)
        if self.dirty:
            return JSONResponse({"error": "an earlier batch failed; restart the receiver"}, status_code=503)
        try:
            taken = await run_in_threadpool(self._take, events)
        except Stopped:
            return JSONResponse({"error": "shutting down; send again"}, status_code=503)
        except TokenTrailError as exc:
            self.on_error(f"auth0-stream: {exc}")
            return JSONResponse({"error": "the batch could not be made durable; send again"}, status_code=503)
        return JSONResponse({"received": len(events), "taken": taken, "rejected": len(problems)})

    async def _read(self, request: Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _take(self, events: list[Mapping[str, Any]]) -> int:
        """Drop redelivered log ids, run the rest, commit: the batch is durable on return."""
        with self._lock:
            state = self.pipeline.state
            fresh, ids = [], set()
            for event in events:
                ident = log_id(event)
                if ident is not None and (ident in ids or state.get(SEEN_NS, ident) is not None):
                    self.redelivered += 1
                    continue
                if ident is not None:
                    ids.add(ident)
                fresh.append(event)
            expires = time.time() + SEEN_DAYS * 86400
            for ident in ids:  # committed by run_batch together with the alerts
                state.put(SEEN_NS, ident, 1, expires=expires)
            try:
                self.pipeline.run_batch(fresh, None, self.stop)
            except BaseException:
                self.dirty = True  # the open transaction holds part of a batch: never commit it
                raise
            self.batches += 1
            return len(fresh)

"""What every imitated data request goes through: the auth check, the rate window and the
injected fault, answered in the vendor's own style (header names, error bodies)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tokentrail.sources.imitate.faults import Faults, RateWindow

Body = Callable[[int, str], bytes]  # (status, message) -> the vendor's JSON error body
Answer = Callable[[Request], tuple[bytes, tuple[str, ...]]]  # -> (body, Link headers)


class BadRequest(Exception):
    """A query the API refuses with a 400; the message says which parameter."""


@dataclass(frozen=True)
class Style:
    """A vendor's rate-limit header names (None: it sends none) and error bodies."""

    rate_headers: tuple[str, str, str] | None
    error_body: Body


class CutOff(Response):
    """Announces the whole body, sends half of it, then drops the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})
        raise ConnectionAbortedError("imitated cut-off response")


class Gate:
    """Admits a data request or answers it with 401, 429 or 5xx; the answer of an admitted one is
    shaped by ``finish`` (rate headers, a slow start, a cut-off body)."""

    def __init__(self, style: Style, faults: Faults, window: RateWindow) -> None:
        self.style, self.faults, self.window = style, faults, window

    def json(self, status: int, headers: dict[str, str] | None = None) -> Response:
        """The vendor's error answer for ``status``."""
        return Response(self.style.error_body(status, ""), status, headers=headers, media_type="application/json")

    async def serve(self, request: Request, authorized: bool, answer: Answer,
                    media_type: str = "application/json") -> Response:
        """The whole answer to a data request: admitted, answered, faults applied."""
        refusal, headers, fault = await self.admit(authorized)
        if refusal is not None:
            return refusal
        try:
            body, links = answer(request)
        except BadRequest as exc:
            return Response(self.style.error_body(400, str(exc)), 400, headers=headers,
                            media_type="application/json")
        return await self.finish(body, fault, headers, links, media_type)

    async def admit(self, authorized: bool) -> tuple[Response | None, dict[str, str], str | None]:
        """``(refusal or None, rate headers, fault to apply to the answer)``."""
        if not authorized:
            return self.json(401), {}, None
        allowed, remaining, reset = self.window.take()
        headers = self._rate(remaining, reset)
        fault = self.faults.draw()
        if not allowed or fault == "429":
            if fault == "429":
                reset = math.ceil(self.window.clock() + self.faults.plan.reset_after)
            return self.json(429, self._rate(0, reset)), headers, None
        if fault == "5xx":
            return self.json(503, headers), headers, None
        return None, headers, fault

    async def finish(self, body: bytes, fault: str | None, headers: dict[str, str],
                     links: tuple[str, ...] = (), media_type: str = "application/json") -> Response:
        """The 200 answer carrying ``body``, with ``fault`` applied."""
        if fault == "slow":
            await asyncio.sleep(self.faults.plan.slow_seconds)
        cls = CutOff if fault == "cut" else Response
        response = cls(body, 200, headers=headers, media_type=media_type)
        for link in links:
            response.raw_headers.append((b"link", link.encode()))
        return response

    def _rate(self, remaining: int, reset: int) -> dict[str, str]:
        if self.style.rate_headers is None:
            return {}
        limit_name, remaining_name, reset_name = self.style.rate_headers
        return {limit_name: str(self.window.limit), remaining_name: str(max(0, remaining)), reset_name: str(reset)}


class Appendable(Protocol):
    """What takes events while an imitation serves."""

    def extend(self, events: Iterable[dict[str, Any]]) -> int: ...

    def __len__(self) -> int: ...


def append_route(store: Appendable, authorized: Callable[[Request], bool],
                 shape: Callable[[dict[str, Any]], dict[str, Any]] = lambda e: e) -> Route:
    """``POST /_imitate/events``: JSON lines appended to the store while it serves (so a polling
    collector has something new to find)."""

    async def append(request: Request) -> Response:
        if not authorized(request):
            return Response(b'{"error":"unauthorized"}', 401, media_type="application/json")
        lines = (await request.body()).splitlines()
        try:
            added = store.extend(shape(orjson.loads(line)) for line in lines if line.strip())
        except orjson.JSONDecodeError as exc:
            return Response(dumps({"error": f"not JSON lines: {exc}"}), 400, media_type="application/json")
        return Response(dumps({"added": added, "total": len(store)}), media_type="application/json")

    return Route("/_imitate/events", append, methods=["POST"])


def bearer(request: Request, schemes: tuple[str, ...] = ("Bearer",)) -> str | None:
    """The token after one of ``schemes`` in the Authorization header."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme in schemes and token.strip() else None


def dumps(value: object) -> bytes:
    """Compact JSON."""
    return orjson.dumps(value)

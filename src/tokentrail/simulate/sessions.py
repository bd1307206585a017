"""Sign-in sessions that outlive one burst of work.

A device signs in once and its later work reuses the session until the session has been idle too
long, is too old, or the person signs out (after which they stay away for a while). This is run
state, shared by the bursts of work on one device, so it is mutable by design.
"""

from __future__ import annotations

from typing import Generic, TypeVar

Ids = TypeVar("Ids")


class Session(Generic[Ids]):
    """One device's session with a vendor: its ids, and how it has been used."""

    __slots__ = ("ids", "started", "ready", "last", "users", "closed_until", "_idle_ms", "_lifetime_ms")

    def __init__(self, ids: Ids, started: int, *, ready_ms: int, idle_ms: int, lifetime_ms: int) -> None:
        self.ids = ids
        self.started = started
        self.ready = started + ready_ms  # when the sign-in is over and work can use the session
        self.last = self.ready
        self.users = 0  # bursts of work in progress on the session
        self.closed_until = 0  # set on sign-out: the device stays signed out until then
        self._idle_ms = idle_ms
        self._lifetime_ms = lifetime_ms

    def open_at(self, ms: int) -> bool:
        """Whether work at ``ms`` can go on in this session without signing in again."""
        return (
            not self.closed_until and ms - self.last < self._idle_ms and ms - self.started < self._lifetime_ms
        )

    def use(self, ms: int) -> None:
        """Record activity in the session at ``ms``."""
        if ms > self.last:
            self.last = ms

    def leave(self) -> bool:
        """A burst of work is done with the session; True if no other burst is still using it."""
        self.users -= 1
        return self.users == 0


class Sessions(Generic[Ids]):
    """The current session of each device for one vendor, with that vendor's timeouts."""

    def __init__(self, *, idle_ms: int, lifetime_ms: int, sign_in_ms: int) -> None:
        self._by_device: dict[str, Session[Ids]] = {}
        self._idle_ms = idle_ms
        self._lifetime_ms = lifetime_ms
        self._sign_in_ms = sign_in_ms

    def join(self, device: str, ms: int) -> tuple[Session[Ids] | None, int]:
        """The device's session if work at ``ms`` can use it, and when that work can start; else
        None and the earliest time the device signs in again (later than ``ms`` after a sign-out)."""
        session = self._by_device.get(device)
        if session is None:
            return None, ms
        if session.open_at(ms):
            session.users += 1
            return session, max(ms, session.ready)
        return None, max(ms, session.closed_until)

    def start(self, device: str, ids: Ids, ms: int) -> Session[Ids]:
        """A new session for ``device`` signed into at ``ms``, already joined by its first burst."""
        session = Session(
            ids, ms, ready_ms=self._sign_in_ms, idle_ms=self._idle_ms, lifetime_ms=self._lifetime_ms
        )
        session.users = 1
        self._by_device[device] = session
        return session

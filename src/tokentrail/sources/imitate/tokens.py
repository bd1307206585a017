"""The access tokens an imitated API accepts: given ones, and ones its token endpoint issued."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable


class IssuedTokens:
    """The tokens the imitation accepts: given ones, and issued ones until they expire."""

    def __init__(self, given: Iterable[str], clock: Callable[[], float], ttl: int) -> None:
        self.given = frozenset(given)
        self.clock, self.ttl = clock, ttl
        self._issued: dict[str, float] = {}
        self._count = 0
        self._lock = threading.Lock()

    def issue(self) -> str:
        """A new token, valid for ``ttl`` seconds."""
        token = "imitated-" + secrets.token_urlsafe(24)
        with self._lock:
            self._issued[token] = self.clock() + self.ttl
            self._count += 1
        return token

    @property
    def issued(self) -> int:
        """How many tokens were issued."""
        return self._count

    def revoke_all(self) -> None:
        """Make every issued token invalid (as a rotated signing key or a revocation does)."""
        with self._lock:
            self._issued.clear()

    def valid(self, token: str | None) -> bool:
        """Whether ``token`` is a given one or an issued one not expired yet."""
        if token is None:
            return False
        if token in self.given:
            return True
        with self._lock:
            return self._issued.get(token, 0.0) > self.clock()

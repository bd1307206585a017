"""The duplicate filter of a run that never ends: it remembers the newest event ids, not all.

A scan's filter (``engine/dedup.py``) keeps every id it took, about 24 bytes each: right for a
file scan, unbounded for a watcher left running for months. What the live sources send twice is
recent — an Okta or Auth0 page fetched again after a retry, a Log Streams batch redelivered —
so a watcher keeps two generations of ids: the one being filled and the one before it. When the
current one holds ``horizon`` ids it becomes the older one and the oldest is dropped, so an id is
remembered for at least ``horizon`` and at most ``2 × horizon`` newer ids, and memory stays under
about ``2 × horizon × 24`` bytes however long the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokentrail.engine.dedup import SeenEvents
from tokentrail.engine.keyruns import FrozenKeys

LIVE_HORIZON_IDS = 1_000_000  # ~24 MB per generation


class RecentEvents(SeenEvents):
    """``SeenEvents`` that forgets ids older than one to two ``horizon``s of newer ones."""

    def __init__(self, memory_ids: int, horizon: int = LIVE_HORIZON_IDS) -> None:
        super().__init__(memory_ids)
        self.horizon = max(1, horizon)
        self.older: SeenEvents | None = None

    @property
    def held(self) -> int:
        """How many ids are remembered (both generations)."""
        return self.count + (0 if self.older is None else self.older.count)

    def is_duplicate(self, event: Mapping[str, Any], log_type: str) -> bool:
        """True when an event of this log type and id was taken within the horizon; else take it."""
        key = self.key(event, log_type)
        return key is not None and self.seen_key(key)

    def seen_key(self, key: str) -> bool:
        """True when ``key`` was recorded within the horizon; else record it."""
        if self.older is not None and self.older.holds(key):
            return True
        if super().seen_key(key):
            return True
        if self.count >= self.horizon:
            generation = SeenEvents(self.memory_ids)
            generation.recent, generation.frozen = self.recent, self.frozen
            self.older, self.recent, self.frozen = generation, set(), FrozenKeys()
        return False

    def close(self) -> None:
        """Drop the ids of both generations."""
        super().close()
        self.older = None

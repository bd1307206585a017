"""Event-time windows by end time: which ones a newer match or signal has closed."""

from __future__ import annotations

import heapq
from collections.abc import Iterator

WindowEnd = tuple[float, float, tuple[str, ...]]  # (end, start, group key)


def note_window(ends: list[WindowEnd], start: float, span: float, key: tuple[str, ...]) -> None:
    """Remember that the window of ``key`` opened at ``start`` ends at ``start + span``."""
    heapq.heappush(ends, (start + span, start, key))


def ended(ends: list[WindowEnd], now: float) -> Iterator[tuple[float, tuple[str, ...]]]:
    """(start, key) of every noted window that ended at or before ``now``, oldest end first;
    each is forgotten. The caller checks the window is still the open one of its key."""
    while ends and ends[0][0] <= now:
        _, start, key = heapq.heappop(ends)
        yield start, key

"""A run of one rule's matches, given as columns, taken apart for alerting a column at a time:
its event times checked to be in order, its matches put together by group key, and the span of
times a slice of them adds to a group."""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

import numpy as np


def run_clock(times: Sequence[float | None]) -> list[float] | None:
    """The times a run's matches are grouped by (None as 0.0, as ``_group_for`` takes it), or
    None when they go back somewhere (or are NaN): then only the match-by-match path is exact."""
    clock = [0.0 if t is None else t for t in times] if None in times else list(times)
    if all(map(operator.le, clock, clock[1:])):
        return clock
    return None


def by_key(keys: Sequence[tuple[str, ...]]) -> tuple[list[int], list[tuple[tuple[str, ...], int, int]]]:
    """The run's positions ordered by group key (keys in order of first appearance, each key's
    positions in run order), and each key with its slice ``[lo, hi)`` of that order."""
    codes: dict[tuple[str, ...], int] = {}
    coded = [codes.setdefault(key, len(codes)) for key in keys]
    if len(codes) <= 1:
        return list(range(len(coded))), [(key, 0, len(coded)) for key in codes]
    numbers = np.fromiter(coded, np.int64, len(coded))
    order = np.argsort(numbers, kind="stable").tolist()
    bounds = np.concatenate(([0], np.cumsum(np.bincount(numbers)))).tolist()
    return order, [(key, bounds[n], bounds[n + 1]) for n, key in enumerate(codes)]


def gathered(column: Sequence[Any], order: list[int]) -> list[Any]:
    """``column`` in ``order``."""
    return [column[i] for i in order]


def span(clock: list[float], times: list[float | None] | None, lo: int, hi: int) -> tuple[float | None, float | None]:
    """The (first, last) time ``_Group.add`` keeps from the matches ``[lo, hi)`` of a slice in
    non-decreasing ``clock`` order: the earliest, and the first of the latest (equal times may
    differ in type); ``times`` (the times with their Nones, or None where the run has none) says
    which to skip."""
    if times is None:
        return clock[lo], clock[bisect_left(clock, clock[hi - 1], lo, hi)]
    first: float | None = None
    last: float | None = None
    for t in times[lo:hi]:
        if t is not None:
            if first is None or t < first:
                first = t
            if last is None or t > last:
                last = t
    return first, last

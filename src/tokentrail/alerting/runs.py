"""A run of one rule's matches, given as columns, taken apart for alerting a group at a time:
its event times checked to be in order, its matches put together by group key, and each key's
matches cut into the groups its windows make."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def run_clock(times: Sequence[float | None]) -> list[float] | None:
    """The times a run's matches are grouped by (None as 0.0, as ``_group_for`` takes it), or
    None when they go back somewhere (or are NaN): then only the match-by-match path is exact."""
    clock = [0.0 if t is None else t for t in times] if None in times else list(times)
    if all(map(operator.le, clock, clock[1:])):
        return clock
    return None


def gathered(column: Sequence[Any], order: Sequence[int]) -> list[Any]:
    """``column`` in ``order``."""
    if len(order) == 1:
        return [column[order[0]]]
    return list(operator.itemgetter(*order)(column)) if order else []


@dataclass(frozen=True)
class KeyedRun:
    """A run's matches by group key: ``order`` lists the run's positions key by key (keys in
    order of first appearance, each key's positions in run order); key ``k`` (``keys[k]``) has
    the slice ``[lo[k], hi[k])`` of it."""

    keys: list[tuple[str, ...]]
    order: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    clock: np.ndarray  # the run's times, in run order
    coded: np.ndarray  # per place of ``order``: its key's number * the run's length + its run position

    @classmethod
    def of(cls, keys: Sequence[tuple[str, ...]], clock: list[float]) -> KeyedRun:
        """The run of these keys and (non-decreasing) times."""
        numbers: dict[tuple[str, ...], int] = {}
        coded = np.fromiter([numbers.setdefault(key, len(numbers)) for key in keys], np.int64, len(keys))
        order = np.argsort(coded, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(np.bincount(coded, minlength=len(numbers)))))
        return cls(list(numbers), order, bounds[:-1], bounds[1:], np.asarray(clock, np.float64),
                   coded[order] * len(keys) + order)

    def exact(self, clock: list[float]) -> bool:
        """Whether the float times compare as the given ones do (no integer too large for them)."""
        return self.clock.tolist() == clock

    def first_at(self, numbers: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Per key number, the place in ``order`` of that key's first match at or past the
        time beside it (its ``hi`` where none is)."""
        positions = np.searchsorted(self.clock, times, "left")
        return np.searchsorted(self.coded, numbers * len(self.order) + positions, "left")


@dataclass(frozen=True)
class Cuts:
    """The groups a run opens, in the order of the matches that open them: the key number,
    window start and slice of ``order`` of each, and where in ``order`` its latest time
    first appears."""

    numbers: list[int]
    starts: list[float]
    lo: list[int]
    hi: list[int]
    latest: list[int]


def cut(run: KeyedRun, numbers: np.ndarray, since: np.ndarray, window: float | None, aligned: bool,
        by_time: Sequence[float]) -> Cuts | None:
    """The groups key ``numbers[i]`` opens from place ``since[i]`` of ``run.order`` on: a group
    opens at its key's next match not yet in one, at that match's time (or the start of the
    ``window``-long period since the epoch it falls in, with ``aligned``), and takes the key's
    matches before its end. Rounds go one group per key at a time. None when a window would
    end before the match that opens it (a time too large for the window to add to)."""
    hi = run.hi[numbers]
    live = since < hi
    numbers, at, hi = numbers[live], since[live], hi[live]
    found: list[tuple[np.ndarray, ...]] = []
    while numbers.size:
        if window is None:
            found.append((numbers, at, hi))
            break
        first = run.clock[run.order[at]]
        starts = np.floor(first / window) * window if aligned else first
        ends = starts + window
        if not np.all(ends > first):
            return None
        past = run.first_at(numbers, ends)
        found.append((numbers, at, past))
        live = past < hi
        numbers, at, hi = numbers[live], past[live], hi[live]
    if not found:
        return Cuts([], [], [], [], [])
    key, lo, end = (np.concatenate(parts) for parts in zip(*found, strict=True))
    order = np.argsort(run.order[lo], kind="stable")
    key, lo, end = key[order], lo[order], end[order]
    latest = run.first_at(key, run.clock[run.order[end - 1]])
    lo_list = lo.tolist()
    starts = [by_time[n] for n in lo_list] if not aligned or window is None else \
        [math.floor(by_time[n] / window) * window for n in lo_list]
    return Cuts(key.tolist(), starts, lo_list, end.tolist(), latest.tolist())


def span(times: Sequence[float | None], lo: int, hi: int) -> tuple[float | None, float | None]:
    """The (first, last) time ``_Group.add`` keeps from the matches ``[lo, hi)`` of ``times``
    (in non-decreasing order, a None as 0.0): the earliest and the first of the latest."""
    first: float | None = None
    last: float | None = None
    for t in times[lo:hi]:
        if t is not None:
            if first is None or t < first:
                first = t
            if last is None or t > last:
                last = t
    return first, last


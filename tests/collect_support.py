"""Shared pieces of the collector and imitation tests: a fake clock whose sleeps are instant
and recorded, simulated events per vendor, and a run-until-caught-up helper."""

from __future__ import annotations

import random
import threading
from contextlib import closing
from functools import cache
from typing import Any

import orjson

from tokentrail.simulate import generate_items
from tokentrail.sources.collectors.base import Batch, Collector
from tokentrail.sources.collectors.http import Timing

TOKEN = "tok-7d3c1f0e-secret-value"


class FakeTime:
    """A clock that only moves when something sleeps; every sleep is recorded."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def timing(self) -> Timing:
        return Timing(clock=self.clock, sleep=self.sleep, rng=random.Random(1))


@cache
def simulated(source: str, events: int = 2000) -> tuple[dict[str, Any], ...]:
    """Simulated events of one source (cached: each test takes copies by building its own app)."""
    return tuple(e for _, s, e in generate_items(["all"], events=events, seed=3, sources=(source,)))


def until_caught_up(collector: Collector, checkpoint: str | None = None,
                    max_batches: int = 10_000) -> list[Batch]:
    """The collector's batches up to and including the first caught-up one."""
    stop = threading.Event()
    got: list[Batch] = []
    with closing(collector.batches(checkpoint, stop)) as batches:  # type: ignore[type-var]
        for batch in batches:
            got.append(batch)
            if batch.caught_up or len(got) >= max_batches:
                break
    return got


def events_of(batch: Batch) -> list[Any]:
    """A batch's events, parsed from its texts when it carries them (``Batch.raw``)."""
    return list(batch.events) or [orjson.loads(text) for text in batch.raw]


def ids(batches: list[Batch], key: str) -> list[str]:
    """The id of every event in the batches, in order."""
    return [e[key] for b in batches for e in events_of(b)]

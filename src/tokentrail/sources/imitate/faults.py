"""Faults an imitation injects into its data requests, by request number or by seeded chance,
and the fixed-window rate limit it enforces and reports."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tokentrail.errors import ConfigError

FAULTS = ("429", "5xx", "slow", "cut")


@dataclass(frozen=True)
class FaultPlan:
    """Which data requests fail, and how.

    ``fail_rate``: the chance a request fails, with one of ``kinds`` picked evenly; ``slow_rate``:
    the chance a (not failed) answer waits ``slow_seconds`` first; ``schedule``: request numbers
    (1-based, counted over data requests) and the fault each gets, whatever the chances say;
    ``reset_after``: seconds from an injected 429 to the Reset it announces.
    """

    fail_rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "5xx", "cut")
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    schedule: tuple[tuple[int, str], ...] = ()
    seed: int = 0
    reset_after: float = 1.0

    def __post_init__(self) -> None:
        for name in ("fail_rate", "slow_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1")
        unknown = [k for k in (*self.kinds, *(kind for _, kind in self.schedule)) if k not in FAULTS]
        if unknown or not self.kinds:
            raise ConfigError(f"unknown fault kind(s) {unknown}; choose from {', '.join(FAULTS)}")


class Faults:
    """Draws the fault of each data request, in order, reproducibly for a seed."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = random.Random(plan.seed)
        self._schedule = dict(plan.schedule)
        self._lock = threading.Lock()
        self.requests = 0
        self.injected: dict[str, int] = dict.fromkeys(FAULTS, 0)

    def draw(self) -> str | None:
        """The fault for the next data request, or None."""
        with self._lock:
            self.requests += 1
            fault = self._schedule.get(self.requests)
            if fault is None and self._rng.random() < self.plan.fail_rate:
                fault = self._rng.choice(self.plan.kinds)
            if fault is None and self._rng.random() < self.plan.slow_rate:
                fault = "slow"
            if fault is not None:
                self.injected[fault] += 1
            return fault


class RateWindow:
    """A fixed window of ``limit`` requests per ``window`` seconds, as the vendors report it."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        if limit < 1 or window <= 0:
            raise ConfigError("rate limit and window must be positive")
        self.limit, self.window, self.clock = limit, window, clock
        self._lock = threading.Lock()
        self._start = -1.0
        self._used = 0

    def take(self) -> tuple[bool, int, int]:
        """``(allowed, remaining, reset epoch second)`` for one request."""
        with self._lock:
            now = self.clock()
            start = math.floor(now / self.window) * self.window
            if start != self._start:
                self._start, self._used = start, 0
            allowed = self._used < self.limit
            if allowed:
                self._used += 1
            return allowed, self.limit - self._used, math.ceil(start + self.window)

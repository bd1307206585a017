"""A per-event time limit for Python rules, and the same guard for importing them.

The engine wraps the object ``PythonLogic.load()`` returns,
``TimeLimitedDetection(detection, limit=1.0)``, and call ``matches``/``describe`` on the wrapper.
A call that runs past the limit raises ``RuleTimeLimitExceeded`` (the engine records it as a
rule error, with ``summarize_exception``) and the wrapper is ``disabled``: every later call
returns ``False`` / ``{}`` without running the rule. In the main thread the overrun is
interrupted with ``SIGALRM`` (so an endless loop ends); elsewhere the duration is measured
after the call returns. Every call runs through ``rules.guard.call_guarded``: rule output goes
to stderr, and ``sys.exit``/``KeyboardInterrupt`` from the rule are ``RuleCodeExit`` errors.
``load_guarded`` gives module import the same limit and protection.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from tokentrail.rules.guard import RuleCodeExit, RuleTimeLimitExceeded, call_guarded, can_interrupt, prepare
from tokentrail.rules.model import PythonDetection, PythonLogic

__all__ = ["RuleCodeExit", "RuleTimeLimitExceeded", "TimeLimitedDetection", "load_guarded"]


def load_guarded(logic: PythonLogic, limit: float = 1.0) -> PythonDetection:
    """``logic.load()`` (the rule module's import) within ``limit`` seconds, exits caught."""
    return call_guarded(logic.load, limit=limit, what=f"import of {logic.path}")


class TimeLimitedDetection:
    """Wraps a ``PythonDetection`` so one call may take at most ``limit`` seconds."""

    def __init__(
        self, detection: PythonDetection, limit: float = 1.0, *, interrupt: bool | None = None
    ) -> None:
        self.detection = detection
        self.limit = limit
        self.interrupt = can_interrupt() if interrupt is None else interrupt and can_interrupt()
        self.disabled = False
        self.reason: str | None = None
        prepare(self.interrupt)

    def matches(self, event: Mapping[str, Any]) -> bool:
        if self.disabled:
            return False
        return bool(self._call(self.detection.matches, event, "rule()"))

    def describe(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if self.disabled:
            return {}
        return self._call(self.detection.describe, event, "alert functions")

    def __getattr__(self, name: str) -> Any:
        # run_test and the like pass straight through to the wrapped detection.
        return getattr(self.detection, name)

    def _call(self, method: Any, event: Mapping[str, Any], what: str) -> Any:
        started = time.perf_counter()
        try:
            result = call_guarded(method, event, limit=self.limit, what=what, interrupt=self.interrupt)
        except RuleTimeLimitExceeded:
            self._disable(time.perf_counter() - started)
        elapsed = time.perf_counter() - started
        if elapsed > self.limit:
            self._disable(elapsed)
        return result

    def _disable(self, elapsed: float) -> None:
        self.disabled = True
        self.reason = (
            f"took {elapsed:.2f}s on one event (limit {self.limit:g}s); disabled for the rest of the run"
        )
        raise RuleTimeLimitExceeded(self.reason)

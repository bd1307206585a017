"""A per-event time limit for Python rules.

The engine wraps the object ``PythonLogic.load()`` returns,
``TimeLimitedDetection(detection, limit=1.0)``, and call ``matches``/``describe`` on the wrapper.
A call that runs past the limit raises ``RuleTimeLimitExceeded`` (the engine records it as a
rule error, with ``summarize_exception``) and the wrapper is ``disabled``: every later call
returns ``False`` / ``{}`` without running the rule. In the main thread the overrun is
interrupted with ``SIGALRM`` (so an endless loop ends); elsewhere the duration is measured
after the call returns.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Mapping
from typing import Any

from tokentrail.errors import TokenTrailError
from tokentrail.rules.model import PythonDetection


class RuleTimeLimitExceeded(TokenTrailError):
    """A Python rule ran longer than allowed on one event; it is disabled for the run."""


class _Alarm(BaseException):
    """Raised by the SIGALRM handler; a BaseException so a rule's ``except Exception`` can't eat it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Alarm()


def _can_interrupt() -> bool:
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return False
    current = signal.getsignal(signal.SIGALRM)
    return current in (signal.SIG_DFL, signal.SIG_IGN, None, _on_alarm)


class TimeLimitedDetection:
    """Wraps a ``PythonDetection`` so one call may take at most ``limit`` seconds."""

    def __init__(
        self, detection: PythonDetection, limit: float = 1.0, *, interrupt: bool | None = None
    ) -> None:
        self.detection = detection
        self.limit = limit
        self.interrupt = _can_interrupt() if interrupt is None else interrupt and _can_interrupt()
        self.disabled = False
        self.reason: str | None = None
        if self.interrupt:
            signal.signal(signal.SIGALRM, _on_alarm)

    def matches(self, event: Mapping[str, Any]) -> bool:
        if self.disabled:
            return False
        return bool(self._call(self.detection.matches, event))

    def describe(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if self.disabled:
            return {}
        return self._call(self.detection.describe, event)

    def __getattr__(self, name: str) -> Any:
        # run_test and the like pass straight through to the wrapped detection.
        return getattr(self.detection, name)

    def _call(self, method: Any, event: Mapping[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            if self.interrupt:
                signal.setitimer(signal.ITIMER_REAL, self.limit)
                try:
                    result = method(event)
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            else:
                result = method(event)
        except _Alarm:
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

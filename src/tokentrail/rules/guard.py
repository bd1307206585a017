"""Running code that rules bring with them (Panther Python): bounded in time, kept off stdout,
and unable to end the process by exiting.

``call_guarded(func, *args, limit=..., what=...)`` calls ``func`` so that
  * ``print()`` in rule code goes to stderr, never into stdout (where ``--format json`` writes);
  * ``sys.exit()``, ``raise SystemExit`` and a ``KeyboardInterrupt`` raised by the rule itself
    become ``RuleCodeExit`` — a rule error, not the end of the scan. A Ctrl-C the user presses
    still stops everything: a SIGINT handler that behaves like Python's own counts deliveries,
    so an interrupt with no delivery behind it is known to come from the rule;
  * in the main thread, a call running past ``limit`` seconds is interrupted with ``SIGALRM``
    and raises ``RuleTimeLimitExceeded`` (elsewhere the caller can only measure afterwards).
``os._exit()``, signals sent to the process and crashes of C extensions cannot be caught in
process; the README's "Isolation of Python rules" says what this does and does not contain.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from tokentrail.errors import TokenTrailError

T = TypeVar("T")


class RuleTimeLimitExceeded(TokenTrailError):
    """Rule code ran longer than allowed."""


class RuleCodeExit(TokenTrailError):
    """Rule code tried to end the process (``sys.exit``) or raised ``KeyboardInterrupt``."""


class _Alarm(BaseException):
    """Raised by the SIGALRM handler; a BaseException so a rule's ``except Exception`` can't eat it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Alarm()


_sigint_deliveries = 0


def _on_sigint(signum: int, frame: Any) -> None:
    """Python's default behaviour (raise KeyboardInterrupt), counting each real delivery."""
    global _sigint_deliveries
    _sigint_deliveries += 1
    raise KeyboardInterrupt


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def can_interrupt() -> bool:
    """Whether an overrun can be interrupted here (main thread, SIGALRM free or ours)."""
    if not hasattr(signal, "setitimer") or not _in_main_thread():
        return False
    return signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None, _on_alarm)


def prepare(interrupt: bool) -> None:
    """Install the handlers a guarded call relies on (main thread only; call once before use)."""
    if not _in_main_thread():
        return
    if interrupt:
        signal.signal(signal.SIGALRM, _on_alarm)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


def call_guarded(func: Callable[..., T], *args: Any, limit: float | None, what: str,
                 interrupt: bool | None = None) -> T:
    """``func(*args)`` with rule code's stdout on stderr, exits turned into ``RuleCodeExit`` and,
    when ``interrupt`` (default: whether it can be), a time limit of ``limit`` seconds.

    ``what`` names the code in messages (``"rule()"``, ``"import of x.py"``).
    """
    if interrupt is None:
        interrupt = limit is not None and can_interrupt()
        if interrupt:
            prepare(True)
    deliveries = _sigint_deliveries
    saved = sys.stdout
    sys.stdout = sys.stderr
    started = time.perf_counter()
    try:
        if interrupt and limit:
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                return func(*args)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        return func(*args)
    # Each error keeps the rule's frames in its traceback, so reports can say where in the rule.
    except _Alarm as exc:
        raise RuleTimeLimitExceeded(
            f"{what} took {time.perf_counter() - started:.2f}s (limit {limit:g}s)"
        ).with_traceback(exc.__traceback__) from None
    except KeyboardInterrupt as exc:
        if _sigint_deliveries != deliveries:
            raise  # the user pressed Ctrl-C: stop
        raise RuleCodeExit(f"{what} raised KeyboardInterrupt").with_traceback(exc.__traceback__) from None
    except SystemExit as exc:
        raise RuleCodeExit(f"{what} called sys.exit({exc.code!r})").with_traceback(exc.__traceback__) from None
    finally:
        sys.stdout = saved

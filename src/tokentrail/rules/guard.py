"""Running code that rules bring with them (Panther Python): bounded in time, kept off stdout,
and unable to end the process by exiting.

``call_guarded(func, *args, limit=..., what=...)`` calls ``func`` so that
  * ``print()`` in rule code goes to stderr, never into stdout (where ``--format json`` writes);
  * ``sys.exit()``, ``raise SystemExit`` and a ``KeyboardInterrupt`` raised by the rule itself
    become ``RuleCodeExit`` — a rule error, not the end of the scan. A Ctrl-C the user presses
    still stops everything: a SIGINT handler that behaves like Python's own counts deliveries,
    so an interrupt with no delivery behind it is known to come from the rule, and a delivery
    during the call ends it in ``KeyboardInterrupt`` whatever the rule made of it (a bare
    ``except:`` that ate it, a ``sys.exit()`` in its place);
  * in the main thread, a call running past ``limit`` seconds is interrupted with ``SIGALRM``
    and raises ``RuleTimeLimitExceeded`` (elsewhere the caller can only measure afterwards).

A ``KeyboardInterrupt`` can also be lost between guarded calls: Python drops an exception
raised in a weakref callback (the import system runs one per module lock), a ``__del__`` or a
garbage-collector callback, printing "Exception ignored". Inside ``ctrl_c_stops()`` (every
scan, and the whole ``tokentrail`` command) a counted delivery is therefore not forgotten: the
next guarded call, or else the end of the block, raises ``KeyboardInterrupt`` for it.
``os._exit()``, signals sent to the process and crashes of C extensions cannot be caught in
process; the README's "Isolation of Python rules" says what this does and does not contain.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
# The deliveries counted when the outermost ``ctrl_c_stops()`` block began (None: no block).
_stop_mark: int | None = None


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


def count_interrupts() -> None:
    """Count Ctrl-Cs from now on: Python's default SIGINT handler (and only it: a command's
    own handler is left alone) is replaced by one that behaves the same and counts. Main
    thread only, where Python runs signal handlers."""
    if _in_main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


def prepare(interrupt: bool) -> None:
    """Install the handlers a guarded call relies on (main thread only; call once before use)."""
    if not _in_main_thread():
        return
    if interrupt:
        signal.signal(signal.SIGALRM, _on_alarm)
    count_interrupts()


@contextmanager
def ctrl_c_stops() -> Iterator[None]:
    """A block (a scan) that a Ctrl-C stops even when the ``KeyboardInterrupt`` it raised was
    lost (see the module docstring): after a delivery counted since the outermost block began,
    every guarded call in the main thread raises ``KeyboardInterrupt`` instead of running, and
    so does the end of this block. Outside any block an old delivery means nothing (a Ctrl-C
    at a Python prompt must not interrupt the next scan)."""
    global _stop_mark
    if not _in_main_thread():
        yield  # signals reach only the main thread: a Ctrl-C is not this block's business
        return
    outermost = _stop_mark is None
    if outermost:
        count_interrupts()
        _stop_mark = _sigint_deliveries
    try:
        yield
        _stop_if_interrupted()
    finally:
        if outermost:
            _stop_mark = None


def _stop_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if a Ctrl-C came since the outermost ``ctrl_c_stops()``
    block began (in the main thread: a worker thread's block has no mark to compare)."""
    if _stop_mark is not None and _sigint_deliveries != _stop_mark and _in_main_thread():
        raise KeyboardInterrupt


def call_guarded(func: Callable[..., T], *args: Any, limit: float | None, what: str,
                 interrupt: bool | None = None) -> T:
    """``func(*args)`` with rule code's stdout on stderr, exits turned into ``RuleCodeExit`` and,
    when ``interrupt`` (default: whether it can be), a time limit of ``limit`` seconds.

    ``what`` names the code in messages (``"rule()"``, ``"import of x.py"``). A caller passing
    ``interrupt`` has called ``prepare`` before.
    """
    if interrupt is None:
        interrupt = limit is not None and can_interrupt()
        prepare(interrupt)
    if _stop_mark is not None:
        _stop_if_interrupted()
    armed = bool(interrupt and limit)
    deliveries = _sigint_deliveries
    saved = sys.stdout
    started = time.perf_counter()
    try:
        sys.stdout = sys.stderr
        if armed:
            signal.setitimer(signal.ITIMER_REAL, limit)
        result = func(*args)
    except BaseException as exc:
        # First of all: the alarm must not outlive the call, nor stdout stay on stderr.
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout = saved
        if _sigint_deliveries != deliveries or _uncounted_interrupt(exc):
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise KeyboardInterrupt from exc  # a Ctrl-C the rule turned into something else
        error = _rule_error(exc, what, time.perf_counter() - started, limit)
        if error is None:
            raise
        # The error keeps the rule's frames in its traceback, so reports can say where in the rule.
        raise error.with_traceback(exc.__traceback__) from None
    if armed:
        signal.setitimer(signal.ITIMER_REAL, 0)
    sys.stdout = saved
    if _sigint_deliveries != deliveries:
        raise KeyboardInterrupt  # a Ctrl-C during the call whose interrupt the rule swallowed
    return result


def _uncounted_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is a ``KeyboardInterrupt`` that may be a real Ctrl-C nobody counted:
    raised in the main thread while Python's default handler was in place (someone put it
    back), where a delivery cannot be told from the rule's own ``raise``; a real Ctrl-C must
    win then."""
    return (isinstance(exc, KeyboardInterrupt) and _in_main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler)


def _rule_error(exc: BaseException, what: str, elapsed: float, limit: float | None) -> TokenTrailError | None:
    """The rule error an escape from rule code becomes (None: ``exc`` is an ordinary error,
    passed on as it is)."""
    if isinstance(exc, _Alarm):
        return RuleTimeLimitExceeded(f"{what} took {elapsed:.2f}s (limit {limit:g}s)")
    if isinstance(exc, KeyboardInterrupt):
        return RuleCodeExit(f"{what} raised KeyboardInterrupt")
    if isinstance(exc, SystemExit):
        return RuleCodeExit(f"{what} called sys.exit({exc.code!r})")
    return None

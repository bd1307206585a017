"""Every sink of a live run, delivered to together: a batch is durable once each sink took it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tokentrail.sinks.base import Sink, SinkError
from tokentrail.state import StateStore

MARKS_NS = "\x00live.sink-marks"


class Stopped(SinkError):
    """The run was told to stop while a sink still refused a batch; its checkpoint is not stored."""


class SinkSet:
    """Delivers each batch to every sink, retrying a failed sink with exponential backoff (one
    error line per failed try, through ``on_error``) until it succeeds or ``stop`` is set."""

    def __init__(self, sinks: Sequence[Sink], *, on_error: Callable[[str], None] | None = None,
                 max_backoff: float = 30.0) -> None:
        self.sinks = list(sinks)
        self.on_error = on_error or (lambda message: None)
        self.max_backoff = max_backoff
        self.failures = 0

    def recover(self, state: StateStore) -> None:
        """Give each sink the mark stored with the last checkpoint."""
        for sink in self.sinks:
            sink.recover(state.get(MARKS_NS, sink.name))

    def deliver(self, records: Sequence[Mapping[str, Any]], stop: threading.Event) -> None:
        """Make ``records`` durable in every sink; raise ``Stopped`` if stopped before."""
        for sink in self.sinks:
            backoff = 0.2
            while True:
                try:
                    if hasattr(sink, "pending"):  # an outbox: it waits for room itself
                        sink.deliver(records, stop)  # type: ignore[call-arg]
                    else:
                        sink.deliver(records)
                    break
                except SinkError as exc:
                    self.failures += 1
                    if stop.is_set():
                        raise Stopped(f"{exc}; stopped before the batch was delivered") from None
                    self.on_error(f"{exc}; retrying in {backoff:.1f}s")
                    if stop.wait(backoff):
                        raise Stopped(f"{sink.name}: stopped before the batch was delivered") from None
                    backoff = min(self.max_backoff, backoff * 2)

    def store_marks(self, state: StateStore) -> None:
        """Put each sink's mark in the state, to be committed with the checkpoint."""
        for sink in self.sinks:
            mark = sink.mark()
            if mark is not None:
                state.put(MARKS_NS, sink.name, mark)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

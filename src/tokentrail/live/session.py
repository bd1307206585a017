"""What ``watch`` and ``serve`` open around a live run: the held state store and the sinks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tokentrail.live.sinkset import SinkSet
from tokentrail.live.sinkspec import open_sinks
from tokentrail.sinks.webhook import WebhookSink
from tokentrail.state import StateStore

DRAIN_SECONDS = 10.0  # how long the end of a run waits for a webhook outbox to empty


@dataclass
class LiveSession:
    """The state store (held) and the sinks of a run; ``clean`` is set by the run when its last
    batch was committed whole, so the end may commit what the webhook sender removed."""

    state: StateStore
    sinks: SinkSet
    clean: bool = True
    left_in_outbox: int = 0


@contextlib.contextmanager
def live_session(state_path: Path, sink_specs: Sequence[str], *, webhook_secret: bytes | None = None,
                 on_error: Callable[[str], None] | None = None,
                 drain_seconds: float = DRAIN_SECONDS) -> Iterator[LiveSession]:
    """Open and hold the state (``StateError`` when corrupt, locked or in use: never a silent
    start from zero), open the sinks, and close both at the end."""
    state = StateStore(state_path)
    try:
        state.hold()
        sinks = SinkSet(open_sinks(sink_specs, state, webhook_secret=webhook_secret, on_error=on_error),
                        on_error=on_error)
        session = LiveSession(state, sinks)
        try:
            yield session
            if session.clean:
                for sink in sinks.sinks:
                    if isinstance(sink, WebhookSink):
                        session.left_in_outbox += sink.drain(drain_seconds)
                state.commit()
        finally:
            sinks.close()
    finally:
        state.close()

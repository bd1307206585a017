"""What a live sink is: it takes one batch of alerts and returns only when they are durable.

A live run (``tokentrail watch``, ``tokentrail serve``) stores a page's checkpoint only after
every sink's ``deliver`` returned for the alerts of that page, so a sink that returns early loses
alerts in a crash. A sink that fails raises ``SinkError``; the run retries it, never skips it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tokentrail.errors import TokenTrailError


class SinkError(TokenTrailError):
    """A sink could not make alerts durable (a write failed, a webhook refused them)."""


class Sink(Protocol):
    """One alert output of a live run."""

    name: str  # what errors and the status line call it, e.g. ``jsonl:alerts.jsonl``

    def deliver(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Make ``records`` (alerts as JSON-ready dicts, each with an ``id``) durable, or raise
        ``SinkError``. A record whose id the sink already holds may be skipped."""
        ...

    def mark(self) -> Any:
        """A JSON value the run stores with its checkpoint (None: nothing to store)."""
        ...

    def recover(self, mark: Any) -> None:
        """Before the first delivery: ``mark`` is what ``mark()`` gave at the last checkpoint
        (None on a first run); the sink looks at what it holds beyond it."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...

"""The ``-`` sink: alerts as JSON lines on a stream (standard output), flushed per batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import IO, Any

from tokentrail.sinks.base import SinkError
from tokentrail.sinks.writers import dumps_line


class StreamSink:
    """Writes each batch's alerts to ``out`` and flushes it. A pipe keeps no record of what it
    was sent, so after a crash the alerts of the batch being read are sent again."""

    def __init__(self, out: IO[bytes], name: str = "-") -> None:
        self.out = out
        self.name = name

    def deliver(self, records: Sequence[Mapping[str, Any]]) -> None:
        try:
            self.out.write(b"".join(dumps_line(r) for r in records))
            self.out.flush()
        except OSError as exc:
            raise SinkError(f"{self.name}: cannot write: {exc.strerror or exc}") from None

    def mark(self) -> None:
        return None

    def recover(self, mark: Any) -> None:
        """Nothing to read back from a stream."""

    def close(self) -> None:
        """The stream belongs to the caller."""

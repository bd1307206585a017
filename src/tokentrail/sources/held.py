"""Reports of over-long lines held back until the lines before them are handled.

A reader that hands raw lines on in large batches (the batch engine's) learns of a line past the
limit while the lines before it are still unparsed. Reported at once, its error would come
before theirs, and its bytes would reach the dead-letter file before theirs, unlike a streaming
read. Held here instead, it is reported when the caller reaches its line number; meanwhile its
bytes are spooled (to disk past ``SPOOL_BYTES``), so no over-long line is held in memory.
"""

from __future__ import annotations

import tempfile
from collections import deque

from tokentrail.sources.rejects import KeptRecord, Reject

SPOOL_BYTES = 1 << 20  # an over-long line's bytes kept in memory before they go to a temporary file


class HeldReject:
    """One over-long line: its report (``message`` at ``line``) and, when they are wanted, its
    bytes. ``ended`` once the line's last byte has been read."""

    def __init__(self, reject: Reject, message: str, line: int | None, keep: bool) -> None:
        self.reject = reject
        self.message = message
        self.line = line
        self.ended = False
        self._spool = tempfile.SpooledTemporaryFile(SPOOL_BYTES) if keep else None  # noqa: SIM115 (closed in report)

    def write(self, data: bytes) -> None:
        if self._spool is not None:
            self._spool.write(data)

    def close(self) -> None:
        self.ended = True

    def report(self) -> None:
        """Report it now (which raises in strict mode), its bytes to where the reject keeps them."""
        spool, self._spool = self._spool, None
        try:
            kept = self.reject(self.message, self.line)
            if kept is not None:
                if spool is not None:
                    spool.seek(0)
                    while chunk := spool.read(SPOOL_BYTES):
                        kept.write(chunk)
                kept.close()
        finally:
            if spool is not None:
                spool.close()


class HeldRejects:
    """The over-long lines of one read, in the order met; a ``Reject`` for the line splitter
    (``holding``) and the ended ones for the caller to report in line order (``ended``)."""

    def __init__(self) -> None:
        self._held: deque[HeldReject] = deque()

    def holding(self, reject: Reject, keep: bool) -> Reject:
        """A ``Reject`` that holds each report for ``reject``; ``keep``: spool the bytes."""

        def hold(message: str, line: int | None) -> KeptRecord:
            held = HeldReject(reject, message, line, keep)
            self._held.append(held)
            return held

        return hold

    def ended(self) -> deque[HeldReject]:
        """The held lines whose last byte has been read, oldest first, taken out of the hold."""
        out: deque[HeldReject] = deque()
        while self._held and self._held[0].ended:
            out.append(self._held.popleft())
        return out

"""Splitting a byte stream into lines with a bound on how long a line may grow.

Reads go through ``read(n)``, which returns whatever is available (``read1``), so a pipe's line
is handed on as soon as it arrives. A line longer than the limit is never held in memory: it is
reported once and its bytes are passed on to where rejected records are kept as they are read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from tokentrail.sources.rejects import KeptRecord, Reject

CHUNK_BYTES = 1 << 20  # one read of a source that is not split into lines here
# One read of ``line_batches``, and so the batch of lines handed to the parse loop: a read and
# its lines then stay in a core's cache while they are parsed (measured, 2 KB Okta lines: read
# and split 0.7 µs per line cheaper than with 1 MiB reads; docs/benchmarks.md).
READ_BYTES = 256 << 10
_BLANK = b" \t\r\n"

Read = Callable[[int], bytes]


class LineSplitter:
    """Turns chunks of bytes into complete lines (without their newline), numbering them.

    ``number`` is the number of the line the next byte belongs to, and ``line_start`` the offset
    (in bytes fed so far) of that line's first byte. An over-long line is replaced by an empty
    line, so numbering goes on and the parse loop skips it as blank.
    """

    def __init__(self, limit: int, reject: Reject, first: int = 1) -> None:
        self.limit = limit
        self.reject = reject
        self.number = first
        self.line_start = 0
        self._fed = 0
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._dropping: KeptRecord | None = None
        self._drop = False

    def feed(self, data: bytes) -> tuple[int, list[bytes]]:
        """The lines ``data`` completes, with the number of the first of them."""
        self._fed += len(data)
        if not self._pending and not self._drop and data[:1] in _BLANK and not data.strip():
            # Only newlines and spaces (a file padded with blank lines): count them, parse nothing.
            self.number += data.count(b"\n")
            tail = data[data.rfind(b"\n") + 1:]
            self.line_start = self._fed - len(tail)
            if tail:
                self._pending, self._pending_len = [tail], len(tail)
            return self.number, []
        parts = data.split(b"\n")
        if len(parts) == 1:
            self._extend(data)
            return self.number, []
        tail = parts.pop()
        if self._drop:
            self._end_drop(parts[0])
            parts[0] = b""
        elif self._pending:
            if self._pending_len + len(parts[0]) > self.limit:
                self._start_drop()
                self._end_drop(parts[0])
                parts[0] = b""
            else:
                self._pending.append(parts[0])
                parts[0] = b"".join(self._pending)
            self._pending, self._pending_len = [], 0
        first = self.number
        self.number += len(parts)
        self.line_start = self._fed - len(tail)
        if tail:
            self._extend(tail)
        return first, parts

    def finish(self) -> tuple[int, list[bytes]]:
        """The last line, when the stream does not end with a newline."""
        first = self.number
        if self._drop:
            self._end_drop(b"")
            self.number += 1
            return first, [b""]
        if not self._pending:
            return first, []
        line = b"".join(self._pending)
        self._pending, self._pending_len = [], 0
        self.number += 1
        return first, [line]

    def _extend(self, data: bytes) -> None:
        if self._drop:
            if self._dropping is not None:
                self._dropping.write(data)
            return
        self._pending.append(data)
        self._pending_len += len(data)
        if self._pending_len > self.limit:
            self._start_drop()

    def _start_drop(self) -> None:
        self._drop = True
        self._dropping = self.reject(f"line longer than the {self.limit}-byte limit", self.number)
        if self._dropping is not None:
            for piece in self._pending:
                self._dropping.write(piece)
        self._pending, self._pending_len = [], 0

    def _end_drop(self, last: bytes) -> None:
        if self._dropping is not None:
            self._dropping.write(last)
            self._dropping.close()
        self._dropping, self._drop = None, False


def line_batches(read: Read, limit: int, reject: Reject, *, first: int = 1, head: bytes = b"",
                 on_chunk: Callable[[], None] | None = None,
                 splitter: LineSplitter | None = None) -> Iterator[tuple[int, list[bytes]]]:
    """Batches of complete lines from ``head`` then ``read``, each with its first line's number.
    ``on_chunk`` runs after every read (progress). Pass ``splitter`` to read its count afterwards."""
    split = splitter or LineSplitter(limit, reject, first)
    size = min(READ_BYTES, limit)  # a line inside one read is then never over the limit
    for at in range(0, len(head), size):
        batch = split.feed(head[at:at + size])
        if batch[1]:
            yield batch
    while True:
        data = read(size)
        if not data:
            break
        if on_chunk is not None:
            on_chunk()
        batch = split.feed(data)
        if batch[1]:
            yield batch
    batch = split.finish()
    if batch[1]:
        yield batch

"""Whole JSON-lines files, plain or compressed, as batches of raw lines for the batch engine.

The readers split and number the lines (``LogReader.jsonl_lines``: limits, byte-order mark,
decompression and its failures as a streaming read has them); here they are gathered into
batches of a size worth a DuckDB query. A line past the limit is reported when the batch is
handled, at its place among the lines around it (``report_before``), so the errors and the
dead-letter file come in the order a streaming scan gives them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tokentrail.sources.files import LogReader
from tokentrail.sources.held import HeldReject, HeldRejects

# Over-long lines a batch may hold before it is handed on: each may keep a spool file open.
MAX_HELD = 64


@dataclass(frozen=True)
class LineBatch:
    """Raw lines (not blank) with their line numbers, and the over-long lines met up to the
    batch's last line, still to be reported (oldest first; ``report_before`` takes them out)."""

    numbers: list[int]
    lines: list[bytes]
    held: deque[HeldReject]


def line_batches(reader: LogReader, path: str | Path, size: int) -> Iterator[LineBatch]:
    """The raw lines of one JSON-lines file (see ``raw_jsonl``) in batches of about ``size``.
    Each batch must be handled (its lines counted, its held lines reported) before the next is
    asked for: the reader's report of a decoding failure, after the last, counts its events."""
    held = HeldRejects()
    numbers: list[int] = []
    lines: list[bytes] = []
    ended: deque[HeldReject] = deque()
    for first, batch in reader.jsonl_lines(path, held):
        if batch:
            for lineno, line in enumerate(batch, first):
                if line:
                    numbers.append(lineno)
                    lines.append(line)
            ended.extend(held.ended())
            if len(lines) < size and len(ended) < MAX_HELD:
                continue
        # A full batch, or the end of the lines (an empty batch).
        ended.extend(held.ended())
        if lines or ended:
            yield LineBatch(numbers, lines, ended)
        numbers, lines, ended = [], [], deque()


def report_before(held: deque[HeldReject], lineno: int | None) -> None:
    """Report the held lines before line ``lineno`` (all of them when None)."""
    while held and (lineno is None or (held[0].line or 0) < lineno):
        held.popleft().report()

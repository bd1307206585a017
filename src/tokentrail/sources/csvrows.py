"""CSV rows as events (header names as keys, empty cells left out), with bounded rows and cells
and a quote that is never closed costing one row, not the rest of the file."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from tokentrail.sources.rejects import Reject, keep_whole

# Rows and cells are bounded by ReadLimits before the csv module sees them, so its own
# per-field limit (128 KiB by default, too small for Salesforce query cells) is lifted.
csv.field_size_limit(max(csv.field_size_limit(), (1 << 31) - 1))

Lines = Iterator[tuple[int, list[bytes]]]


class _Resync(Exception):
    """The row being read is abandoned; reading starts again at the line that ended it."""


class _RowFeed:
    """Feeds physical lines to ``csv.reader`` and watches it: a request for a line before the
    previous row came out is a quoted cell going on to the next line. That goes on while the
    next line could be the rest of the cell; a line that is a whole row by itself (as wide as
    the header, its quotes balanced), or a row past the size limit, ends it as unterminated."""

    def __init__(self, batches: Lines, row_limit: int) -> None:
        self._lines = ((n, line) for first, lines in batches for n, line in enumerate(lines, first))
        self._replay: tuple[int, bytes] | None = None
        self.row_limit = row_limit
        self.width: int | None = None
        self.start = 0  # line the current row started on
        self.raw: list[bytes] = []
        self.size = 0
        self.open = False
        self.ran_out = False  # the input ended inside a row

    def __iter__(self) -> _RowFeed:
        return self

    def __next__(self) -> str:
        if self._replay is not None:
            number, raw = self._replay
            self._replay = None
        else:
            try:
                number, raw = next(self._lines)
            except StopIteration:
                self.ran_out = self.open
                raise
        if not self.open:
            self.open, self.start, self.raw, self.size = True, number, [raw], len(raw)
        else:
            self.size += len(raw) + 1
            if self.size > self.row_limit:
                self._replay = (number, raw)
                raise _Resync(f"CSV row longer than the {self.row_limit}-byte limit (a quote not closed?)")
            if self._is_a_row(raw):
                self._replay = (number, raw)
                raise _Resync("unterminated quoted field")
            self.raw.append(raw)
        return raw.decode("utf-8", "replace") + "\n"

    def _is_a_row(self, raw: bytes) -> bool:
        if self.width is None or raw.count(b'"') % 2:
            return False
        try:
            row = next(csv.reader([raw.decode("utf-8", "replace")], strict=True))
        except (csv.Error, StopIteration):
            return False
        return len(row) == self.width

    def row_done(self) -> None:
        self.open = False


def csv_rows(batches: Lines, *, row_limit: int, cell_limit: int,
             reject: Reject) -> Iterator[tuple[dict[str, str], int]]:
    """(event, line) for each data row of the CSV lines in ``batches``; the first non-blank row
    is the header. Bad rows are rejected with their line and bytes, and reading goes on."""
    feed = _RowFeed(batches, row_limit)
    header: list[str] | None = None
    while True:
        try:
            for row in csv.reader(feed, strict=True):
                start, raw, size = feed.start, feed.raw, feed.size
                feed.row_done()
                if not row:
                    continue
                if header is None:
                    header, feed.width = row, len(row)
                    continue
                if len(row) > len(header):
                    keep_whole(reject("more values than header columns", start), b"\n".join(raw))
                    continue
                if size > cell_limit and max(map(len, row)) > cell_limit:
                    keep_whole(reject(f"CSV cell longer than the {cell_limit}-byte limit", start), b"\n".join(raw))
                    continue
                yield {k: v for k, v in zip(header, row, strict=False) if v}, start
            return
        except _Resync as exc:
            keep_whole(reject(str(exc), feed.start), b"\n".join(feed.raw))
            feed.row_done()
        except csv.Error as exc:
            # strict: a quote closed mid-cell ("a"b), or the input ending inside a quoted cell
            message = "unterminated quoted field: the row runs to the end of the file" if feed.ran_out \
                else f"malformed CSV row: {exc}"
            keep_whole(reject(message, feed.start), b"\n".join(feed.raw))
            feed.row_done()
            if feed.ran_out:
                return

"""Reading the input in the Spark executors, with the streaming readers' own code.

The driver lists the files and cuts each plain JSON-lines file into byte ranges that end after a
newline (``sources.files.line_ranges``: one seek and a read to the next newline per cut); any
other regular file the readers know (compressed — a ``.gz`` cannot be cut —, CSV, JSON
documents, archives) is one piece, read whole. A small DataFrame holds one row per piece, one
piece per partition, and ``read_pieces`` (a ``mapInArrow`` function) reads each piece in an
executor: a byte range with ``LogReader.range_lines`` (the readers' line splitting, BOM and line
limit), a whole file with ``LogReader.read_file`` (its events re-serialised, as the batch
engine's driver read does). Every non-blank line becomes a row ``(piece, line, n, j)`` — ``line``
orders the rows of a piece, ``n`` is the line number, relative to the range's start for a range
— and each piece ends with one summary row (``note``, JSON; see ``Summary``): lines read, the
errors the read reported with where they fall among the rows, and where the bytes of a line
past the limit lie (for the dead-letter file). Lines are not parsed here: the Spark query finds
a malformed one odd, and it comes back to the driver with its text, where it is parsed and
reported as the streaming reader reports it.

The executors open the files at the paths the driver gives (absolute): inputs must be at the
same paths on every executor (a shared file system). A piece an executor cannot open is
reported as ``missing`` and the driver reads that file itself.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tokentrail.sources.files import MAX_KEPT_ERRORS, LogReader, ReadLimits, line_ranges, splittable

PIECE_SCHEMA = "piece int, path string, start long, end long, whole boolean"
ROW_SCHEMA = "piece int, line long, n long, j binary, note string"
_ROW_ARROW = pa.schema([("piece", pa.int32()), ("line", pa.int64()), ("n", pa.int64()), ("j", pa.binary()),
                        ("note", pa.string())])
ROWS_PER_BATCH = 8192  # rows per Arrow batch an executor hands to Spark


@dataclass(frozen=True)
class Piece:
    """One task of an executor read: bytes [start, end) of a plain JSON-lines file, or the whole
    file (``whole``). ``name`` is the path as given (what reports show), ``path`` the absolute one
    (the executors open ``SparkEngine.executor_path`` of it); ``index`` numbers the pieces of one
    query, ``file`` the input files of one scan; ``skipped_at`` is how many files the scan had
    noted as not read when this one was listed (a whole file's own such entries go there). A
    Parquet file (``engine/spark_parquet.py``) is one piece with its footer's ``rows`` and
    ``schema`` key; ``rows`` is None for any other file."""

    index: int
    file: int
    name: str
    path: str
    start: int
    end: int
    whole: bool
    skipped_at: int
    rows: int | None = None
    schema: str = ""


def pieces_of(path: str | Path, range_bytes: int) -> list[tuple[int, int, bool]]:
    """How a file is read in the executors: byte ranges of about ``range_bytes`` for plain JSON
    lines (none for an empty file), else the whole file as one piece."""
    if splittable(path):
        return [(start, end, False) for start, end in line_ranges(path, range_bytes)]
    return [(0, Path(path).stat().st_size, True)]


@dataclass(frozen=True)
class Summary:
    """What an executor's read of one piece reports besides its rows.

    ``errors``: ``(key, label, line, message)`` per error the read reported, in order, where
    ``key`` is the ``line`` of the first row after it and ``label`` is what follows the path in
    the error's file (an archive's ``!member``). ``spans``: per line past the limit, in order,
    its ``(offset, length)`` in the file. ``missing``: why the executor could not open the file.
    The counts are the read's own: ``lines`` of a range, and for a whole file ``files`` read,
    ``events``, ``skipped`` records, and files not read (``skipped_files``, ``files_skipped``)."""

    lines: int = 0
    files: int = 0
    events: int = 0
    skipped: int = 0
    errors: tuple[tuple[int, str, int | None, str], ...] = ()
    spans: tuple[tuple[int, int], ...] = ()
    skipped_files: tuple[tuple[str, str], ...] = ()
    files_skipped: int = 0
    missing: str | None = None

    def to_json(self) -> str:
        """The summary as the text of a summary row."""
        return orjson.dumps(self.__dict__).decode()

    @classmethod
    def from_json(cls, text: str) -> Summary:
        """A summary row's text back as a ``Summary``."""
        raw = orjson.loads(text)
        return cls(lines=raw["lines"], files=raw["files"], events=raw["events"], skipped=raw["skipped"],
                   errors=tuple((k, label, line, message) for k, label, line, message in raw["errors"]),
                   spans=tuple((o, n) for o, n in raw["spans"]),
                   skipped_files=tuple((p, r) for p, r in raw["skipped_files"]),
                   files_skipped=raw["files_skipped"], missing=raw["missing"])


def row_batch(pieces: list[int], lines: list[int], numbers: list[int], texts: list[bytes]) -> pa.RecordBatch:
    """Event rows of ``ROW_SCHEMA`` (no summary): per row its piece, order key, line number and text."""
    return pa.RecordBatch.from_arrays(
        [pa.array(pieces, pa.int32()), pa.array(lines, pa.int64()), pa.array(numbers, pa.int64()),
         pa.array(texts, pa.binary()), pa.nulls(len(lines), pa.string())], schema=_ROW_ARROW)


@dataclass
class _Rows:
    """Rows of one piece, handed on in batches of ``ROWS_PER_BATCH``."""

    piece: int
    lines: list[int] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    texts: list[bytes] = field(default_factory=list)

    def add(self, line: int, number: int, text: bytes) -> pa.RecordBatch | None:
        self.lines.append(line)
        self.numbers.append(number)
        self.texts.append(text)
        return self.flush() if len(self.lines) >= ROWS_PER_BATCH else None

    def flush(self) -> pa.RecordBatch | None:
        if not self.lines:
            return None
        batch = row_batch([self.piece] * len(self.lines), self.lines, self.numbers, self.texts)
        self.lines, self.numbers, self.texts = [], [], []
        return batch

    def summary(self, summary: Summary) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays(
            [pa.array([self.piece], pa.int32()), pa.nulls(1, pa.int64()), pa.nulls(1, pa.int64()),
             pa.nulls(1, pa.binary()), pa.array([summary.to_json()], pa.string())], schema=_ROW_ARROW)


def _read_range(rows: _Rows, path: str, start: int, end: int, limits: ReadLimits,
                keep_spans: bool) -> Iterator[pa.RecordBatch]:
    spans: list[tuple[int, int]] = []
    # A dead-letter file of its own makes the reader report where an over-long line lies; no
    # bytes are written to it (lines are not parsed here, and over-long ones go by span).
    reader = LogReader(limits=limits, dead_letter=io.BytesIO() if keep_spans else None)
    batches = reader.range_lines(path, start, end,
                                 spans=(lambda offset, length: spans.append((offset, length))) if keep_spans else None)
    for first, batch in batches:
        for number, line in enumerate(batch, first):
            if line and (out := rows.add(number, number, line)) is not None:
                yield out
    errors = tuple((e.line or 0, "", e.line, e.message) for e in reader.stats.errors)
    if (out := rows.flush()) is not None:
        yield out
    yield rows.summary(Summary(lines=reader.lines_read, skipped=reader.stats.skipped, errors=errors,
                               spans=tuple(spans)))


def _read_whole(rows: _Rows, path: str, limits: ReadLimits) -> Iterator[pa.RecordBatch]:
    reader = LogReader(limits=limits)
    stats = reader.stats
    errors: list[tuple[int, str, int | None, str]] = []
    dumps = orjson.dumps
    count = 0

    def note_errors() -> None:
        for error in stats.errors[len(errors):]:
            label = (error.file or path)[len(path):] if (error.file or "").startswith(path) else ""
            errors.append((count, label, error.line, error.message))

    for event, _source, number in reader.read_file(path):
        note_errors()
        if (out := rows.add(count, number, dumps(event))) is not None:
            yield out
        count += 1
    note_errors()
    if (out := rows.flush()) is not None:
        yield out
    skipped_files = tuple((p[len(path):] if p.startswith(path) else p, why) for p, why in stats.skipped_files)
    yield rows.summary(Summary(files=stats.files, events=stats.events, skipped=stats.skipped,
                               errors=tuple(errors), skipped_files=skipped_files,
                               files_skipped=stats.files_skipped))


def read_pieces(limits: ReadLimits, keep_spans: bool):
    """The ``mapInArrow`` function that reads each piece (rows of ``PIECE_SCHEMA``) in an
    executor and emits its rows and its summary (``ROW_SCHEMA``); ``keep_spans``: report where
    lines past the limit lie, for the driver's dead-letter file."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            columns = [batch.column(name).to_pylist() for name in ("piece", "path", "start", "end", "whole")]
            for piece, path, start, end, whole in zip(*columns, strict=True):
                rows = _Rows(piece)
                if not os.path.isfile(path) or not os.access(path, os.R_OK):
                    yield rows.summary(Summary(missing=f"{path}: not a readable file on this executor"))
                    continue
                if whole:
                    yield from _read_whole(rows, path, limits)
                else:
                    yield from _read_range(rows, path, start, end, limits, keep_spans)

    return run


class PieceRows:
    """The rows a query over pieces sent back (``SparkEngine._finished``), on the driver: the
    summaries by piece, the events by piece in ``line`` order, and the counts of the rest."""

    def __init__(self, table: pa.Table) -> None:
        notes = pc.is_valid(table.column("note"))
        said = table.filter(notes)
        self.summaries = {p: Summary.from_json(t) for p, t in
                          zip(said.column("piece").to_pylist(), said.column("note").to_pylist(), strict=True)}
        lines = table.column("line")
        counted = table.filter(pc.and_(pc.is_null(lines), pc.invert(notes)))
        self.counts: dict[int, list[tuple[Any, ...]]] = {}
        for piece, lt, n in zip(*(counted.column(c).to_pylist() for c in ("piece", "lt", "count")), strict=True):
            self.counts.setdefault(piece, []).append((None, lt, None, n))
        # Only what came back is sorted, here: the events are few next to what was read.
        events = table.filter(pc.is_valid(lines)).sort_by([("piece", "ascending"), ("line", "ascending")])
        self.events = events.num_rows
        pieces = events.column("piece").to_pylist()
        self._columns = [events.column(c).to_pylist() for c in ("line", "n", "lt", "h", "j")]
        self._spans: dict[int, tuple[int, int]] = {}
        for i, piece in enumerate(pieces):
            lo, _ = self._spans.get(piece, (i, i))
            self._spans[piece] = (lo, i + 1)

    def of(self, piece: int) -> tuple[list[Any], ...]:
        """The events of ``piece``: their ``line`` keys, line numbers (relative to a range's
        start), log types, codes and texts."""
        lo, hi = self._spans.get(piece, (0, 0))
        return tuple(column[lo:hi] for column in self._columns)


def merge_whole_read(reader: LogReader, summary: Summary, piece: Piece, shift: int) -> int:
    """Add what an executor's read of a whole file counted to the driver's reader (its errors
    are reported one by one, where they fell among the events); ``shift``: entries earlier
    merges put before this file's place in the list of files not read. Returns how many this
    one put there."""
    stats = reader.stats
    stats.files += summary.files
    stats.events += summary.events
    stats.files_skipped += summary.files_skipped
    noted = [(piece.name + label, why) for label, why in summary.skipped_files]
    # Where they belong: after the entries noted before this file was listed, before later ones.
    at = piece.skipped_at + shift
    stats.skipped_files[at:at] = noted
    del stats.skipped_files[MAX_KEPT_ERRORS:]
    return len(noted)

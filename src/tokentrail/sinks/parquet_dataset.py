"""Log files to a Parquet dataset for data lakes: one directory per log type and day.

The layout is Hive's (``tt_log_type=okta/tt_day=2026-11-30/part-….parquet``), which DuckDB, Spark,
Athena and Trino read as partitions. The partition columns carry a ``tt_`` prefix so they never
collide with an event's own keys, and the batch engine leaves them out of the events it reads.

Each file's schema is inferred from its own rows (nested objects become structs, arrays lists),
so keys that appear late are kept. Where the rows of a file disagree on a top-level field's type
(a number in one event, text in another) or hold a value Parquet cannot store (an empty object),
that field is written as its JSON text for that file and the report names it: nothing is dropped
silently. Events of no known log type go to ``tt_log_type=unknown`` and events with no readable
time to ``tt_day=unknown``.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from tokentrail.errors import TokenTrailError
from tokentrail.sources.files import ReadStats

LOG_TYPE_COLUMN = "tt_log_type"
DAY_COLUMN = "tt_day"
PARTITION_COLUMNS = (LOG_TYPE_COLUMN, DAY_COLUMN)
UNKNOWN = "unknown"
ROWS_PER_FILE = 100_000
BUFFERED_ROWS = 200_000  # all partitions together: past it the largest is written out


@dataclass(frozen=True)
class TextColumn:
    """A top-level field written as JSON text in one file, and why."""

    file: str
    column: str
    reason: str


@dataclass
class DatasetReport:
    """What a conversion wrote: files, events per partition, fields stored as text, the read's
    own counts (malformed lines and their places are in ``read``)."""

    out: str
    files: list[str] = field(default_factory=list)
    events: int = 0
    partitions: dict[tuple[str, str], int] = field(default_factory=dict)
    text_columns: list[TextColumn] = field(default_factory=list)
    read: ReadStats = field(default_factory=ReadStats)

    def summary_json(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "out": self.out,
            "events": self.events,
            "files": len(self.files),
            "partitions": [{"log_type": lt, "day": day, "events": n}
                           for (lt, day), n in sorted(self.partitions.items())],
            "text_columns": [{"file": t.file, "column": t.column, "reason": t.reason} for t in self.text_columns],
            "malformed": self.read.skipped,
            "errors": [str(e) for e in self.read.errors],
            "files_skipped": [{"path": p, "reason": r} for p, r in self.read.skipped_files],
        }


class ParquetDatasetWriter:
    """Writes events under ``out`` as a partitioned Parquet dataset; ``close()`` gives the report.

    ``out`` must be absent or empty unless ``append`` (then new files are added beside the old).
    Memory is bounded: at most ``BUFFERED_ROWS`` events are held, over all partitions.
    """

    def __init__(self, out: str | Path, *, append: bool = False, rows_per_file: int = ROWS_PER_FILE,
                 read: ReadStats | None = None) -> None:
        root = Path(out)
        if root.exists() and not root.is_dir():
            raise TokenTrailError(f"{root}: exists and is not a directory")
        if root.is_dir() and any(root.iterdir()) and not append:
            raise TokenTrailError(f"{root}: not empty (use --append to add files to a dataset)")
        self.root = root
        self.rows_per_file = rows_per_file
        self.report = DatasetReport(out=str(root), read=read or ReadStats())
        self._buffers: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        self._buffered = 0

    def add(self, event: Mapping[str, Any], log_type: str | None, seconds: float | None) -> None:
        """Take one event of ``log_type`` (None: unknown) with its time in epoch ``seconds``."""
        day = time.strftime("%Y-%m-%d", time.gmtime(seconds)) if seconds is not None else UNKNOWN
        key = (log_type or UNKNOWN, day)
        rows = self._buffers.setdefault(key, [])
        rows.append(event)
        self._buffered += 1
        partitions = self.report.partitions
        partitions[key] = partitions.get(key, 0) + 1
        if len(rows) >= self.rows_per_file or self._buffered >= BUFFERED_ROWS:
            largest = max(self._buffers, key=lambda k: len(self._buffers[k]))
            self._buffered -= _flush(self.root, largest, self._buffers.pop(largest), self.report)

    def close(self) -> DatasetReport:
        """Write what is still held; the report of everything written."""
        for key in sorted(self._buffers):
            _flush(self.root, key, self._buffers[key], self.report)
        self._buffers.clear()
        self._buffered = 0
        return self.report


_WRITTEN = itertools.count()  # files written by this process: the order within one nanosecond


def _flush(root: Path, key: tuple[str, str], rows: list[Mapping[str, Any]], report: DatasetReport) -> int:
    log_type, day = key
    folder = root / f"{LOG_TYPE_COLUMN}={_safe(log_type)}" / f"{DAY_COLUMN}={day}"
    folder.mkdir(parents=True, exist_ok=True)
    # Named so that name order is write order, across runs too (`--append`): scans walk a folder
    # sorted by name, and windowed rules must see the events in the order they were written.
    path = folder / f"part-{time.time_ns():020d}-{next(_WRITTEN):06d}-{uuid.uuid4().hex[:8]}.parquet"
    table, texts = _table(rows)
    # Written under a temporary name and renamed: a reader never sees half a file.
    partial = path.with_suffix(".parquet.tmp")
    pq.write_table(table, partial, compression="zstd")
    partial.rename(path)
    report.files.append(str(path))
    report.events += len(rows)
    report.text_columns.extend(TextColumn(str(path), column, reason) for column, reason in texts)
    return len(rows)


def _safe(name: str) -> str:
    """A log type's name as a directory name (names such as ``GitHub.Audit`` are kept)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def _table(rows: list[Mapping[str, Any]]) -> tuple[pa.Table, list[tuple[str, str]]]:
    """The rows as one table, and the fields (dotted paths) that had to be stored as JSON text."""
    texts: list[tuple[str, str]] = []
    names = _keys(rows)
    arrays = [_column([row.get(name) for row in rows], name, texts) for name in names]
    return pa.Table.from_arrays(arrays, names=names), texts


def _keys(objects: list[Mapping[str, Any]]) -> list[str]:
    """Every key of ``objects``, in order of first appearance."""
    return list(dict.fromkeys(key for obj in objects for key in obj))


def _column(values: list[Any], path: str, texts: list[tuple[str, str]]) -> pa.Array:
    """``values`` as one Arrow array: objects as structs and lists as lists, field by field, so
    that only the field whose values disagree is stored as text."""
    present = [v for v in values if v is not None]
    if present and all(v.__class__ is dict for v in present):
        names = _keys(present)
        if not names:
            texts.append((path, "it holds only empty objects, which Parquet cannot store"))
            return _as_text(values)
        children = [_column([None if v is None else v.get(name) for v in values], f"{path}.{name}", texts)
                    for name in names]
        mask = pa.array([v is None for v in values])
        return pa.StructArray.from_arrays(children, names=names, mask=mask)
    if present and all(v.__class__ is list for v in present):
        items = [item for v in present for item in v]
        offsets, at = [], 0
        for v in values:
            offsets.append(at)
            at += 0 if v is None else len(v)
        offsets.append(at)
        mask = pa.array([v is None for v in values])
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), _column(items, path + "[]", texts), mask=mask)
    if any(v.__class__ is dict or v.__class__ is list for v in present):
        texts.append((path, "the events disagree on its type"))
        return _as_text(values)
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        texts.append((path, "the events disagree on its type"))
        return _as_text(values)


def _as_text(values: list[Any]) -> pa.Array:
    return pa.array([None if v is None else orjson.dumps(v).decode() for v in values], pa.string())

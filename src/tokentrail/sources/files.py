"""Log file readers: JSONL, JSON arrays, JSON objects holding an array, CSV, gzip, stdin and
directories. A malformed line is counted, reported as file:line and skipped (or fatal with
``strict``), and may be kept in a dead-letter file."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from tokentrail.errors import LogParseError

Record = tuple[dict[str, Any], str, int]  # (event, source, line number)

LOG_SUFFIXES = (".json", ".jsonl", ".ndjson", ".log", ".csv", ".gz")
MAX_KEPT_ERRORS = 1000  # errors kept for reporting; every one is still counted
_PROGRESS_EVERY = 4096  # lines between progress callbacks
_SNIFF_BYTES = 4 << 20  # how much of a .json file is looked at to tell JSON lines from a document
csv.field_size_limit(64 << 20)  # Salesforce cells can be long; the default 128 KiB is not enough


@dataclass
class ReadStats:
    """Counts for one read: files, events read, lines skipped, and the first errors."""

    files: int = 0
    events: int = 0
    skipped: int = 0
    errors: list[LogParseError] = field(default_factory=list)


class LogReader:
    """Reads events from paths. Iterate ``records(paths)``; look at ``stats`` afterwards."""

    def __init__(self, *, strict: bool = False, dead_letter: IO[bytes] | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        self.strict = strict
        self.dead_letter = dead_letter
        self.progress = progress
        self.stats = ReadStats()
        self.lines_read = 0

    def records(self, paths: Iterable[str | Path]) -> Iterator[Record]:
        """Every event in ``paths`` (``-`` is standard input; directories are walked)."""
        for path in expand_paths(paths):
            yield from self.read_file(path)

    def read_file(self, path: str | Path) -> Iterator[Record]:
        """Every event in one file, chosen by suffix and first byte."""
        name = str(path)
        self.stats.files += 1
        if name == "-":
            stream: BinaryIO = sys.stdin.buffer
            yield from self._read_stream(stream, "<stdin>", Path("-"))
            return
        p = Path(path)
        try:
            raw: BinaryIO = open(p, "rb")  # noqa: SIM115 - closed below, wrapped for gzip
        except OSError as exc:
            self._error(LogParseError(f"cannot open: {exc.strerror}", file=name), None)
            return
        with raw:
            stream = gzip.GzipFile(fileobj=raw) if p.suffix == ".gz" else raw
            inner = Path(p.stem) if p.suffix == ".gz" else p
            before = self.stats.events
            try:
                yield from self._read_stream(stream, name, inner, raw)
            except (OSError, EOFError, csv.Error, zlib.error) as exc:
                # A damaged file (truncated gzip, not gzip at all, a CSV cell past the limit)
                # ends this file's read; the scan goes on with the next file.
                read = self.stats.events - before
                self._error(LogParseError(f"unreadable after {read} events: {type(exc).__name__}: {exc}",
                                          file=name), None)

    def _read_stream(self, stream: BinaryIO, name: str, inner: Path, raw: BinaryIO | None = None) -> Iterator[Record]:
        if inner.suffix == ".csv":
            yield from self._read_csv(stream, name)
            return
        buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]
        if inner.suffix == ".json":
            # Telling JSON lines from one document needs the whole first line in view.
            buffered = io.BufferedReader(buffered, _SNIFF_BYTES)  # type: ignore[arg-type]
        head = buffered.peek(64).lstrip()[:1]
        if head == b"[" or (head == b"{" and inner.suffix == ".json" and not _looks_like_jsonl(buffered)):
            yield from self._read_document(buffered.read(), name)
        else:
            yield from self._read_jsonl(buffered, name, raw)

    def _read_jsonl(self, stream: BinaryIO, name: str, raw: BinaryIO | None) -> Iterator[Record]:
        progress = self.progress
        last_pos = 0
        for event, lineno, _ in self._parse_lines(stream, name):
            yield event, name, lineno
            if progress is not None and raw is not None and lineno % _PROGRESS_EVERY == 0:
                pos = raw.tell()
                progress(pos - last_pos)
                last_pos = pos
        if progress is not None and raw is not None:
            progress(raw.tell() - last_pos)

    def _parse_lines(self, lines: Iterable[bytes], name: str, first: int = 1) -> Iterator[tuple[dict[str, Any], int, bytes]]:
        """(event, line number, raw line) for each JSON object line; bad lines become errors."""
        loads = orjson.loads
        for lineno, line in enumerate(lines, first):
            try:
                event = loads(line)
            except orjson.JSONDecodeError as exc:
                self.reject_line(line, name, lineno, exc)
                continue
            if event.__class__ is not dict:
                self.reject_line(line, name, lineno, None)
                continue
            self.stats.events += 1
            yield event, lineno, line

    def reject_line(self, line: bytes, name: str, lineno: int, exc: orjson.JSONDecodeError | None) -> None:
        """Record a JSON line that is not an event: malformed (``exc``) or not an object (None).
        Blank lines are no error."""
        if exc is not None:
            if line.strip():
                self._error(LogParseError(f"malformed JSON: {exc}", file=name, line=lineno), line)
        else:
            self._error(LogParseError("not a JSON object", file=name, line=lineno), line)

    def read_range(self, path: str | Path, start: int, end: int) -> Iterator[tuple[dict[str, Any], int, bytes]]:
        """Events of the JSON lines in bytes [start, end) of a plain file; line numbers count from
        1 at ``start`` (see ``line_ranges``). ``lines_read`` tells how many lines the range held."""
        name = str(path)
        for first, batch in self.range_lines(path, start, end):
            yield from self._parse_lines(batch, name, first)

    def range_lines(self, path: str | Path, start: int, end: int) -> Iterator[tuple[int, list[bytes]]]:
        """The raw lines of bytes [start, end) of a plain file in batches, each with the number of
        its first line (counting from 1 at ``start``), for callers that parse lines themselves
        (and report bad ones with ``reject_line``). ``lines_read`` counts the lines given."""
        self.lines_read = 0
        with open(path, "rb") as fh:
            fh.seek(start)
            for batch in self._range_batches(fh, end - start):
                first = self.lines_read + 1
                self.lines_read += len(batch)
                yield first, batch

    @staticmethod
    def _range_batches(fh: BinaryIO, size: int) -> Iterator[list[bytes]]:
        # Batches of lines from the buffered reader (as a plain ``for line in file`` loop would
        # read them), the last one trimmed at the end of the range.
        left = size
        while left > 0:
            batch = fh.readlines(min(1 << 20, left))
            if not batch:
                return
            taken = sum(map(len, batch))
            if taken > left:
                kept = 0
                for i, line in enumerate(batch):
                    kept += len(line)
                    if kept >= left:
                        batch = batch[: i + 1]
                        break
                taken = left
            left -= taken
            yield batch

    def _read_document(self, data: bytes, name: str) -> Iterator[Record]:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            line = data[: exc.pos].count(b"\n") + 1 if exc.pos else None
            self._error(LogParseError(f"malformed JSON document: {exc.msg}", file=name, line=line), data[:200])
            return
        if self.progress is not None:
            self.progress(len(data))
        items = doc if isinstance(doc, list) else _embedded_array(doc)
        if items is None:
            items = [doc]
        for i, item in enumerate(items, 1):
            if isinstance(item, dict) and isinstance(item.get("_source"), dict):
                item = item["_source"]  # an Elasticsearch hit: the document is its _source
            if not isinstance(item, dict):
                self._error(LogParseError(f"element {i} is not a JSON object", file=name, line=i), None)
                continue
            self.stats.events += 1
            yield item, name, i

    def _read_csv(self, stream: BinaryIO, name: str) -> Iterator[Record]:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.DictReader(text)
        for row in reader:
            lineno = reader.line_num
            if None in row:
                self._error(LogParseError("more values than header columns", file=name, line=lineno),
                            ",".join(str(v) for v in row.values()).encode())
                continue
            event = {k: v for k, v in row.items() if v not in ("", None)}
            self.stats.events += 1
            yield event, name, lineno

    def _error(self, error: LogParseError, line: bytes | None) -> None:
        if self.strict:
            raise error
        self.stats.skipped += 1
        if len(self.stats.errors) < MAX_KEPT_ERRORS:
            self.stats.errors.append(error)
        if self.dead_letter is not None and line is not None:
            self.dead_letter.write(line if line.endswith(b"\n") else line + b"\n")


def _looks_like_jsonl(stream: io.BufferedReader) -> bool:
    """A ``.json`` file is JSON lines when its first line is a whole JSON object and more follows."""
    first, _, rest = stream.peek(_SNIFF_BYTES).partition(b"\n")
    if not rest.strip():
        return False
    try:
        return isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        return False


# Keys under which vendor APIs and exports wrap their arrays of events.
_WRAPPER_KEYS = ("records", "items", "events", "logs", "data", "results", "value", "hits")


def _embedded_array(doc: Any) -> list[Any] | None:
    """The array of events inside a wrapper object (``{"records": [...]}``,
    ``{"hits": {"hits": [...]}}``, ...), or None when ``doc`` is itself an event."""
    node = doc
    for _ in range(3):
        if not isinstance(node, dict):
            return None
        key = next((k for k in _WRAPPER_KEYS if k in node), None)
        if key is None:
            return None
        node = node[key]
        if isinstance(node, list):
            return node if all(isinstance(v, dict) for v in node) else None
    return None


def splittable(path: str | Path) -> bool:
    """Whether a file is plain JSON lines that can be read in independent byte ranges (its
    suffix says so and, as the one-process reader checks too, it does not open with ``[``)."""
    p = Path(path)
    if str(path) == "-" or p.suffix not in (".jsonl", ".ndjson", ".log") or not p.is_file():
        return False
    with open(p, "rb") as fh:
        return fh.read(4096).lstrip()[:1] != b"["


def line_ranges(path: str | Path, chunk_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges of about ``chunk_bytes`` covering the file, each ending after a newline."""
    size = Path(path).stat().st_size
    ranges: list[tuple[int, int]] = []
    start = 0
    with open(path, "rb") as fh:
        while start < size:
            fh.seek(min(start + chunk_bytes, size))
            fh.readline()  # run on to the end of the line the cut fell in
            end = min(fh.tell(), size)
            ranges.append((start, end))
            start = end
    return ranges


def expand_paths(paths: Iterable[str | Path]) -> Iterator[str | Path]:
    """Files under ``paths``: a directory yields its log files recursively, in sorted order."""
    for path in paths:
        if str(path) == "-":
            yield "-"
            continue
        p = Path(path)
        if p.is_dir():
            yield from (f for f in sorted(p.rglob("*")) if f.is_file() and f.name.endswith(LOG_SUFFIXES))
        else:
            yield p


def total_bytes(paths: Iterable[str | Path]) -> int:
    """Size on disk of every file a read of ``paths`` would open (for progress bars)."""
    total = 0
    for path in expand_paths(paths):
        if path != "-":
            with contextlib.suppress(OSError):
                total += Path(path).stat().st_size
    return total

"""Log file readers: JSON lines, JSON documents (arrays, wrapper objects, single events), CSV,
compressed files (gzip, bzip2, xz, zstd), zip and tar archives, FIFOs, stdin and directories.

A bad record is counted, reported as ``file:line`` and skipped (or fatal with ``strict``), and
kept whole in the dead-letter file; every file a read does not open is listed with the reason.
Memory is bounded by ``ReadLimits``, not by the input: no line, cell or document past its limit
is held, and no compressed member expands past its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson

from tokentrail.errors import LogParseError
from tokentrail.sources.archives import Member, MemberSkipped, tar_members, zip_members
from tokentrail.sources.csvrows import csv_rows
from tokentrail.sources.held import HeldRejects
from tokentrail.sources.jsondoc import DocumentScanner
from tokentrail.sources.limits import DEFAULT_LIMITS, ReadLimits
from tokentrail.sources.lines import CHUNK_BYTES, LineSplitter, Read, line_batches
from tokentrail.sources.rejects import KeptRecord
from tokentrail.sources.streams import DECODE_ERRORS, Input, NotAFile, decompressed, open_input
from tokentrail.sources.walk import LOG_SUFFIXES, Layout, SkippedFile, expand_paths, layout_of, walk

Record = tuple[dict[str, Any], str, int]  # (event, source, line number)

__all__ = ["LOG_SUFFIXES", "LogReader", "ReadLimits", "ReadStats", "Record", "SkippedFile",
           "expand_paths", "line_ranges", "raw_jsonl", "splittable", "total_bytes"]

MAX_KEPT_ERRORS = 1000  # errors (and skipped files) kept for reporting; every one is still counted
_BOM = b"\xef\xbb\xbf"
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".log")  # names ``raw_jsonl`` takes for JSON lines
_WS = re.compile(rb"[ \t\r\n]*+")


@dataclass
class ReadStats:
    """Counts for one read: files read, events read, records skipped (with the first errors),
    and files not read (with the first of them and why)."""

    files: int = 0
    events: int = 0
    skipped: int = 0
    errors: list[LogParseError] = field(default_factory=list)
    files_skipped: int = 0
    skipped_files: list[tuple[str, str]] = field(default_factory=list)


class _DeadRecord:
    """One rejected record's bytes in the dead-letter file, ended by a newline."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.last = b"\n"

    def write(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.last = data[-1:]

    def close(self) -> None:
        if self.last != b"\n":
            self.out.write(b"\n")


class _SpanRecord:
    """A rejected record left in its file: counts the bytes written for it, then reports where
    they lie (``spans(offset, length)``) instead of holding them."""

    def __init__(self, offset: int, spans: Callable[[int, int], None]) -> None:
        self.offset = offset
        self.length = 0
        self.spans = spans

    def write(self, data: bytes) -> None:
        self.length += len(data)

    def close(self) -> None:
        self.spans(self.offset, self.length)


class LogReader:
    """Reads events from paths. Iterate ``records(paths)``; look at ``stats`` afterwards."""

    def __init__(self, *, strict: bool = False, dead_letter: IO[bytes] | None = None,
                 progress: Callable[[int], None] | None = None, limits: ReadLimits = DEFAULT_LIMITS) -> None:
        self.strict = strict
        self.dead_letter = dead_letter
        self.progress = progress
        self.limits = limits
        self.stats = ReadStats()
        self.lines_read = 0
        # Takes a raw JSON line that needs no parsing (the engine's fast path): True when it did,
        # counted as an event and not yielded. Only JSON lines are offered to it.
        self.take_line: Callable[[bytes], bool] | None = None

    def records(self, paths: Iterable[str | Path]) -> Iterator[Record]:
        """Every event in ``paths`` (``-`` is standard input; directories are walked)."""
        for path in self.paths(paths):
            yield from self.read_file(path)

    def paths(self, paths: Iterable[str | Path]) -> Iterator[str | Path]:
        """The files a read of ``paths`` opens; the ones it does not are noted in ``stats``."""
        for item in walk(paths):
            if isinstance(item, SkippedFile):
                self._skip_file(item.path, item.reason)
            else:
                yield item

    def read_file(self, path: str | Path) -> Iterator[Record]:
        """Every event in one file (or FIFO, or ``-``), read as its name says: archives member
        by member, compressed layers undone, then the format of the innermost suffix."""
        name = str(path)
        if name == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            if stdin is None:  # closed, or replaced by something that is not a text stream
                self._error(LogParseError("standard input is closed", file="<stdin>"), None)
                return
            self.stats.files += 1
            yield from self._read_input(Input(stdin), "<stdin>", "")
            return
        opened = self._open(path, name)
        if opened is None:
            return
        fh, fifo = opened
        layout = layout_of(Path(name).name)
        if layout.archive is None:
            self.stats.files += 1  # an archive counts its members
        progress = None if fifo else _Progress(fh, self.progress)
        with fh:
            before = self.stats.events
            try:
                if layout.archive is not None:
                    yield from self._read_archive(fh, name, layout, progress)
                else:
                    source = self._layers(fh, layout.compressions, progress, bounded=bool(layout.compressions))
                    yield from self._read_input(source, name, layout.format)
                    if fifo and source.total == 0:
                        self._skip_file(name, "FIFO: nothing to read (no writer)")
                    self._failed(source, name, self.stats.events - before)
            finally:
                if progress is not None:
                    progress.finish()

    def _layers(self, stream: BinaryIO, compressions: tuple[str, ...], progress: _Progress | None, *,
                bounded: bool) -> Input:
        """The bytes under ``compressions`` (outermost first), expanding at most to the limit
        when ``bounded``. A decoding failure ends them; see ``Input.failure``."""
        for suffix in reversed(compressions):
            stream = decompressed(stream, suffix)
        return Input(stream, limit=self.limits.max_expanded_bytes if bounded else None,
                     after_read=progress.update if progress else None)

    def _failed(self, source: Input, name: str, events: int) -> None:
        if source.failure is not None:
            self._error(LogParseError(f"unreadable after {events} events: {source.failure}", file=name), None)

    def _read_archive(self, fh: BinaryIO, name: str, layout: Layout, progress: _Progress | None) -> Iterator[Record]:
        outer = None
        before = self.stats.events
        try:
            if layout.archive == "zip":
                members = zip_members(fh)
            else:
                # The tar's members are bounded one by one, not the tar as a whole.
                outer = self._layers(fh, layout.compressions, progress, bounded=False)
                members = tar_members(outer)  # type: ignore[arg-type]
            for member in members:
                label = f"{name}!{member.name}"
                if isinstance(member, MemberSkipped):
                    if member.error:
                        self._error(LogParseError(member.reason, file=label), None)
                    else:
                        self._skip_file(label, member.reason)
                    continue
                yield from self._read_member(member, label, progress)
        except DECODE_ERRORS as exc:
            # A damaged archive ends its read; the members before the damage were read.
            why = outer.failure if outer is not None and outer.failure else f"{type(exc).__name__}: {exc}"
            self._error(LogParseError(f"unreadable after {self.stats.events - before} events: {why}",
                                      file=name), None)
            return
        if outer is not None:
            self._failed(outer, name, self.stats.events - before)

    def _read_member(self, member: Member, label: str, progress: _Progress | None) -> Iterator[Record]:
        limit = self.limits.max_expanded_bytes
        if member.size > limit:
            self._error(LogParseError(f"expands to {member.size} bytes, past the {limit}-byte limit: not read",
                                      file=label), None)
            return
        layout = layout_of(member.name)
        source = self._layers(member.stream, layout.compressions, progress, bounded=True)
        self.stats.files += 1
        before = self.stats.events
        yield from self._read_input(source, label, layout.format)
        self._failed(source, label, self.stats.events - before)

    # -- formats --------------------------------------------------------------------------------

    def _read_input(self, source: Input, name: str, fmt: str) -> Iterator[Record]:
        """Events of one byte stream, by its format suffix and first byte."""
        first, head, c = _sniff(source.read)
        if c is None:
            return
        read = source.read
        if fmt == ".csv":
            yield from self._read_csv(read, name, first, head)
        elif c == 0x5B or fmt in (".json", ""):  # "[", or a document / stdin that may hold one
            yield from self._read_document(read, name, first, head)
        else:
            yield from self._read_jsonl(read, name, first, head)

    def _read_jsonl(self, read: Read, name: str, first: int, head: bytes) -> Iterator[Record]:
        reject = self._rejecter(name)
        loads, not_json = orjson.loads, orjson.JSONDecodeError
        take = self.take_line
        events = 0
        try:
            for number, batch in line_batches(read, self.limits.max_line_bytes, reject, first=first, head=head):
                for lineno, line in enumerate(batch, number):
                    if not line:
                        continue
                    if take is not None and take(line):
                        events += 1
                        continue
                    try:
                        event = loads(line)
                    except not_json as exc:
                        self.reject_line(line, name, lineno, exc)
                        continue
                    if event.__class__ is not dict:
                        self.reject_line(line, name, lineno, None)
                        continue
                    events += 1
                    yield event, name, lineno
        finally:
            self.stats.events += events

    def _read_document(self, read: Read, name: str, first: int, head: bytes) -> Iterator[Record]:
        limits = self.limits
        scanner = DocumentScanner(read, head, first, limit=limits.max_document_bytes,
                                  line_limit=limits.max_line_bytes, reject=self._rejecter(name))
        events = scanner.events()
        try:
            while True:
                event, number = next(events)
                self.stats.events += 1
                yield event, name, number
        except StopIteration as end:
            rest = end.value
        if rest is not None:
            yield from self._read_jsonl(read, name, rest[1], rest[0])

    def _read_csv(self, read: Read, name: str, first: int, head: bytes) -> Iterator[Record]:
        reject = self._rejecter(name)
        batches = line_batches(read, self.limits.max_line_bytes, reject, first=first, head=head)
        for event, lineno in csv_rows(batches, row_limit=self.limits.max_line_bytes,
                                      cell_limit=self.limits.max_cell_bytes, reject=reject):
            self.stats.events += 1
            yield event, name, lineno

    # -- byte ranges of plain JSON-lines files (parallel scans) ---------------------------------

    def range_lines(self, path: str | Path, start: int, end: int, *,
                    spans: Callable[[int, int], None] | None = None) -> Iterator[tuple[int, list[bytes]]]:
        """The raw lines (without newlines) of bytes [start, end) of a plain file in batches, each
        with the number of its first line (counting from 1 at ``start``), for callers that parse
        lines themselves and report bad ones with ``reject_line``. An empty line is blank (skip
        it); a line past the limit is reported here and stands as an empty one. ``lines_read``
        counts the lines of the range.

        With ``spans`` and a dead-letter file, a line past the limit is not passed to the file:
        ``spans(offset, length)`` gets where its bytes lie in ``path``, once the line has ended,
        for a caller that copies them from there itself (a dead-letter file then holds them
        followed by a newline, as it would have)."""
        self.lines_read = 0
        name = str(path)
        reject = self._rejecter(name)
        if spans is not None:
            def reject(message: str, line: int | None) -> KeptRecord | None:
                kept = self._reject(LogParseError(message, file=name, line=line))
                return None if kept is None else _SpanRecord(offset + splitter.line_start, spans)
        splitter = LineSplitter(self.limits.max_line_bytes, reject)
        offset = start  # of the first byte fed to the splitter
        with open(path, "rb", buffering=0) as fh:
            fh.seek(start)
            left = end - start
            bom = start == 0

            def read(n: int) -> bytes:
                nonlocal left, bom, offset
                data = fh.read(min(n, left)) if left > 0 else b""
                left -= len(data)
                if bom:
                    bom = False
                    if data.startswith(_BOM):  # a range starting mid-way never has one
                        data, offset = data[len(_BOM):], offset + len(_BOM)
                return data

            yield from line_batches(read, splitter.limit, splitter.reject, splitter=splitter)
        self.lines_read = splitter.number - 1

    # -- whole JSON-lines files as raw lines, compressed or not (the batch engine) ------------

    def jsonl_lines(self, path: str | Path, held: HeldRejects) -> Iterator[tuple[int, list[bytes]]]:
        """The raw lines of a (compressed) JSON-lines file (``raw_jsonl`` says which files), split
        and numbered as ``read_file`` splits them, in batches each with the number of its first
        line, for callers that parse lines themselves and report bad ones with ``reject_line``.
        An empty line is blank (skip it); a line past the limit stands as an empty one and its
        report is held in ``held`` until the caller reports it (``HeldReject.report``) in line
        order. The events are the caller's to count (``stats.events``).

        After the last batch comes an empty one (``(0, [])``): the caller handles every line it
        holds before it asks for more, for a decoding failure is then reported (``unreadable
        after N events``, as ``read_file`` reports it) with every event counted."""
        name = str(path)
        opened = self._open(path, name)
        if opened is None:
            return
        fh, fifo = opened
        compressions = layout_of(Path(name).name).compressions
        self.stats.files += 1
        progress = None if fifo else _Progress(fh, self.progress)
        reject = held.holding(self._rejecter(name), self.dead_letter is not None)
        with fh:
            before = self.stats.events
            try:
                source = self._layers(fh, compressions, progress, bounded=bool(compressions))
                first, head, c = _sniff(source.read)
                if c is not None:
                    yield from line_batches(source.read, self.limits.max_line_bytes, reject, first=first, head=head)
                yield 0, []
                self._failed(source, name, self.stats.events - before)
            finally:
                if progress is not None:
                    progress.finish()

    # -- rejects --------------------------------------------------------------------------------

    def reject_line(self, line: bytes, name: str, lineno: int, exc: orjson.JSONDecodeError | None) -> None:
        """Record a JSON line that is not an event: malformed (``exc``) or not an object (None).
        Blank lines are no error."""
        if exc is not None:
            if line.strip():
                self._error(LogParseError(f"malformed JSON: {exc}", file=name, line=lineno), line)
        else:
            self._error(LogParseError("not a JSON object", file=name, line=lineno), line)

    def _rejecter(self, name: str) -> Callable[[str, int | None], KeptRecord | None]:
        def reject(message: str, line: int | None) -> KeptRecord | None:
            return self._reject(LogParseError(message, file=name, line=line))
        return reject

    def report(self, error: LogParseError) -> None:
        """Count and keep ``error``, one with no bytes of its own to keep (a file that cannot be
        read, a record an engine read elsewhere); raised when strict."""
        self._reject(error)

    def _reject(self, error: LogParseError) -> KeptRecord | None:
        """Count and keep ``error`` (raise it when strict); where the record's bytes go."""
        if self.strict:
            raise error
        self.stats.skipped += 1
        if len(self.stats.errors) < MAX_KEPT_ERRORS:
            self.stats.errors.append(error)
        return None if self.dead_letter is None else _DeadRecord(self.dead_letter)

    def _error(self, error: LogParseError, line: bytes | None) -> None:
        kept = self._reject(error)
        if kept is not None and line is not None:
            kept.write(line)
            kept.close()

    def _open(self, path: str | Path, name: str) -> tuple[BinaryIO, bool] | None:
        """``open_input(path)``, or None once what stopped it is reported (skipped or unreadable)."""
        try:
            return open_input(path)
        except NotAFile as exc:
            self._skip_file(name, str(exc))
        except OSError as exc:
            self._error(LogParseError(f"cannot open: {exc.strerror}", file=name), None)
        return None

    def _skip_file(self, path: str, reason: str) -> None:
        self.stats.files_skipped += 1
        if len(self.stats.skipped_files) < MAX_KEPT_ERRORS:
            self.stats.skipped_files.append((path, reason))


class _Progress:
    """Reports how far into a file the read is, in bytes of the file (compressed bytes for a
    compressed file), and tops the count up to the file's size at the end."""

    def __init__(self, fh: BinaryIO, report: Callable[[int], None] | None) -> None:
        self.fh = fh
        self.report = report
        self.done = 0

    def update(self) -> None:
        if self.report is not None:
            with contextlib.suppress(OSError, ValueError):
                self._to(self.fh.tell())

    def finish(self) -> None:
        if self.report is not None:
            with contextlib.suppress(OSError, ValueError):
                self._to(os.fstat(self.fh.fileno()).st_size)

    def _to(self, pos: int) -> None:
        if pos > self.done:
            self.report(pos - self.done)  # type: ignore[misc]
            self.done = pos


def _sniff(read: Read) -> tuple[int, bytes, int | None]:
    """(line of the head's start, head, first byte that is not whitespace, or None when there is
    none). Reads only until that byte arrives; strips a UTF-8 byte-order mark."""
    line, head, start = 1, b"", True
    while True:
        data = read(CHUNK_BYTES)
        if not data:
            return line, b"", None
        head += data
        if start:
            if len(head) < len(_BOM) and _BOM.startswith(head):
                continue
            start = False
            if head.startswith(_BOM):
                head = head[len(_BOM):]
        at = _WS.match(head).end()  # type: ignore[union-attr]
        if at < len(head):
            return line, head, head[at]
        # Only whitespace so far: count its lines and let it go.
        line += head.count(b"\n")
        head = head[head.rfind(b"\n") + 1:]
        if len(head) > CHUNK_BYTES:
            head = b""


def splittable(path: str | Path) -> bool:
    """Whether a file is plain JSON lines that can be read in independent byte ranges (its
    suffix says so and, as the one-process reader checks too, it does not open with ``[``)."""
    p = Path(path)
    if str(path) == "-" or p.suffix not in (".jsonl", ".ndjson", ".log") or not p.is_file():
        return False
    with open(p, "rb") as fh:
        head = fh.read(4096)
    return head.removeprefix(_BOM).lstrip()[:1] != b"["


def raw_jsonl(path: str | Path) -> bool:
    """Whether ``read_file`` reads a file as JSON lines, straight or through compression layers
    (``jsonl_lines`` then gives its raw lines): a regular file, no archive, a JSON-lines suffix
    under the compression suffixes, and (decompressed) not opening with ``[``. A file whose
    first bytes cannot be decompressed counts as JSON lines: reading it reports the failure."""
    layout = layout_of(Path(path).name)
    if str(path) == "-" or layout.archive is not None or layout.format not in _JSONL_SUFFIXES:
        return False
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as fh:
            stream: BinaryIO = fh
            for suffix in reversed(layout.compressions):
                stream = decompressed(stream, suffix)
            _first, _head, c = _sniff(Input(stream).read)
    except OSError:
        return False  # reading it reports why
    return c != 0x5B


def line_ranges(path: str | Path, chunk_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges of about ``chunk_bytes`` covering the file, each ending after a newline."""
    size = Path(path).stat().st_size
    ranges: list[tuple[int, int]] = []
    start = 0
    with open(path, "rb") as fh:
        while start < size:
            fh.seek(min(start + chunk_bytes, size))
            # Run on to the end of the line the cut fell in, however long, a bounded read at a time.
            while (piece := fh.readline(CHUNK_BYTES)) and not piece.endswith(b"\n"):
                pass
            end = min(fh.tell(), size)
            ranges.append((start, end))
            start = end
    return ranges


def total_bytes(paths: Iterable[str | Path]) -> int:
    """Size on disk of every file a read of ``paths`` would open (for progress bars)."""
    total = 0
    for path in expand_paths(paths):
        if path != "-":
            with contextlib.suppress(OSError):
                total += Path(path).stat().st_size
    return total

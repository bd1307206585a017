"""Parallel scanning of large JSON-lines files.

Parsing, rule matching and reading what a match needs from its event (time, id, group keys,
output fields: ``StreamingEngine.digest``) — nearly all of a scan's work — run in worker
processes, each on its own byte range of the file. Workers send back only digests of what
matched, so the parent does the order-dependent part alone and in file order (``route``):
grouping, windows, correlations, alert ids. Results are therefore identical to a one-process
scan. Workers are forked after the rule plan is built, so they share it without re-loading.
Python rules keep state across events, so a rule set holding any runs in one process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tokentrail.alerting.models import Alert
from tokentrail.engine.digest import Digest
from tokentrail.engine.plan import UNKNOWN
from tokentrail.engine.stream import StreamingEngine, unknown_event_error
from tokentrail.errors import LogParseError
from tokentrail.sources.files import LogReader, ReadLimits, line_ranges

CHUNK_BYTES = 8 << 20  # one task: big enough to amortise IPC, small enough to bound memory
MIN_PARALLEL_BYTES = 32 << 20  # smaller files are not worth starting workers for
WARM_BYTES = 1 << 20  # how much of a file's start the parent matches before forking

_ENGINE: StreamingEngine | None = None  # set in the parent before forking; workers inherit it
_LIMITS = ReadLimits()  # the parent's read limits, inherited the same way


@dataclass(frozen=True)
class ChunkResult:
    """What a worker found in one byte range (line numbers relative to the range).

    ``hits`` is JSON — ``[[line, [digest fields...], ...], ...]`` — because orjson moves these
    small records between processes several times faster than pickle; ``raws`` holds the raw
    lines of the hits when matches are written out with their events.
    """

    lines: int
    events: int
    hits: bytes
    raws: list[bytes] | None
    errors: list[tuple[int | None, str]]
    skipped: int
    dead: list[bytes]
    unknown: int = 0  # events of no known log type
    first_unknown: int = 0  # the line of the first of them (relative to the range)
    no_rules: dict[str, int] | None = None  # log type -> events no loaded rule targets


def _scan_range(task: tuple[str, int, int, bool, bool]) -> ChunkResult:
    path, start, end, keep_dead, keep_events = task
    assert _ENGINE is not None
    dead: list[bytes] = []
    reader = LogReader(dead_letter=_ListSink(dead) if keep_dead else None, limits=_LIMITS)
    # StreamingEngine.match, unrolled: this loop runs once per event of the file.
    detect, index_of, digest = _ENGINE._detect, _ENGINE.plan.indexes.get, _ENGINE.digest
    hits: list[Any] = []
    raws: list[bytes] | None = [] if keep_events else None
    loads, not_json, events = orjson.loads, orjson.JSONDecodeError, 0
    unknown, first_unknown, no_rules = 0, 0, {}
    # The parse of LogReader's JSON-lines reader, unrolled too: a generator between the lines and
    # this loop costs a tenth of the parse itself.
    for first, batch in reader.range_lines(path, start, end):
        for line, raw in enumerate(batch, first):
            if not raw:  # blank, or a line past the limit (reported by range_lines)
                continue
            try:
                event = loads(raw)
            except not_json as exc:
                reader.reject_line(raw, path, line, exc)
                continue
            if event.__class__ is not dict:
                reader.reject_line(raw, path, line, None)
                continue
            events += 1
            original = event
            found = detect(event)
            if found.__class__ is not str:
                if found is None:
                    unknown += 1
                    first_unknown = first_unknown or line
                    if keep_dead:
                        dead.append(raw if raw.endswith(b"\n") else raw + b"\n")
                    found = UNKNOWN
                else:  # reshaped (another case, a wrapper): rules and the match read the new form
                    event, found = found.event, found.log_type
            index = index_of(found)
            if index is None:
                if found != UNKNOWN:
                    no_rules[found] = no_rules.get(found, 0) + 1
                continue
            units = index.matching(event)
            if units is not None:
                hits.append((line, [tuple(digest(u, event)) for u in units]))
                if raws is not None:
                    raws.append(raw if event is original else orjson.dumps(event))
    errors = [(e.line, e.message) for e in reader.stats.errors]
    encoded = orjson.dumps(hits, default=_jsonable)
    return ChunkResult(reader.lines_read, events, encoded, raws, errors, reader.stats.skipped, dead,
                       unknown, first_unknown, no_rules)


def _jsonable(value: Any) -> str:
    # Event values are JSON already; anything else a digest holds is shown as text.
    return str(value)


class _ListSink:
    def __init__(self, out: list[bytes]) -> None:
        self.out = out

    def write(self, data: bytes) -> int:
        self.out.append(data)
        return len(data)


def worker_count(requested: int, engine: StreamingEngine) -> int:
    """How many processes to use: 0 means one per core; Python rules force one."""
    if engine.plan.python_rules:
        return 1
    return max(1, requested or os.cpu_count() or 1)


class ParallelFileScanner:
    """Scans large JSON-lines files with a pool of forked workers feeding one engine."""

    def __init__(self, engine: StreamingEngine, reader: LogReader, workers: int, *,
                 chunk_bytes: int | None = None) -> None:
        self.engine = engine
        self.reader = reader
        self.workers = workers
        self.chunk_bytes = chunk_bytes or CHUNK_BYTES
        self._pool = None

    def __enter__(self) -> ParallelFileScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        global _ENGINE
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            _ENGINE = None  # the workers are gone; let the engine (and its state store) go too

    def scan_file(self, path: str | Path) -> Iterator[Alert]:
        """Alerts completed while scanning ``path``, in file order."""
        global _ENGINE, _LIMITS
        if self._pool is None:
            _warm(self.engine, str(path))
            _ENGINE, _LIMITS = self.engine, self.reader.limits
            self._pool = multiprocessing.get_context("fork").Pool(self.workers)
        name = str(path)
        keep_dead = self.reader.dead_letter is not None
        keep_events = self.engine.on_match is not None  # matches are written out with their event
        tasks = [(name, start, end, keep_dead, keep_events) for start, end in line_ranges(path, self.chunk_bytes)]
        self.reader.stats.files += 1
        base = 0
        for (_, start, end, _, _), result in zip(tasks, self._pool.imap(_scan_range, tasks), strict=True):
            self._account(result, name, base)
            yield from self._accept(result, name, base)
            base += result.lines
            if self.reader.progress is not None:
                self.reader.progress(end - start)

    def _account(self, result: ChunkResult, name: str, base: int) -> None:
        stats = self.reader.stats
        stats.events += result.events
        self.engine.stats.events += result.events
        for line, message in result.errors:
            error = LogParseError(message, file=name, line=None if line is None else base + line)
            if self.reader.strict:
                raise error
            if len(stats.errors) < 1000:
                stats.errors.append(error)
        stats.skipped += result.skipped
        for raw in result.dead:
            self.reader.dead_letter.write(raw)  # type: ignore[union-attr]
        engine_stats = self.engine.stats
        if result.unknown:
            if self.engine.strict_unknown:
                raise unknown_event_error(name, base + result.first_unknown)
            engine_stats.add_unknown(name, base + result.first_unknown, result.unknown)
        for log_type, count in (result.no_rules or {}).items():
            engine_stats.no_rules[log_type] = engine_stats.no_rules.get(log_type, 0) + count

    def _accept(self, result: ChunkResult, name: str, base: int) -> Iterator[Alert]:
        units = self.engine.plan.units
        route = self.engine.route
        hits = orjson.loads(result.hits)
        self.engine.stats.matched_events += len(hits)
        for n, (line, digests) in enumerate(hits):
            event = orjson.loads(result.raws[n]) if result.raws is not None else {}
            for unit, time, event_id, extras, signals, reset in digests:
                if signals or reset is not None:  # JSON gave lists where the digest holds tuples
                    signals = tuple((c, step, tuple(key), value, fields) for c, step, key, value, fields in signals)
                    digest = Digest(unit, time, event_id, extras, signals, None if reset is None else tuple(reset))
                else:
                    digest = Digest(unit, time, event_id, extras)
                alerts = route(units[unit], digest, event, name, base + line)
                if alerts:
                    yield from alerts


def _warm(engine: StreamingEngine, path: str) -> None:
    """Match the file's first lines in the parent before forking: the plan builds its per-value
    functions on first sight, and workers forked afterwards inherit them rather than each
    building its own. Matching has no side effect; nothing found here is reported."""
    with open(path, "rb") as fh:
        lines = fh.read(WARM_BYTES).split(b"\n")  # bounded, however long a line is
    for line in lines:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if event.__class__ is dict:
            engine.match(event)


def parallel_worth_it(path: str | Path, min_bytes: int = MIN_PARALLEL_BYTES) -> bool:
    """Only big plain files pay back the cost of starting workers."""
    try:
        return Path(path).stat().st_size >= min_bytes
    except OSError:
        return False


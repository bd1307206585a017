"""Parallel scanning of large JSON-lines files.

Parsing, rule matching and reading what a match needs from its event (time, id, group keys,
output fields: ``StreamingEngine.digest``) — nearly all of a scan's work — run in worker
processes, each on its own byte range of the file. Workers send back only digests of what
matched, so the parent does the order-dependent part alone and in file order (``route``):
grouping, windows, correlations, alert ids. Results are therefore identical to a one-process
scan. Workers are forked after the rule plan is built, so they share it without re-loading.
Python rules keep state across events, so a rule set holding any runs in one process.

Workers report the dedup key of every event they read (``SeenEvents``), and the parent drops
duplicates in file order, as a one-process scan does. A worker that dies (kill -9, the OOM
killer) breaks the pool: the parent sees it at once, starts a new pool and runs the unfinished
byte ranges again; a range that was running when a pool broke twice fails the scan with one
line (``WorkerDied``), never a hang.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import orjson

from tokentrail.alerting.models import Alert
from tokentrail.compile.regex import RegexTimeLimitExceeded
from tokentrail.engine.dedup import SeenEvents
from tokentrail.engine.digest import Digest
from tokentrail.engine.keybatch import KeyBatch, pack_batch
from tokentrail.engine.plan import UNKNOWN
from tokentrail.engine.stream import StreamingEngine, unknown_event_error
from tokentrail.errors import ConfigError, LogParseError, TokenTrailError
from tokentrail.sources.files import LogReader, ReadLimits, line_ranges, splittable

CHUNK_BYTES = 8 << 20  # one task: big enough to amortise IPC, small enough to bound memory
MIN_PARALLEL_BYTES = 32 << 20  # smaller files are not worth starting workers for
WARM_BYTES = 1 << 20  # how much of a file's start the parent matches before forking
WORKERS_PER_CORE = 4  # the most workers -j may ask for, per core
COPY_BYTES = 1 << 20  # one piece of an over-size line copied to the dead-letter file
ATTEMPTS = 2  # a byte range is run at most this many times when its worker dies
DEATH_CHECK_SECONDS = 0.5  # how often a parent waiting on a result looks for dead workers

_ENGINE: StreamingEngine | None = None  # set in the parent before forking; workers inherit it
_LIMITS = ReadLimits()  # the parent's read limits, inherited the same way


@dataclass(frozen=True)
class ChunkResult:
    """What a worker found in one byte range (line numbers relative to the range).

    ``hits`` is JSON — ``[[line, ordinal, [digest fields...], ...], ...]`` — because orjson moves
    these small records between processes several times faster than pickle; ``raws`` holds the
    raw lines of the hits when matches are written out with their events. ``keys`` holds every
    event's dedup key, packed by the worker (``keybatch``; None when duplicates are kept).
    ``dead`` holds what goes to the dead-letter file, in order: a bad record's bytes, or for a
    line past the read limit its ``(offset, length)`` in the file, which the parent copies from
    there — a worker never holds such a line, nor sends it.
    """

    lines: int
    events: int
    hits: bytes
    keys: KeyBatch | None
    raws: list[bytes] | None
    errors: list[tuple[int | None, str]]
    skipped: int
    dead: list[bytes | tuple[int, int]]
    rule_errors: list[tuple[int, int, str]]  # (line, unit index, why): a regex overran its limit
    unknown: int = 0  # events of no known log type
    first_unknown: int = 0  # the line of the first of them (relative to the range)
    no_rules: dict[str, int] | None = None  # log type -> events no loaded rule targets


class WorkerDied(TokenTrailError):
    """A worker process died twice while scanning one byte range."""


def _scan_range(task: tuple[str, int, int, bool, bool, bool]) -> ChunkResult:
    path, start, end, keep_dead, keep_events, dedup = task
    assert _ENGINE is not None
    key_of = SeenEvents().key if dedup else None
    keys: list[str] = []
    dead: list[bytes | tuple[int, int]] = []
    reader = LogReader(dead_letter=_ListSink(dead) if keep_dead else None, limits=_LIMITS)
    # StreamingEngine.match, unrolled: this loop runs once per event of the file.
    detect, index_of, digest = _ENGINE._detect, _ENGINE.plan.indexes.get, _ENGINE.digest
    hits: list[Any] = []
    rule_errors: list[tuple[int, int, str]] = []
    raws: list[bytes] | None = [] if keep_events else None
    loads, not_json, events = orjson.loads, orjson.JSONDecodeError, 0
    unknown, first_unknown, no_rules = 0, 0, {}
    # The parse of LogReader's JSON-lines reader, unrolled too: a generator between the lines and
    # this loop costs a tenth of the parse itself.
    spans = (lambda offset, length: dead.append((offset, length))) if keep_dead else None
    take = _ENGINE.prefilter.take
    indexes = _ENGINE.plan.indexes
    for first, batch in reader.range_lines(path, start, end, spans=spans):
        taken = list(map(take, batch)) if take is not None else None
        if taken is not None and None not in taken:
            # Every line of the batch proved to match no rule (the usual case): counted and keyed
            # by C-level loops, with no Python step per line.
            events += len(taken)
            if key_of is not None:
                keys += map(_second, taken)
            kinds = set(map(_first, taken))
            if not kinds <= indexes.keys():
                for kind in map(_first, taken):
                    if kind not in indexes:
                        no_rules[kind] = no_rules.get(kind, 0) + 1
            continue
        for line, raw in enumerate(batch, first):
            if not raw:  # blank, or a line past the limit (reported by range_lines)
                continue
            if taken is not None and (got := taken[line - first]) is not None:
                # Proved to match no rule, and validated: counted, its key kept, not parsed.
                events += 1
                if key_of is not None:
                    keys.append(got[1])
                if got[0] not in indexes:
                    no_rules[got[0]] = no_rules.get(got[0], 0) + 1
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
                    if keep_dead:  # as the one-process scan keeps it (session.unknown_keeper)
                        dead.append(orjson.dumps(event) + b"\n")
                    found = UNKNOWN
                else:  # reshaped (another case, a wrapper): rules and the match read the new form
                    event, found = found.event, found.log_type
            if key_of is not None:
                keys.append(key_of(event, found) or "")
            index = index_of(found)
            if index is None:
                if found != UNKNOWN:
                    no_rules[found] = no_rules.get(found, 0) + 1
                continue
            try:
                units = index.matching(event)
            except RegexTimeLimitExceeded:
                units, failures = index.matching_each(event)
                rule_errors.extend((line, u.index, why) for u, why in failures)
            if units is not None:
                hits.append((line, events - 1, [tuple(digest(u, event)) for u in units]))
                if raws is not None:
                    raws.append(raw if event is original else orjson.dumps(event))
    errors = [(e.line, e.message) for e in reader.stats.errors]
    encoded = orjson.dumps(hits, default=_jsonable)
    packed = pack_batch(keys) if key_of is not None else None
    return ChunkResult(reader.lines_read, events, encoded, packed, raws, errors,
                       reader.stats.skipped, dead, rule_errors, unknown, first_unknown, no_rules)


_first, _second = itemgetter(0), itemgetter(1)


def _jsonable(value: Any) -> str:
    # Event values are JSON already; anything else a digest holds is shown as text.
    return str(value)


class _ListSink:
    def __init__(self, out: list[bytes | tuple[int, int]]) -> None:
        self.out = out

    def write(self, data: bytes) -> int:
        self.out.append(data)
        return len(data)


def max_workers() -> int:
    """The most workers a scan may start: ``WORKERS_PER_CORE`` per core."""
    return (os.cpu_count() or 1) * WORKERS_PER_CORE


def worker_count(requested: int, engine: StreamingEngine) -> int:
    """How many processes to use: 0 means one per core; Python rules force one.

    Raises ``ConfigError`` for a negative number or more than ``max_workers()``.
    """
    if requested < 0 or requested > max_workers():
        raise ConfigError(f"--workers {requested}: give 0 (one per core) to {max_workers()} "
                          f"({WORKERS_PER_CORE} per core on {os.cpu_count() or 1} cores)")
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
        self.close()

    def close(self) -> None:
        """Stop the workers (each has exited when this returns) and let go of the engine."""
        global _ENGINE
        self._stop_pool()
        _ENGINE = None  # the workers are gone; let the engine (and its state store) go too

    def _stop_pool(self) -> None:
        if self._pool is not None:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()  # a worker busy on a range we no longer want
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _start_pool(self, path: str) -> ProcessPoolExecutor:
        global _ENGINE, _LIMITS
        if self._pool is None:
            if _ENGINE is None:
                _warm(self.engine, path)
                _ENGINE, _LIMITS = self.engine, self.reader.limits
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"))
        return self._pool

    def takes(self, path: str | Path, min_bytes: int) -> bool:
        """Whether ``path`` goes to this pool: more than one worker, and a plain JSON-lines file
        (not compressed, not ``-``) of at least ``min_bytes``."""
        return self.workers > 1 and splittable(path) and parallel_worth_it(path, min_bytes)

    def start(self, path: str) -> None:
        """Fork the workers now, warmed on ``path``'s first lines, rather than at the first task
        (before the caller's other work: the batch engine forks before DuckDB runs)."""
        try:
            self._start_pool(path).submit(os.getpid).result()
        except BrokenProcessPool:
            self._stop_pool()  # a worker died already: the first task starts a new pool

    def scan_file(self, path: str | Path) -> Iterator[Alert]:
        """Alerts completed while scanning ``path``, in file order."""
        name = str(path)
        keep_dead = self.reader.dead_letter is not None
        keep_events = self.engine.on_match is not None  # matches are written out with their event
        dedup = self.engine.seen is not None
        tasks = [(name, start, end, keep_dead, keep_events, dedup)
                 for start, end in line_ranges(path, self.chunk_bytes)]
        self.reader.stats.files += 1
        base = 0
        for task, result in zip(tasks, self._results(name, tasks), strict=True):
            self._account(result, name, base)
            yield from self._accept(result, name, base)
            base += result.lines
            if self.reader.progress is not None:
                self.reader.progress(task[2] - task[1])

    def _results(self, name: str, tasks: list[tuple]) -> Iterator[ChunkResult]:
        """Each task's result in order, with at most two tasks per worker in flight (memory
        stays bounded); a broken pool is replaced and its unfinished tasks run again."""
        attempts = [0] * len(tasks)
        pending: deque[tuple[int, Future]] = deque()
        following = 0  # the next task to submit
        done = 0
        while done < len(tasks):
            pool = self._start_pool(name)
            try:
                while following < len(tasks) and len(pending) < 2 * self.workers:
                    attempts[following] += 1
                    pending.append((following, pool.submit(_scan_range, tasks[following])))
                    following += 1
                number, future = pending[0]
                result = self._wait(future)
            except BrokenProcessPool:
                self._stop_pool()
                retry = [n for n, _ in pending]
                for n in retry:
                    if attempts[n] >= ATTEMPTS:
                        _, start, end, *_ = tasks[n]
                        raise WorkerDied(f"a worker process died twice scanning bytes {start}-{end} "
                                         "(killed, or out of memory)", file=name) from None
                pending.clear()
                following = retry[0] if retry else following
                continue
            pending.popleft()
            done += 1
            yield result

    def _wait(self, future: Future) -> ChunkResult:
        """The future's result; raises ``BrokenProcessPool`` once a worker has died.

        The executor notices a dead worker on its own, except when the worker died while sending
        a result (or holding the result queue's lock): its thread then waits forever for the rest
        of the message. So while waiting, look for dead workers here too, and on finding one end
        them all: with the parent's copy of the result pipe's write end closed, the executor's
        read then meets end-of-file and it marks the pool broken.
        """
        assert self._pool is not None
        _close_result_writer(self._pool)
        while True:
            try:
                return future.result(timeout=DEATH_CHECK_SECONDS)
            except FutureTimeout:
                processes = list(getattr(self._pool, "_processes", {}).values())
                if multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0):
                    for process in processes:
                        process.kill()

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
        for line, unit, why in result.rule_errors:
            self.engine._rule_error(self.engine.plan.units[unit], {}, name, base + line, why)
        out = self.reader.dead_letter
        for kept in result.dead:
            if kept.__class__ is bytes:
                out.write(kept)  # type: ignore[union-attr, arg-type]
            else:
                copy_line(name, *kept, out)  # type: ignore[misc, arg-type]
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
        dropped = self._duplicates(result)
        self.engine.stats.events -= len(dropped)
        self.engine.stats.duplicates += len(dropped)
        self.engine.stats.matched_events += len(hits)
        for n, (line, ordinal, digests) in enumerate(hits):
            if ordinal in dropped:
                self.engine.stats.matched_events -= 1
                continue
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

    def _duplicates(self, result: ChunkResult) -> set[int]:
        """The ordinals of the range's events already taken, recording the others."""
        seen = self.engine.seen
        return set() if seen is None or result.keys is None else seen.duplicates_in(result.keys)


def _close_result_writer(pool: ProcessPoolExecutor) -> None:
    """Close the parent's copy of the write end of the pool's result pipe (the parent never
    writes there), so that the end-of-file of a pipe whose workers are all dead is seen. Only
    once the workers are forked (at the first submit): they need their copies."""
    queue = getattr(pool, "_result_queue", None)
    if queue is not None and getattr(pool, "_processes", None):
        queue._writer.close()


def copy_line(path: str, offset: int, length: int, out: IO[bytes]) -> None:
    """Copy a line past the read limit from ``path`` to ``out``, a bounded piece at a time, and
    end it with a newline, as the one-process reader keeps it."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        while length > 0:
            piece = fh.read(min(length, COPY_BYTES))
            if not piece:
                break  # the file shrank since the worker read it: keep what is still there
            out.write(piece)
            length -= len(piece)
    out.write(b"\n")


def _warm(engine: StreamingEngine, path: str) -> None:
    """Match the file's first lines in the parent before forking: the plan (and the fast path)
    build their per-value functions on first sight, and workers forked afterwards inherit them
    rather than each building its own. Matching has no side effect; nothing found here is
    reported."""
    with open(path, "rb") as fh:
        lines = fh.read(WARM_BYTES).split(b"\n")  # bounded, however long a line is
    take = engine.prefilter.take
    for line in lines:
        if take is not None:
            take(line)  # the fast path learns its event types too
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


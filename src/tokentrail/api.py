"""The library's front door: load rules, scan log files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any

import orjson

from tokentrail.alerting.models import Match
from tokentrail.content import default_rule_paths
from tokentrail.engine import ScanResult, StreamingEngine
from tokentrail.engine.gcpolicy import scan_gc
from tokentrail.engine.parallel import (
    MIN_PARALLEL_BYTES,
    ParallelFileScanner,
    parallel_worth_it,
    worker_count,
)
from tokentrail.rules.loader import LoadContext, LoadResult
from tokentrail.rules.loader import load_rules as _load_rules
from tokentrail.rules.model import Rule
from tokentrail.sources.files import LogReader, ReadLimits, splittable
from tokentrail.state import StateStore


def load_rules(paths: Iterable[str | Path] | None = None, *, context: LoadContext | None = None) -> LoadResult:
    """Load rules from ``paths`` (default: the bundled pack). Errors are collected, not raised."""
    # Loading a large repository (Panther's: 1,300 files) allocates much and frees little; the
    # scan's collector settings save a third of the time the cyclic collector would take.
    with scan_gc():
        if paths is None:
            return _load_rules(default_rule_paths(), context=context or LoadContext(allow_python=False))
        return _load_rules(paths, context=context)


def scan(paths: Iterable[str | Path], rules: Sequence[Rule] | LoadResult, *, strict: bool = False,
         dead_letter: IO[bytes] | None = None, state: StateStore | None = None,
         on_match: Callable[[Match], None] | None = None,
         progress: Callable[[int], None] | None = None, workers: int = 1,
         min_parallel_bytes: int = MIN_PARALLEL_BYTES, log_type: str | None = None,
         limits: ReadLimits | None = None) -> ScanResult:
    """Scan log files (``-`` for stdin) with ``rules``; return alerts, counts and every error.

    Matches are not kept (memory stays constant); pass ``on_match`` to see them. ``workers``
    > 1 (0: one per core) parses and matches big JSON-lines files in that many processes; the
    alerts are the same as with one. ``log_type`` forces one log type (a TokenTrail or Panther
    name) for all input; an unknown name raises ``UnknownLogType`` listing the known ones.
    Events of no known log type are counted per file (``stats.unknown``), written to
    ``dead_letter`` too, and fatal with ``strict``. ``limits`` bounds what one line, cell,
    document or compressed member may take (default: ``ReadLimits()``).
    """
    load_errors = []
    if isinstance(rules, LoadResult):
        load_errors = list(rules.errors)
        rules = rules.rules
    reader = LogReader(strict=strict, dead_letter=dead_letter, progress=progress, limits=limits or ReadLimits())
    engine = StreamingEngine(rules, state=state, on_match=on_match, log_type=log_type, strict_unknown=strict,
                             on_unknown=None if dead_letter is None else partial(_keep_unknown, dead_letter))
    workers = worker_count(workers, engine)
    alerts: list = []
    process = engine.process
    with scan_gc(), ParallelFileScanner(engine, reader, workers) as parallel:
        for path in reader.paths(paths):
            if workers > 1 and splittable(path) and parallel_worth_it(path, min_parallel_bytes):
                alerts.extend(parallel.scan_file(path))
                continue
            for event, source, line in reader.read_file(path):
                found = process(event, source, line)
                if found:
                    alerts.extend(found)
    alerts.extend(engine.finish())
    alerts.sort(key=lambda a: (a.first_time or 0.0, a.rule_id, a.id))
    return ScanResult(
        alerts=alerts,
        stats=engine.stats,
        rule_errors=engine.rule_errors,
        load_errors=load_errors + list(engine.load_errors),
        read_errors=reader.stats.errors,
        events_skipped=reader.stats.skipped,
        skipped_files=reader.stats.skipped_files,
        files_skipped=reader.stats.files_skipped,
    )


def _keep_unknown(dead_letter: IO[bytes], event: Mapping[str, Any], source: str, line: int) -> None:
    """An event of no known log type goes to the dead-letter file as one JSON line."""
    dead_letter.write(orjson.dumps(event) + b"\n")

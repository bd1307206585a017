"""The library's front door: load rules, scan log files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from tokentrail.alerting.delivery import AlertGate
from tokentrail.alerting.models import Alert, Match
from tokentrail.content import default_rule_paths
from tokentrail.engine import ScanResult, StreamingEngine
from tokentrail.engine.dedup import DEFAULT_MEMORY_IDS
from tokentrail.engine.gcpolicy import scan_gc
from tokentrail.engine.parallel import (
    MIN_PARALLEL_BYTES,
    ParallelFileScanner,
    worker_count,
)
from tokentrail.engine.session import scan_result, scan_session, unknown_keeper
from tokentrail.rules.loader import LoadContext, LoadResult
from tokentrail.rules.loader import load_rules as _load_rules
from tokentrail.rules.model import Rule
from tokentrail.schemas.access import event_time
from tokentrail.schemas.detect import recognise
from tokentrail.sources.files import LogReader, ReadLimits
from tokentrail.state import StateStore

if TYPE_CHECKING:
    from tokentrail.sinks.parquet_dataset import DatasetReport

# Defaults that ``tokentrail scan`` shares with ``scan()``: 0 workers means one process per core
# for big JSON-lines files (a scan with Python rules always runs in one process).
DEFAULT_WORKERS = 0


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
         on_alert: Callable[[Alert], None] | None = None,
         progress: Callable[[int], None] | None = None, workers: int = DEFAULT_WORKERS,
         min_parallel_bytes: int = MIN_PARALLEL_BYTES, log_type: str | None = None,
         limits: ReadLimits | None = None, keep_duplicates: bool = False,
         memory_ids: int = DEFAULT_MEMORY_IDS, prefilter: bool = True) -> ScanResult:
    """Scan log files (``-`` for stdin) with ``rules``; return alerts, counts and every error.

    Each event is taken once: a second event of the same log type and event id (one file named
    twice, overlapping exports, the same rows as JSON and CSV) is counted in
    ``stats.duplicates`` and goes no further, unless ``keep_duplicates``. At most
    ``memory_ids`` event ids stay in memory as strings; older ones are packed into compact arrays.

    Alerts leave when final, each id once: pass ``on_alert`` to get each one the moment nothing
    can change it (a single-event alert at once, a grouped one when its event-time window has
    closed, the rest at the end of input); ``ScanResult.alerts`` then stays empty, so memory does
    not grow with the alerts. Without it they are returned, sorted by time.

    ``state``: a store the caller holds (``StateStore.hold``) is left uncommitted, for the
    caller to commit once it has written the alerts; any other is held for the scan and
    committed when it ends. Either way a scan that dies changes nothing in it.

    Matches are not kept (memory stays constant); pass ``on_match`` to see them. ``workers``
    (default 0: one per core; 1: none; at most 4 per core, else ``ConfigError``) parses and
    matches big JSON-lines files in that many processes; the alerts are the same as with one.
    The defaults are ``tokentrail scan``'s. ``log_type`` forces one log type (a TokenTrail or
    Panther name) for all input; an unknown name raises ``UnknownLogType`` listing the known
    ones. Events of no known log type are counted per file (``stats.unknown``), written to
    ``dead_letter`` too, and fatal with ``strict``. ``limits`` bounds what one line, cell,
    document or compressed member may take (default: ``ReadLimits()``). ``prefilter`` (default
    on) takes JSON lines no rule can match without parsing them into objects (same results);
    ``ScanResult.prefilter_off`` says when a rule set defeats it.
    """
    load_errors = []
    if isinstance(rules, LoadResult):
        load_errors = list(rules.errors)
        rules = rules.rules
    kept: list[Alert] = []
    gate = AlertGate(on_alert or kept.append)
    reader = LogReader(strict=strict, dead_letter=dead_letter, progress=progress, limits=limits or ReadLimits())
    with scan_session(state, keep_duplicates, memory_ids) as seen:
        engine = StreamingEngine(rules, state=state, on_match=on_match, seen=seen, log_type=log_type,
                                 strict_unknown=strict,
                                 on_unknown=unknown_keeper(dead_letter), prefilter=prefilter)
        if engine.prefilter.take is not None:
            reader.take_line = engine.take_line
        workers = worker_count(workers, engine)
        process = engine.process
        with scan_gc(), ParallelFileScanner(engine, reader, workers) as parallel:
            for path in reader.paths(paths):
                if parallel.takes(path, min_parallel_bytes):
                    gate(parallel.scan_file(path))
                    continue
                for event, source, line in reader.read_file(path):
                    found = process(event, source, line)
                    if found:
                        gate(found)
        gate(engine.finish())
    return scan_result(kept, gate, engine, reader, load_errors, rules)



def logs_to_parquet(paths: Iterable[str | Path], out: str | Path, *, append: bool = False, strict: bool = False,
                    limits: ReadLimits | None = None, dead_letter: IO[bytes] | None = None,
                    progress: Callable[[int], None] | None = None) -> DatasetReport:
    """Write every event in ``paths`` under ``out`` as a Parquet dataset partitioned by log type
    and day (see ``sinks/parquet_dataset.py``); events are stored in the form rules read them
    (a Panther export or a Splunk wrapper unwrapped). ``progress`` sees the events read so far."""
    from tokentrail.sinks.parquet_dataset import ParquetDatasetWriter  # pyarrow: only here

    reader = LogReader(strict=strict, dead_letter=dead_letter, limits=limits or ReadLimits())
    writer = ParquetDatasetWriter(out, append=append, read=reader.stats)
    for n, (event, _source, _line) in enumerate(reader.records(paths), 1):
        log_type, shaped = recognise(event)
        writer.add(shaped, log_type, event_time(shaped, log_type) if log_type else None)
        if progress is not None and n % 10_000 == 0:
            progress(n)
    return writer.close()

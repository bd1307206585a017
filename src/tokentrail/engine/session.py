"""What every engine's scan does around its matching: hold the state for the scan and commit it
only when the scan ends well, stop on a Ctrl-C even if its interrupt got lost, keep the
duplicate filter for the scan, keep events of no known log type in the dead-letter file, and
gather the result."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any

import orjson

from tokentrail.alerting.delivery import AlertGate
from tokentrail.alerting.models import Alert
from tokentrail.engine import RuleCounts, ScanResult
from tokentrail.engine.dedup import SeenEvents
from tokentrail.engine.stream import StreamingEngine
from tokentrail.rules.guard import ctrl_c_stops
from tokentrail.rules.model import Rule
from tokentrail.sources.files import LogReader
from tokentrail.state import StateStore


@contextlib.contextmanager
def scan_session(state: StateStore | None, keep_duplicates: bool, memory_ids: int) -> Iterator[SeenEvents | None]:
    """The scan's duplicate filter (None with ``keep_duplicates``). A state the caller does not
    hold already is held for the scan and committed only if the scan ends without an error, so a
    scan that dies changes nothing in it; a state the caller holds is left for it to commit.
    A Ctrl-C during the scan ends it in ``KeyboardInterrupt`` (``rules.guard.ctrl_c_stops``),
    before the commit, even when the interrupt it raised was swallowed on the way."""
    owns_state = state is not None and not state.held
    if owns_state:
        state.hold()
    seen = None if keep_duplicates else SeenEvents(memory_ids)
    try:
        with ctrl_c_stops():
            yield seen
        if owns_state:
            state.commit()
    finally:
        if owns_state:
            state.release()
        if seen is not None:
            seen.close()


def unknown_keeper(dead_letter: IO[bytes] | None) -> Callable[[Mapping[str, Any], str, int], None] | None:
    """The engine's ``on_unknown`` hook that writes each event of no known log type to
    ``dead_letter`` as one JSON line (None without a dead-letter file)."""
    if dead_letter is None:
        return None

    def keep(event: Mapping[str, Any], source: str, line: int) -> None:
        dead_letter.write(orjson.dumps(event) + b"\n")

    return keep


def scan_result(kept: list[Alert], gate: AlertGate, engine: StreamingEngine, reader: LogReader,
                load_errors: list[Any], rules: Sequence[Rule]) -> ScanResult:
    """The result of a finished scan; alerts kept for the caller are sorted by time."""
    kept.sort(key=lambda a: (a.first_time or 0.0, a.rule_id, a.id))
    return ScanResult(
        alerts=kept,
        stats=engine.stats,
        rule_errors=engine.rule_errors,
        load_errors=load_errors + list(engine.load_errors),
        read_errors=reader.stats.errors,
        events_skipped=reader.stats.skipped,
        skipped_files=reader.stats.skipped_files,
        files_skipped=reader.stats.files_skipped,
        rule_counts=RuleCounts.of(rules, engine.plan),
        alerts_delivered=gate.delivered,
        repeated_alerts=gate.repeats,
        prefilter_off=engine.prefilter_off,
    )

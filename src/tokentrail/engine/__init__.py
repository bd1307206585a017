"""Engines that run rules over events. The streaming engine is the default."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tokentrail.alerting.models import Alert, Match
from tokentrail.engine.stream import EngineStats, RuleError, StreamingEngine
from tokentrail.errors import TokenTrailError
from tokentrail.rules.model import Rule
from tokentrail.state import StateStore


@dataclass
class ScanResult:
    """What a scan found, and what it could not do."""

    alerts: list[Alert]
    matches: list[Match] = field(default_factory=list)
    stats: EngineStats = field(default_factory=EngineStats)
    rule_errors: list[RuleError] = field(default_factory=list)
    load_errors: list[TokenTrailError] = field(default_factory=list)
    read_errors: list[TokenTrailError] = field(default_factory=list)
    events_skipped: int = 0
    # Files (and archive members) a read did not open, with the reason; files_skipped counts all.
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    files_skipped: int = 0


def scan_events(rules: Sequence[Rule], events: Iterable[Mapping[str, Any]], *,
                state: StateStore | None = None, keep_matches: bool = True) -> ScanResult:
    """Run ``rules`` over in-memory ``events`` with the streaming engine."""
    matches: list[Match] = []
    engine = StreamingEngine(rules, state=state, on_match=matches.append if keep_matches else None)
    alerts = engine.run(events)
    return ScanResult(alerts, matches, engine.stats, engine.rule_errors, list(engine.load_errors))


__all__ = ["EngineStats", "RuleError", "ScanResult", "StreamingEngine", "scan_events"]

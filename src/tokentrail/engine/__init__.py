"""Engines that run rules over events. The streaming engine is the default."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tokentrail.alerting.models import Alert, Match
from tokentrail.engine.plan import Plan
from tokentrail.engine.stream import EngineStats, RuleError, StreamingEngine
from tokentrail.errors import TokenTrailError
from tokentrail.rules.model import Rule
from tokentrail.state import StateStore


@dataclass(frozen=True)
class RuleCounts:
    """How a scan's rules divide up; the parts add up: ``loaded = alerting + stages + failed +
    idle``.

    ``alerting``: rules that raise their own alerts; ``stages``: rules that only feed a
    correlation (Sigma ``generate: false``); ``failed``: rules that loaded but could not compile
    for a log type they route to; ``idle``: rules that loaded but do not run (unsupported,
    disabled, no logic).
    """

    loaded: int = 0
    alerting: int = 0
    stages: int = 0
    failed: int = 0
    idle: int = 0

    @classmethod
    def of(cls, rules: Sequence[Rule], plan: Plan) -> RuleCounts:
        """The counts of ``rules`` once ``plan`` was built from them."""
        runnable = {r.id for r in rules if r.runnable}
        running = runnable - plan.failed
        alerting = len(running & plan.alerting_rules)
        return cls(loaded=len(rules), alerting=alerting, stages=len(running) - alerting,
                   failed=len(runnable & plan.failed), idle=len(rules) - len(runnable))


@dataclass
class ScanResult:
    """What a scan found, and what it could not do.

    ``alerts`` is empty when the scan handed its alerts to an ``on_alert`` callback;
    ``alerts_delivered`` counts them either way, and ``repeated_alerts`` the alerts not delivered
    because one with the same id already was.
    """

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
    rule_counts: RuleCounts = RuleCounts()
    alerts_delivered: int = 0
    repeated_alerts: int = 0
    prefilter_off: str = ""  # why the fast path did not run, when a rule set defeated it
    memory_note: str = ""  # the batch engine's peak memory against --memory-limit, when it passed it
    # The batch engine's JSON-lines files matched by the streaming engine's workers: files, events,
    # workers (empty when none were).
    stream_workers: dict[str, int] = field(default_factory=dict)


def scan_events(rules: Sequence[Rule], events: Iterable[Mapping[str, Any]], *,
                state: StateStore | None = None, keep_matches: bool = True) -> ScanResult:
    """Run ``rules`` over in-memory ``events`` with the streaming engine."""
    matches: list[Match] = []
    engine = StreamingEngine(rules, state=state, on_match=matches.append if keep_matches else None)
    alerts = engine.run(events)
    return ScanResult(alerts, matches, engine.stats, engine.rule_errors, list(engine.load_errors),
                      rule_counts=RuleCounts.of(rules, engine.plan))


__all__ = ["EngineStats", "RuleCounts", "RuleError", "ScanResult", "StreamingEngine", "scan_events"]

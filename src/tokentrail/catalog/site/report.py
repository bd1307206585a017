"""Rule health from a scan: alerts per rule per day, the noisiest and the dead rules, top actors
and IPs per rule, events by log type and what the scan did not recognise.

It lives with the site, not with the alert sinks, because it is a page of the catalog: the same
templates and style, links to the rule pages when both are built together, and the rule pages
link back. A scan feeds it through its ``on_alert`` and ``on_match`` hooks (``ReportCollector``),
so the engine knows nothing of it and a scan without ``--report`` pays nothing. Matches are read
only for their actors and IPs (the log type's Panther-style indicator fields), per rule, bounded.

The report is kept as data too (``report.json`` beside the page): ``site build --report DIR``
reads it back and renders it inside the site, linked to the rule pages.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tokentrail.alerting.models import Alert, Match
from tokentrail.engine import ScanResult
from tokentrail.errors import TokenTrailError
from tokentrail.rules.model import Correlation, Rule
from tokentrail.schemas.standard import with_panther_fields

REPORT_DATA = "report.json"
REPORT_VERSION = 1
TOP = 10  # actors and IPs listed per rule
MAX_VALUES = 10_000  # distinct actors (or IPs) counted per rule; later new ones count as "(others)"
NO_TIME = "no time"
OTHERS = "(others)"
_ACTOR_KINDS = ("p_any_usernames", "p_any_emails", "p_any_actor_ids")


class ReportError(TokenTrailError):
    """A scan report cannot be read or written."""


@dataclass(frozen=True, slots=True)
class RuleHealth:
    """One loaded rule in a scan: its alerts (per day), matches, top actors and IPs."""

    id: str
    title: str
    severity: str
    format: str
    alerts: int
    matches: int
    per_day: tuple[tuple[str, int], ...]
    actors: tuple[tuple[str, int], ...]
    ips: tuple[tuple[str, int], ...]
    feeds_correlations: bool = False  # a stage of a correlation: matches without its own alerts


@dataclass(frozen=True, slots=True)
class LogTypeCount:
    """Events of one log type the scan saw, as far as it counts them: matches, and the events of
    log types no loaded rule targets (counted whole, since nothing looked at them)."""

    log_type: str
    matches: int
    untargeted_events: int


@dataclass(frozen=True)
class ScanReport:
    """The facts of one scan that the report shows."""

    inputs: tuple[str, ...]
    events: int
    duplicates: int
    skipped_lines: int
    matches: int
    alerts: int
    rules: tuple[RuleHealth, ...]
    log_types: tuple[LogTypeCount, ...]
    unknown: tuple[tuple[str, int, int], ...]  # (source, events, first line)
    read_errors: tuple[str, ...]
    rule_errors: tuple[str, ...]
    load_errors: tuple[str, ...]
    first_time: str | None
    last_time: str | None

    @property
    def days(self) -> tuple[str, ...]:
        """Every day with an alert, in order (alerts without a time last)."""
        found = {day for r in self.rules for day, _ in r.per_day}
        return tuple(sorted(found - {NO_TIME})) + ((NO_TIME,) if NO_TIME in found else ())

    def noisiest(self, top: int = TOP) -> list[RuleHealth]:
        """The rules with the most alerts (then matches), at most ``top``, none without alerts."""
        ranked = sorted((r for r in self.rules if r.alerts), key=lambda r: (-r.alerts, -r.matches, r.title))
        return ranked[:top]

    def dead(self) -> list[RuleHealth]:
        """Rules that never matched in this scan (nor alerted: a correlation's matches are its
        stages')."""
        return sorted((r for r in self.rules if not r.matches and not r.alerts), key=lambda r: (r.title, r.id))

    @property
    def unknown_events(self) -> int:
        """Events of no known log type, over every input file."""
        return sum(n for _, n, _ in self.unknown)

    def rule(self, rule_id: str) -> RuleHealth | None:
        """One rule's health, if the rule was loaded for the scan."""
        return next((r for r in self.rules if r.id == rule_id), None)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (read back by ``report_from_json``)."""
        return {"version": REPORT_VERSION, **asdict(self)}


def report_from_json(data: Mapping[str, Any], source: str = "") -> ScanReport:
    """A report from its JSON form; raises ``ReportError`` naming ``source`` when it is not one."""
    if not isinstance(data, Mapping) or data.get("version") != REPORT_VERSION:
        raise ReportError(f"not a TokenTrail scan report (version {REPORT_VERSION})", file=source)
    try:
        rules = tuple(RuleHealth(**{**r, "per_day": _pairs(r["per_day"]), "actors": _pairs(r["actors"]),
                                    "ips": _pairs(r["ips"])}) for r in data["rules"])
        return ScanReport(
            inputs=tuple(data["inputs"]), events=int(data["events"]), duplicates=int(data["duplicates"]),
            skipped_lines=int(data["skipped_lines"]), matches=int(data["matches"]), alerts=int(data["alerts"]),
            rules=rules, log_types=tuple(LogTypeCount(**lt) for lt in data["log_types"]),
            unknown=tuple((str(s), int(n), int(f)) for s, n, f in data["unknown"]),
            read_errors=tuple(data["read_errors"]), rule_errors=tuple(data["rule_errors"]),
            load_errors=tuple(data["load_errors"]), first_time=data["first_time"], last_time=data["last_time"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"malformed scan report: {exc!r}", file=source) from exc


def read_report(directory: Path) -> ScanReport:
    """The report a scan wrote into ``directory`` (its ``report.json``)."""
    path = directory / REPORT_DATA
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ReportError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc
    except ValueError as exc:
        raise ReportError(f"not JSON: {exc}", file=str(path)) from exc
    return report_from_json(data, str(path))


def _pairs(items: Iterable[Sequence[Any]]) -> tuple[tuple[str, int], ...]:
    return tuple((str(k), int(n)) for k, n in items)


class _Tally:
    """Counts of values with a bound on how many distinct ones are kept."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, value: str) -> None:
        counts = self.counts
        if value in counts or len(counts) < MAX_VALUES:
            counts[value] += 1
        else:
            counts[OTHERS] += 1

    def top(self, n: int = TOP) -> tuple[tuple[str, int], ...]:
        return tuple(self.counts.most_common(n))


class ReportCollector:
    """Gathers a scan's alerts and matches for the report: pass ``alert`` as (or beside) the
    scan's ``on_alert`` and ``match`` as its ``on_match``."""

    def __init__(self) -> None:
        self._per_day: dict[str, Counter[str]] = {}
        self._alerts: Counter[str] = Counter()
        self._actors: dict[str, _Tally] = {}
        self._ips: dict[str, _Tally] = {}
        self._first: float | None = None
        self._last: float | None = None

    def alert(self, alert: Alert) -> None:
        """Count one alert under its rule and the UTC day of its first event."""
        self._alerts[alert.rule_id] += 1
        when = alert.first_time
        day = _day(when)
        self._per_day.setdefault(alert.rule_id, Counter())[day] += 1
        if day != NO_TIME:
            self._first = when if self._first is None else min(self._first, when)
            self._last = when if self._last is None else max(self._last, alert.last_time or when)

    def match(self, match: Match) -> None:
        """Count the actors and IPs of one matched event under its rule."""
        try:
            event = with_panther_fields(match.event, match.log_type)
        except TokenTrailError:  # a log type without standard fields: nothing to count
            return
        for kind in _ACTOR_KINDS:
            values = event.get(kind)
            if values:
                tally = self._actors.setdefault(match.rule_id, _Tally())
                for value in values:
                    tally.add(str(value))
                break
        ips = event.get("p_any_ip_addresses")
        if ips:
            tally = self._ips.setdefault(match.rule_id, _Tally())
            for ip in ips:
                tally.add(str(ip))

    def tee(self, on_alert: Callable[[Alert], None], on_match: Callable[[Match], None] | None
            ) -> tuple[Callable[[Alert], None], Callable[[Match], None]]:
        """A scan's ``on_alert`` and ``on_match`` that feed this collector and then the given ones."""
        count_alert, count_match = self.alert, self.match

        def alert(a: Alert) -> None:
            count_alert(a)
            on_alert(a)

        def match(m: Match) -> None:
            count_match(m)
            if on_match is not None:
                on_match(m)

        return alert, match

    def report(self, result: ScanResult, rules: Sequence[Rule], inputs: Sequence[str]) -> ScanReport:
        """The report of the finished scan ``result`` run with ``rules`` over ``inputs``."""
        stats = result.stats
        stages = {s.rule_ref for r in rules if isinstance(r.logic, Correlation) for s in r.logic.steps if s.rule_ref}
        health = []
        for rule in rules:
            if not rule.runnable:
                continue
            days = self._per_day.get(rule.id, Counter())
            health.append(RuleHealth(
                rule.id, rule.title, rule.severity, rule.format, self._alerts.get(rule.id, 0),
                stats.by_rule.get(rule.id, 0), tuple(sorted(days.items())),
                self._actors[rule.id].top() if rule.id in self._actors else (),
                self._ips[rule.id].top() if rule.id in self._ips else (),
                rule.id in stages or (rule.name is not None and rule.name in stages)))
        names = sorted(set(stats.by_log_type) | set(stats.no_rules))
        log_types = tuple(LogTypeCount(n, stats.by_log_type.get(n, 0), stats.no_rules.get(n, 0)) for n in names)
        return ScanReport(
            inputs=tuple(str(p) for p in inputs), events=stats.events, duplicates=stats.duplicates,
            skipped_lines=result.events_skipped, matches=stats.matches, alerts=result.alerts_delivered,
            rules=tuple(health), log_types=log_types,
            unknown=tuple((src, n, first) for src, (n, first) in stats.unknown.items()),
            read_errors=tuple(str(e) for e in result.read_errors[:50]),
            rule_errors=tuple(f"{e.rule_id} on {e.event_id} ({e.source}:{e.line}): {e.summary}"
                              for e in result.rule_errors[:50]),
            load_errors=tuple(str(e) for e in result.load_errors[:50]),
            first_time=_iso(self._first), last_time=_iso(self._last))


def _day(when: float | None) -> str:
    if when is None:
        return NO_TIME
    try:
        return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return NO_TIME


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    try:
        return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return None

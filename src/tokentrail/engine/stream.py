"""The streaming engine: events in, matches and alerts out, in constant memory.

Per event: detect its log type, look up the units its anchor values select, run their
predicates. Only matching events pay for anything more (time, id, group keys, alerting).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tokentrail import schemas
from tokentrail.alerting.correlation import CorrelationAlerter, Signal
from tokentrail.alerting.grouping import GroupingAlerter, NewTermsFilter
from tokentrail.alerting.models import Alert, Match
from tokentrail.compile.regex import RegexTimeLimitExceeded
from tokentrail.engine.dedup import SeenEvents
from tokentrail.engine.digest import Digest, build_digester
from tokentrail.engine.limits import RuleTimeLimitExceeded
from tokentrail.engine.plan import DEFAULT_PYTHON_TIME_LIMIT, UNKNOWN, Plan, Unit, build_plan
from tokentrail.engine.prefilter import Prefilter, build_prefilter
from tokentrail.errors import LogParseError, TokenTrailError, summarize_exception
from tokentrail.rules.model import Correlation, Rule
from tokentrail.state import StateStore


@dataclass(frozen=True, slots=True)
class RuleError:
    """A rule raised (or overran its time limit) on an event; the scan went on."""

    rule_id: str
    event_id: str
    source: str
    line: int
    summary: str
    disabled: bool = False


@dataclass
class EngineStats:
    """Counts of one scan. ``matched_events``: events with at least one rule or step match;
    ``matches``: (event, rule) matches; ``step_matches``: matches of a correlation's inline
    steps (an EQL sequence's queries), which are no rule's own. Nothing unrecognised is silent:
    ``unknown`` holds, per source file, how many events were of no known log type and the line
    of the first; ``no_rules`` counts, per log type, the events that were recognised but met no
    rule because no loaded rule targets it."""

    events: int = 0  # distinct events: a duplicate (see ``duplicates``) is not counted again
    duplicates: int = 0  # events dropped as already read (same log type and event id)
    untimed: int = 0  # matched events whose time is missing or out of range (treated as unknown)
    first_untimed: str = ""  # FILE:LINE of the first of them
    matched_events: int = 0
    matches: int = 0
    step_matches: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    by_log_type: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, tuple[int, int]] = field(default_factory=dict)  # source -> (count, first line)
    no_rules: dict[str, int] = field(default_factory=dict)  # log type -> events

    def add_unknown(self, source: str, line: int, count: int = 1) -> None:
        """Count ``count`` events of no known log type in ``source``, the first at ``line``."""
        seen = self.unknown.get(source)
        self.unknown[source] = (count, line) if seen is None else (seen[0] + count, seen[1])

    @property
    def unknown_events(self) -> int:
        """Events of no known log type, over every source."""
        return sum(count for count, _ in self.unknown.values())

    def summary_lines(self) -> list[str]:
        """One line per kind of event that met no rule for want of a log type or of rules, e.g.
        ``3 events of no known log type, first at okta.jsonl:7`` and
        ``12 events of log types no loaded rule targets: GitHub.Audit (12)``."""
        lines: list[str] = []
        if self.unknown:
            source, (_, first) = next(iter(self.unknown.items()))
            files = f" in {len(self.unknown)} files" if len(self.unknown) > 1 else ""
            where = f"{source}:{first}" if first else source
            lines.append(f"{self.unknown_events} events of no known log type{files}, first at {where}")
        if self.no_rules:
            each = ", ".join(f"{name} ({count})" for name, count in self.no_rules.items())
            lines.append(f"{sum(self.no_rules.values())} events of log types no loaded rule targets: {each}")
        return lines

    def summary_json(self) -> dict[str, Any]:
        """The same facts for ``--format json``: ``unknown_events``, ``unknown_by_file``
        (source -> ``{"count", "first_line"}``) and ``no_rule_events`` (log type -> count)."""
        return {
            "unknown_events": self.unknown_events,
            "unknown_by_file": {src: {"count": n, "first_line": first} for src, (n, first) in self.unknown.items()},
            "no_rule_events": dict(self.no_rules),
        }


class StreamingEngine:
    """Runs a rule set over events one at a time.

    ``on_match`` (if given) sees every Match; alerts are returned by ``process``/``finish``.
    ``log_type`` (a TokenTrail or Panther log type name) gives every event that log type instead
    of detecting it; an unknown name raises ``UnknownLogType`` listing the known ones. Events of
    no known log type are counted in ``stats.unknown``; with ``strict_unknown`` the first one
    raises ``LogParseError`` naming its file and line; ``on_unknown(event, source, line)`` sees
    each of them (a dead-letter writer, for instance). ``plan``: ``build_plan(rules)`` made
    before, shared by engines that run one after another (never at once: Python rules are bound
    to the state of the engine made last). ``prefilter`` (default on) lets ``take_line`` and
    parallel workers take raw JSON lines no rule can match without parsing them into objects
    (``engine.prefilter``); off, every line takes the plain path.
    """

    def __init__(self, rules: Sequence[Rule], *, state: StateStore | None = None,
                 on_match: Callable[[Match], None] | None = None,
                 python_time_limit: float = DEFAULT_PYTHON_TIME_LIMIT,
                 log_type: str | None = None, strict_unknown: bool = False,
                 on_unknown: Callable[[Mapping[str, Any], str, int], None] | None = None,
                 seen: SeenEvents | None = None, plan: Plan | None = None, prefilter: bool = True) -> None:
        self._detect = schemas.forced_detector(log_type) if log_type else schemas.detector()
        self.strict_unknown = strict_unknown
        self.on_unknown = on_unknown
        self.rules = {r.id: r for r in rules}
        # A plan built before for the same rules may be given: runs one after another (coverage
        # verification) then compile the rules once.
        self.plan: Plan = plan if plan is not None else build_plan(rules, python_time_limit=python_time_limit)
        self._forced = schemas.resolve_log_type_name(log_type) if log_type else None
        self._prefilter: Prefilter | None = None if prefilter else Prefilter(None)
        self.state = state or StateStore()
        for index in self.plan.indexes.values():
            for unit in index.python:
                bind = getattr(unit.python, "bind_state", None)
                if bind is not None:
                    bind(self.state)
        self.on_match = on_match
        self.seen = seen  # None: every event is taken, duplicates too
        self._untimed_at: tuple[str, int] | None = None
        self.stats = EngineStats()
        self.rule_errors: list[RuleError] = []
        self.alerters = {rid: GroupingAlerter(self.rules[rid]) for rid in self.plan.alerting_rules
                         if not isinstance(self.rules[rid].logic, Correlation)}
        self.new_terms = {rid: NewTermsFilter(self.rules[rid], self.state) for rid in self.alerters
                          if self.rules[rid].grouping.new_terms}
        self.correlators = {r.id: CorrelationAlerter(r) for r in self.plan.correlations}
        self._index_of = self.plan.indexes.get
        self.digesters = [
            build_digester(u, self.plan.subscribers.get(u.rule.id, ()), u.log_type != UNKNOWN,
                           None if u.python is None else partial(self._describe, u))
            for u in self.plan.units
        ]

    @property
    def prefilter(self) -> Prefilter:
        """The fast path for raw JSON lines (built on first use: rule tests and the batch engine
        never need it)."""
        if self._prefilter is None:
            self._prefilter = build_prefilter(self.plan, self._forced)
        return self._prefilter

    @property
    def prefilter_off(self) -> str:
        """Why the fast path was off, once a scan asked for it ("" when it ran, or was not used)."""
        return "" if self._prefilter is None else self._prefilter.off

    @property
    def load_errors(self) -> list[TokenTrailError]:
        return self.plan.errors

    def process(self, event: Mapping[str, Any], source: str = "", line: int = 0, *,
                log_type: str | None = None) -> list[Alert]:
        """Run every rule that could match ``event``; return the alerts it completed.

        ``log_type`` overrides detection (rule tests use it for minimal events); the event's keys
        are still folded to that log type's case. An event already taken (``seen``) is counted as
        a duplicate and goes no further.
        """
        if log_type is None:
            found = self._detect(event)
            if found.__class__ is str:
                log_type = found
            elif found is None:
                log_type = self.unrecognised(event, source, line)
            else:  # recognised once reshaped (another case, a wrapper): rules read the new form
                log_type, event = found.log_type, found.event
        else:
            event = schemas.fold_keys(event, log_type)
        if self.seen is not None and self.seen.is_duplicate(event, log_type):
            self.stats.duplicates += 1
            return []
        self.stats.events += 1
        index = self._index_of(log_type)
        if index is None:
            if log_type != UNKNOWN:
                self.stats.no_rules[log_type] = self.stats.no_rules.get(log_type, 0) + 1
            return []
        try:
            hits = index.matching(event)
        except RegexTimeLimitExceeded:
            hits, failures = index.matching_each(event)
            for unit, summary in failures:
                self._rule_error(unit, event, source, line, summary)
        return self.accept(event, log_type, hits, source, line)

    def take_line(self, raw: bytes) -> bool:
        """Take one raw JSON line by the fast path when it proves no rule can match it: count
        it (or its duplicate) as ``process`` would and give True; False when the line must be
        parsed and given to ``process``. Always False with the prefilter off."""
        take = self.prefilter.take
        got = None if take is None else take(raw)
        if got is None:
            return False
        log_type, key = got
        if self.seen is not None and self.seen.seen_key(key):
            self.stats.duplicates += 1
            return True
        self.stats.events += 1
        if log_type not in self.plan.indexes:
            self.stats.no_rules[log_type] = self.stats.no_rules.get(log_type, 0) + 1
        return True

    def unrecognised(self, event: Mapping[str, Any], source: str, line: int) -> str:
        """Account for an event of no known log type (see the class docstring); gives ``UNKNOWN``."""
        if self.strict_unknown:
            raise unknown_event_error(source, line)
        self.stats.add_unknown(source or "<events>", line)
        if self.on_unknown is not None:
            self.on_unknown(event, source, line)
        return UNKNOWN

    def match(self, event: Mapping[str, Any]) -> tuple[str, Mapping[str, Any], list[Unit] | None]:
        """The log type of ``event``, the event its rules read and its matching declarative units,
        with no side effect (the parent's warm-up before forking workers calls this)."""
        found = self._detect(event)
        if found is None:
            log_type = UNKNOWN
        elif found.__class__ is str:
            log_type = found
        else:
            log_type, event = found.log_type, found.event
        index = self._index_of(log_type)
        if index is None:
            return log_type, event, None
        try:
            return log_type, event, index.matching(event)
        except RegexTimeLimitExceeded:
            return log_type, event, index.matching_each(event)[0]

    def accept(self, event: Mapping[str, Any], log_type: str, hits: list[Unit] | None,
               source: str = "", line: int = 0, *, python: Sequence[Unit] | None = None) -> list[Alert]:
        """Turn the units ``match`` found into matches and alerts; run the Python rules (those
        of ``python``, else every one of the log type)."""
        alerts: list[Alert] = []
        if hits is not None:
            for unit in hits:
                alerts.extend(self._on_unit_match(unit, event, source, line))
        if python is None:
            index = self._index_of(log_type)
            python = index.python if index is not None else ()
        if python:
            # Python (Panther) rules read the standard fields Panther adds; computed once here.
            event = schemas.with_panther_fields(event, log_type) if log_type != UNKNOWN else event
            for unit in python:
                if not unit.disabled and self._run_python(unit, event, source, line):
                    hits = hits or []
                    alerts.extend(self._on_unit_match(unit, event, source, line))
        if hits is not None:
            self.stats.matched_events += 1
        return alerts

    def run(self, events: Iterable[Mapping[str, Any]]) -> list[Alert]:
        """Process every event, then close all windows; return all alerts."""
        alerts: list[Alert] = []
        for event in events:
            alerts.extend(self.process(event))
        alerts.extend(self.finish())
        return alerts

    def finish(self) -> list[Alert]:
        """End of input: close open groups and windows."""
        alerts: list[Alert] = []
        for alerter in self.alerters.values():
            alerts.extend(alerter.flush())
        for rid, correlator in self.correlators.items():
            for alert in correlator.flush():
                alerts.extend(self._on_alert(rid, alert))
        return alerts

    # -- matches -------------------------------------------------------------------------
    def _run_python(self, unit: Unit, event: Mapping[str, Any], source: str, line: int) -> bool:
        try:
            return bool(unit.python.matches(event))
        except RuleTimeLimitExceeded as exc:
            unit.disabled = True
            self._rule_error(unit, event, source, line, str(exc), disabled=True)
        except Exception as exc:  # a rule bug is data: record it and go on
            self._rule_error(unit, event, source, line, summarize_exception(exc))
        return False

    def _rule_error(self, unit: Unit, event: Mapping[str, Any], source: str, line: int, summary: str,
                    disabled: bool = False) -> None:
        event_id = self._event_id(_known_id(event, unit.log_type), source, line)
        self.rule_errors.append(RuleError(unit.rule.id, event_id, source, line, summary, disabled))

    def _event_id(self, known: str | None, source: str, line: int) -> str:
        return known or f"{source or 'event'}:{line or self.stats.events}"

    def _on_unit_match(self, unit: Unit, event: Mapping[str, Any], source: str, line: int) -> list[Alert]:
        return self.route(unit, self.digest(unit, event), event, source, line)

    def digest(self, unit: Unit, event: Mapping[str, Any]) -> Digest:
        """Everything a match needs from its event, read now, so that ``route`` (the part that
        depends on order) can run later and elsewhere without the event."""
        return self.digesters[unit.index](event)

    def route(self, unit: Unit, digest: Digest, event: Mapping[str, Any], source: str, line: int) -> list[Alert]:
        """Feed one digested match to its rule's alerting and to the correlations that use it."""
        rule_id = unit.rule.id
        eid = self.match_id(digest.time, digest.event_id, source, line)
        alerts: list[Alert] = []
        if digest.reset_key is not None:
            self.correlators[rule_id].reset(digest.reset_key)
            return alerts
        for corr_id, step, key, value, fields in digest.signals:
            alerts.extend(self._feed(corr_id, Signal(step, key, digest.time or 0.0, (eid,), value, fields)))
        stats = self.stats
        if unit.role == "step":
            stats.step_matches += 1
            return alerts
        stats.matches += 1
        stats.by_rule[rule_id] = stats.by_rule.get(rule_id, 0) + 1
        stats.by_log_type[unit.log_type] = stats.by_log_type.get(unit.log_type, 0) + 1
        nt = self.new_terms.get(rule_id)
        if self.on_match is not None or nt is not None:
            match = Match(rule_id, event, unit.log_type, digest.time, eid, source, line, digest.extras)
            if self.on_match is not None:
                self.on_match(match)
            if nt is not None and not nt.is_new(match):
                return alerts
        alerter = self.alerters.get(rule_id)
        if alerter is not None:
            closed = alerter.add_values(digest.time, eid, digest.extras)
            if closed:
                alerts.extend(closed)
        return alerts

    def match_id(self, time: float | None, event_id: str | None, source: str, line: int) -> str:
        """What ``route`` does first with a match: the id it is alerted by (``FILE:LINE`` when
        its log type names no id field), and an untimed event counted once."""
        if time is None and self._untimed_at != (source, line or self.stats.events):
            self._count_untimed(source, line)
        return event_id or self._event_id(None, source, line)

    @property
    def bulk_rules(self) -> frozenset[str]:
        """The rules whose matches only feed their own alerter (no ``on_match``, no new_terms
        filter, no correlation they signal): ``route_many`` may take a run of them at once."""
        if self.on_match is not None:
            return frozenset()
        return frozenset(rid for rid in self.alerters
                         if rid not in self.new_terms and not self.plan.subscribers.get(rid))

    def route_many(self, rule_id: str, log_types: Mapping[str, int], times: Sequence[float | None],
                   event_ids: Sequence[str], keys: Sequence[tuple[str, ...]], distinct: Sequence[str] | None,
                   fields: Sequence[Any], decode: Callable[[Any], Mapping[str, Any]] | None = None) -> list[Alert]:
        """``route`` for a run of matches of one rule of ``bulk_rules`` (``log_types``: how many
        of them were of each log type), whose ids ``match_id`` gave as they came: counted, then
        handed to the rule's alerter in one call (``GroupingAlerter.add_many``)."""
        stats = self.stats
        stats.matches += len(times)
        stats.by_rule[rule_id] = stats.by_rule.get(rule_id, 0) + len(times)
        for log_type, count in log_types.items():
            stats.by_log_type[log_type] = stats.by_log_type.get(log_type, 0) + count
        return self.alerters[rule_id].add_many(times, event_ids, keys, distinct, fields, decode)

    def _count_untimed(self, source: str, line: int) -> None:
        """A matched event without a usable time: its alerts carry no time; say where it was."""
        self._untimed_at = (source, line or self.stats.events)
        self.stats.untimed += 1
        if not self.stats.first_untimed:
            self.stats.first_untimed = f"{source or 'event'}:{line}"

    def _describe(self, unit: Unit, event: Mapping[str, Any]) -> dict[str, Any]:
        """A Python rule's title, severity, dedup key and context (its own functions say)."""
        try:
            described = unit.python.describe(event)
        except Exception as exc:
            described = {}
            self._rule_error(unit, event, "", 0, "describe: " + summarize_exception(exc))
        for problem in described.get("errors") or ():  # an alert function that failed
            self._rule_error(unit, event, "", 0, str(problem))
        extras = {k: v for k, v in described.items() if v is not None}
        if "context" in described and described["context"]:
            extras["fields"] = described["context"]
        key = described.get("dedup") or described.get("title") or unit.rule.id
        extras["group_key"] = (str(key),)
        return extras

    def _feed(self, corr_id: str, signal: Signal) -> list[Alert]:
        out: list[Alert] = []
        for alert in self.correlators[corr_id].add(signal):
            out.extend(self._on_alert(corr_id, alert))
        return out

    def _on_alert(self, rule_id: str, alert: Alert) -> list[Alert]:
        """A correlation alert: pass it up to chained correlations; keep it if it alerts itself."""
        out: list[Alert] = []
        for corr_rule, step_no in self.plan.subscribers.get(rule_id, ()):
            signal = Signal(step_no, alert.group_key, alert.first_time or 0.0, alert.event_ids, None,
                            dict(alert.fields))
            out.extend(self._feed(corr_rule.id, signal))
        if rule_id in self.plan.alerting_rules:
            out.append(alert)
        return out


def unknown_event_error(source: str, line: int) -> LogParseError:
    """The error a strict scan stops with at an event of no known log type."""
    return LogParseError("event of no known log type (--log-type forces one)", file=source or None,
                         line=line or None)


def _known_id(event: Mapping[str, Any], log_type: str) -> str | None:
    """The event's own id, if its log type names one and the event carries it."""
    known = schemas.event_id(event, log_type) if log_type != UNKNOWN else None
    return None if known is None else str(known)

"""The rule model shared by every format: metadata plus one kind of logic.

Logic is one of:
  * an ``Expr`` (the detection IR, see ``ir.py``) — Sigma, KQL, EQL event queries;
  * ``PythonLogic`` — Panther-style Python rules; never lowered to the IR;
  * ``Correlation`` — rules over the matches of other rules or inline steps (Sigma correlations,
    EQL sequences).
How matches become alerts is the rule's ``Grouping`` (one model for every format).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from tokentrail.rules.aggregates import AggregateQuery
from tokentrail.rules.ir import Expr

Severity: TypeAlias = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class LogSource:
    """Where a rule's events come from, in Sigma's terms (``product``/``service``/``category``)."""

    product: str | None = None
    service: str | None = None
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Grouping:
    """How matches of one rule become alerts.

    Matches with equal values of ``group_by`` fields that fall in one event-time window of
    ``window`` seconds (``None``: one alert per match) form one group; the group raises an alert
    once it holds ``threshold`` matches and, when ``distinct_field`` is set, at least
    ``distinct_threshold`` distinct values of it (Elastic threshold cardinality).
    ``new_terms`` names fields whose combination must not have been seen within ``history``
    seconds before (Elastic new_terms). ``aligned`` windows start at multiples of ``window``
    since the epoch (ES|QL ``DATE_TRUNC`` buckets) rather than at a group's first match.
    ``query`` (ES|QL ``STATS``) replaces the thresholds: the group alerts when its condition over
    the group's aggregates holds as the window closes (see ``rules/aggregates.py``).
    """

    group_by: tuple[str, ...] = ()
    window: float | None = None
    threshold: int = 1
    distinct_field: str | None = None
    distinct_threshold: int = 1
    new_terms: tuple[str, ...] = ()
    history: float | None = None
    aligned: bool = False
    query: AggregateQuery | None = None


@dataclass(frozen=True, slots=True)
class CorrelationStep:
    """One step of a correlation: a referenced rule (by id or name) or an inline expression.

    ``by`` lists, in order, the fields of this step's events that form the group key (aliases
    already resolved by the front-end); ``runs`` repeats the step (EQL ``with runs=N``).
    """

    name: str
    rule_ref: str | None = None
    expr: Expr | None = None
    by: tuple[str, ...] = ()
    runs: int = 1


@dataclass(frozen=True, slots=True)
class Correlation:
    """Logic over the matches of steps, in event-time order.

    ``kind``: ``event_count`` (matches per group), ``value_count`` (distinct ``value_field``
    values per group), ``temporal`` (every step seen, any order), ``temporal_ordered`` and
    ``sequence`` (steps seen in order; ``until`` ends a partial sequence).
    ``condition`` is ``(op, number)`` with op in gt, gte, lt, lte, eq, neq; ``timespan`` seconds.
    ``generate``: referenced rules also raise their own alerts.
    """

    kind: Literal["event_count", "value_count", "temporal", "temporal_ordered", "sequence"]
    steps: tuple[CorrelationStep, ...]
    timespan: float | None = None
    condition: tuple[str, float] | None = None
    value_field: str | None = None
    until: Expr | None = None
    generate: bool = False


class PythonDetection(Protocol):
    """What a Python rule offers the engine once loaded (implemented by ``formats.panther``)."""

    def matches(self, event: Mapping[str, Any]) -> bool: ...

    def describe(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Per-alert extras: any of ``title``, ``dedup``, ``severity``, ``context``, ...

        Optional extras an engine looks for: ``bind_state(store)`` (give the rule the scan's
        ``StateStore``) and ``run_test(test)`` (the format's own test verdicts).
        """
        ...


@dataclass(frozen=True, slots=True)
class PythonLogic:
    """A Python rule: ``load()`` imports it once and returns its ``PythonDetection``.

    ``lifted`` is the same predicate in the IR when the rule's source is a pure predicate over
    event fields (read, never run: ``formats/panther/lift.py``), for indicators, stages and
    conversions; engines may keep running the Python. ``not_lifted`` says what stopped the lift.
    """

    path: str
    load: Callable[[], PythonDetection] = field(compare=False, repr=False)
    lifted: Expr | None = field(default=None, compare=False)
    not_lifted: str | None = field(default=None, compare=False)


Logic: TypeAlias = Expr | PythonLogic | Correlation


@dataclass(frozen=True, slots=True)
class RuleTest:
    """An embedded unit test: the rule must (or must not) fire on ``event``."""

    name: str
    expected: bool
    event: Mapping[str, Any]
    mocks: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class OutputField:
    """A field the alert shows: a label and the event field it comes from."""

    label: str
    field: str


@dataclass(frozen=True)
class Rule:
    """A loaded detection rule, whatever format it was written in."""

    id: str
    title: str
    format: Literal["sigma", "elastic", "panther"]
    logic: Logic | None
    path: str = ""
    description: str = ""
    severity: Severity = "medium"
    status: str = "stable"
    tags: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    logsource: LogSource = LogSource()
    log_types: tuple[str, ...] = ()
    grouping: Grouping = Grouping()
    output_fields: tuple[OutputField, ...] = ()
    references: tuple[str, ...] = ()
    false_positives: tuple[str, ...] = ()
    tests: tuple[RuleTest, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    enabled: bool = True
    unsupported: str | None = None

    @property
    def runnable(self) -> bool:
        """Whether an engine can run this rule (loaded, enabled, logic present, supported)."""
        return self.enabled and self.unsupported is None and self.logic is not None

"""Conditions over per-group aggregates: what an ES|QL ``STATS ... | EVAL ... | WHERE ...`` asks
of a group of matches, as data that the one alerting code evaluates for every engine.

A group (the rule's ``Grouping``: keys and window) holds ``aggregates`` over its matches. With
``sub_keys`` (a second ``STATS``: ``STATS ... BY a, b | STATS ... BY a``) the matches are first
split by those fields; ``inner`` aggregates are kept per sub-group and ``aggregates`` are taken
over the sub-groups (their count, the sum/min/max/avg of a value of theirs, a count of those for
which a condition holds, the distinct values of a sub-key). ``keys`` computed from each match
(``BY COALESCE(a, b)``) extend the grouping's keys. The group alerts when ``condition``
is true when its window closes; ``shown`` are the named values the alert reports.

Values follow ES|QL: an aggregate of no values (``MIN`` of no rows, ``SUM`` of no numbers) is
null, arithmetic or a comparison with null is null, and division by zero is null; a condition
holds only when it is true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from tokentrail.rules.ir import Expr, fields_of

TIME = "@time"  # the field name standing for the match's event time (``@timestamp``)

AggKind: TypeAlias = Literal["count", "distinct", "sum", "min", "max", "avg"]


@dataclass(frozen=True, slots=True)
class Ref:
    """The value of aggregate ``index`` (of ``aggregates``; of ``inner`` inside a sub-group)."""

    index: int


@dataclass(frozen=True, slots=True)
class Num:
    """A number (None: null)."""

    value: float | None


@dataclass(frozen=True, slots=True)
class Arith:
    """``left op right`` with op in + - * / %."""

    op: Literal["+", "-", "*", "/", "%"]
    left: Value
    right: Value


@dataclass(frozen=True, slots=True)
class DateDiff:
    """Whole ``unit``-second periods from ``start`` to ``end`` (both times), truncated."""

    unit: float
    start: Value
    end: Value


Value: TypeAlias = Ref | Num | Arith | DateDiff


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right`` with op in == != < <= > >=."""

    op: Literal["==", "!=", "<", "<=", ">", ">="]
    left: Value
    right: Value


@dataclass(frozen=True, slots=True)
class Both:
    """Every item is true (``and``) or any is (``or``), in three-valued logic."""

    op: Literal["and", "or"]
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Negate:
    item: Condition


@dataclass(frozen=True, slots=True)
class IsNull:
    value: Value


Condition: TypeAlias = Compare | Both | Negate | IsNull


@dataclass(frozen=True, slots=True)
class Aggregate:
    """One aggregate.

    Over matches: ``count`` (of the matches ``rows`` selects, all when None), ``distinct``
    (distinct non-null values of ``fields``, together), ``sum``/``min``/``max``/``avg`` of the
    number in ``fields[0]`` (``TIME``: the event time) over the selected matches.
    Over sub-groups: ``count`` (of those ``when`` selects), ``distinct`` (of sub-key ``fields``),
    ``sum``/``min``/``max``/``avg`` of ``of``, a value of each sub-group's inner aggregates.
    """

    kind: AggKind
    fields: tuple[str, ...] = ()
    rows: Expr | None = None
    of: Value | None = None
    when: Condition | None = None


@dataclass(frozen=True, slots=True)
class Branch:
    """One way a computed key takes its value: when ``when`` holds for the match, the text of
    ``field`` (folded to ``fold`` case), or ``text`` when no field is named (None: null)."""

    when: Expr
    field: str | None = None
    text: str | None = None
    fold: Literal["lower", "upper"] | None = None


@dataclass(frozen=True, slots=True)
class ComputedKey:
    """A ``BY`` key computed from each match (``COALESCE``, ``CASE``, ``TO_LOWER`` of fields):
    the first branch whose condition holds gives its value; none: null."""

    name: str
    branches: tuple[Branch, ...]


@dataclass(frozen=True, slots=True)
class AggregateQuery:
    """The aggregates of a group, the condition on them, and the values an alert shows (those
    named in ``times`` are event times, shown as ISO-8601)."""

    aggregates: tuple[Aggregate, ...]
    condition: Condition
    shown: tuple[tuple[str, Value], ...] = ()
    times: tuple[str, ...] = ()
    sub_keys: tuple[str, ...] = ()
    inner: tuple[Aggregate, ...] = ()
    keys: tuple[ComputedKey, ...] = ()

    def fields(self) -> tuple[str, ...]:
        """The event fields the aggregates and computed keys read (not ``TIME``), row conditions
        included."""
        names: list[str] = [*self.sub_keys]
        for key in self.keys:
            for branch in key.branches:
                names.extend(sorted(fields_of(branch.when)))
                names.extend([branch.field] if branch.field else [])
        for agg in (*self.inner, *(() if self.sub_keys else self.aggregates)):
            names.extend(f for f in agg.fields if f != TIME)
            if agg.rows is not None:
                names.extend(sorted(fields_of(agg.rows)))
        return tuple(dict.fromkeys(names))


READ_PREFIX = "aggregate:"


def read_label(field: str) -> str:
    """The output-field label under which a match's digest carries a field the query reads."""
    return READ_PREFIX + field

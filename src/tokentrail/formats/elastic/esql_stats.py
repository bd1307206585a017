"""``STATS`` that is more than a threshold -> an ``AggregateQuery`` (``rules/aggregates.py``).

``esql.py`` lowers the common form (lower bounds on one count and one distinct count) to the
grouping's thresholds. What it cannot, this module lowers to a query that alerting evaluates
on each group when its window closes, the same in every engine:
  * aggregates over the matches: ``COUNT(*)``, ``COUNT(x)``, ``COUNT_DISTINCT(field)``,
    ``SUM``/``MIN``/``MAX``/``AVG`` of a field or of ``@timestamp``, and of a ``CASE`` that picks
    some rows (``SUM(CASE(c, 1, 0))`` counts the rows where ``c`` holds; ``MIN(CASE(c,
    @timestamp, null))`` is the first time it did) — ``c`` is a row condition, lowered to the IR
    and evaluated by alerting on the field values each match's digest carries;
  * ``EVAL`` after ``STATS``: arithmetic (+ - * / %) and ``DATE_DIFF`` over aggregates;
  * ``WHERE`` after ``STATS``: ``AND``/``OR``/``NOT``, comparisons (also of two aggregates),
    ``IS [NOT] NULL``, ``IN``; a conjunct on the ``BY`` keys alone still filters the events;
  * a second ``STATS`` whose ``BY`` keys are some of the first's: the first's groups become
    sub-groups (keyed by the other keys) of the second's, and the second's aggregates are taken
    over them (``COUNT(*)``, ``SUM``/``MIN``/``MAX``/``AVG`` of a first-level value,
    ``SUM(CASE(cond, 1, 0))``, ``COUNT_DISTINCT`` of a first-level key).
An aggregate or ``EVAL`` that cannot be lowered only matters if a condition reads it: it is then
the load error, naming the construct.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lark import Token, Tree

from tokentrail.errors import UnsupportedFeature
from tokentrail.formats.elastic.esql_expr import (
    TRUE,
    Choice,
    Column,
    FieldValue,
    Literal,
    and_,
    conjuncts,
    field_name,
    fields_in,
    not_,
    or_,
    present,
    string_value,
)
from tokentrail.formats.elastic.indices import log_types_for_indices
from tokentrail.rules.aggregates import (
    TIME,
    Aggregate,
    AggregateQuery,
    Arith,
    Both,
    Branch,
    Compare,
    ComputedKey,
    Condition,
    DateDiff,
    IsNull,
    Negate,
    Num,
    Ref,
    Value,
    read_label,
)
from tokentrail.rules.ir import Expr, fields_of
from tokentrail.rules.model import Grouping, OutputField
from tokentrail.schemas.specialize import ecs_constants, fold_constants

if TYPE_CHECKING:
    from tokentrail.formats.elastic.esql import _Planner

_DIFF_UNITS = {
    "week": 604800, "weeks": 604800, "wk": 604800, "ww": 604800,
    "day": 86400, "days": 86400, "dd": 86400, "d": 86400,
    "hour": 3600, "hours": 3600, "hh": 3600,
    "minute": 60, "minutes": 60, "mi": 60, "n": 60,
    "second": 1, "seconds": 1, "ss": 1, "s": 1,
    "millisecond": 0.001, "milliseconds": 0.001, "ms": 0.001,
}
_TIMESTAMP = "@timestamp"


@dataclass
class _Name:
    """What a name after ``STATS`` stands for: a value over the aggregates (``value``), a ``BY``
    key (``key``: its event field), or nothing we can compute (``error``, raised when read)."""

    value: Value | None = None
    key: str | None = None
    error: Callable[[], UnsupportedFeature] | None = None
    time: bool = False


@dataclass
class _Level:
    """One ``STATS``: its aggregates (in order), names, and ``BY`` key fields by name."""

    aggregates: list[Aggregate] = field(default_factory=list)
    names: dict[str, _Name] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    computed: list[ComputedKey] = field(default_factory=list)  # BY keys computed per match
    key_columns: dict[str, Column] = field(default_factory=dict)  # how computed keys are defined


def lower_stats(planner: _Planner, command: Tree, after: list[Tree]) -> tuple[Grouping, tuple[OutputField, ...]]:
    """The grouping (with its ``AggregateQuery``) and output fields of ``STATS`` and what follows."""
    return _Stats(planner).lower(command, after)


class _Stats:
    def __init__(self, planner: _Planner) -> None:
        self.planner = planner
        self.unsupported = planner.unsupported
        self.window = planner.lookback
        self.bucket: float | None = None
        self.constants = _fixed_fields(planner.indices)

    def lower(self, command: Tree, after: list[Tree]) -> tuple[Grouping, tuple[OutputField, ...]]:
        level = self.first_level(command)
        inner: _Level | None = None
        conditions: list[Tree | Token] = []
        for step in after:
            kind = step.data
            if kind == "stats":
                if inner is not None:
                    raise self.unsupported("a third ES|QL STATS", step)
                if conditions:
                    raise self.unsupported("ES|QL WHERE between two STATS", step)
                inner, level = level, self.second_level(step, level)
            elif kind == "eval":
                for assign in step.children:
                    if assign.data == "assign":
                        name = field_name(assign.children[0].children[0])
                        level.names[name] = self.deferred(lambda node=assign.children[1], lv=level: self.value(node, lv))
            elif kind == "where":
                conditions.extend(conjuncts(step.children[0]))
            elif kind == "rename":
                for item in step.children:
                    old, new = (field_name(t) for t in item.children)
                    if old in level.names:
                        level.names[new] = level.names.pop(old)
                    if old in level.keys:
                        level.keys[new] = level.keys.pop(old)
                    if old in level.key_columns:
                        level.key_columns[new] = level.key_columns.pop(old)
            elif kind in ("keep", "drop", "sort", "limit"):
                pass  # which columns and rows an alert shows, not which groups alert
            else:
                name = str(step.children[0]).upper() if kind == "other_command" else kind.upper()
                raise self.unsupported(f"ES|QL command {name} after STATS", step)
        condition = self.conditions(conditions, level)
        query = AggregateQuery(
            aggregates=tuple(level.aggregates), condition=condition,
            shown=tuple((n, v.value) for n, v in level.names.items() if v.value is not None),
            times=tuple(n for n, v in level.names.items() if v.value is not None and v.time),
            sub_keys=tuple(f for n, f in inner.keys.items() if n not in level.keys) if inner else (),
            inner=tuple(inner.aggregates) if inner else (),
            keys=tuple(level.computed),
        )
        aligned = self.bucket is not None and self.bucket <= self.planner.lookback
        grouping = Grouping(group_by=tuple(level.keys.values()), window=self.window, aligned=aligned, query=query)
        outputs = [OutputField(n, f) for n, f in level.keys.items()]
        outputs += [OutputField(read_label(f), f) for f in query.fields()]
        return grouping, tuple(outputs)

    # -- the first STATS: aggregates over matches ------------------------------------------

    def first_level(self, command: Tree) -> _Level:
        level = _Level()
        for item in command.children:
            name, node = self.planner._named(item)
            if item.data in ("stat", "unnamed_stat"):
                level.names[name] = self.deferred(lambda node=node, lv=level: self.row_aggregate(node, lv))
                continue
            bucket = self.planner.time_bucket(node)
            if bucket is not None:
                self.bucket = bucket if self.bucket is None else min(self.bucket, bucket)
                self.window = min(self.window, bucket)
                continue
            value = self.planner.rows().value(node)
            if isinstance(value, FieldValue) and value.fold is None:
                level.keys[name] = value.field
                continue
            defined = self.planner.columns.get(name) if item.data == "unnamed_group" else None
            level.computed.append(ComputedKey(name, self.branches(value, node)))
            level.key_columns[name] = defined or (node, dict(self.planner.columns))
        return level

    def branches(self, value: object, node: Tree | Token) -> tuple[Branch, ...]:
        """How a computed ``BY`` key takes its value, branch by branch."""
        if isinstance(value, FieldValue):
            return (Branch(TRUE, value.field, fold=value.fold),)  # type: ignore[arg-type]
        if isinstance(value, Literal):
            return (Branch(TRUE, text=None if value.value is None else str(value.value)),)
        if isinstance(value, Choice):
            out: list[Branch] = []
            for guard, chosen in value.branches:
                for branch in self.branches(chosen, node):
                    out.append(Branch(self.native(and_(guard, branch.when)), branch.field, branch.text, branch.fold))
            return tuple(out)
        raise self.unsupported("ES|QL STATS ... BY on a computed value (a DISSECT/GROK key)", node)

    def native(self, expr: Expr) -> Expr:
        """A row condition that also holds on native events, which lack the ECS fields their log
        type fixes (``data_stream.dataset``): absent there, such a field has that value."""
        fixed = sorted(fields_of(expr) & self.constants.keys())
        if not fixed:
            return expr
        carried = and_(*(present(f) for f in fixed))
        lacking = and_(*(not_(present(f)) for f in fixed))
        return or_(and_(carried, expr), and_(lacking, fold_constants(expr, {f: self.constants[f] for f in fixed})))

    def row_aggregate(self, node: Tree | Token, level: _Level) -> _Name:
        if not (isinstance(node, Tree) and node.data == "call"):
            raise self.unsupported("ES|QL STATS of a value that is not an aggregate", node)
        name = str(node.children[0]).lower()
        args = [a for a in node.children[1:] if a is not None]
        rows = self.planner.rows()
        if name == "count":
            if not args or (isinstance(args[0], Token) and args[0].type == "STAR"):
                return self.add(level, Aggregate("count"))
            return self.add(level, Aggregate("count", rows=self.native(not_(rows.null(args[0])))))
        if name == "count_distinct" and args:
            value = rows.value(args[0])
            if not isinstance(value, FieldValue) or value.fold is not None:
                raise self.unsupported("ES|QL COUNT_DISTINCT of a computed value", node)
            return self.add(level, Aggregate("distinct", (value.field,)))
        if name in ("sum", "min", "max", "avg") and len(args) == 1:
            value = rows.value(args[0])
            if isinstance(value, FieldValue) and value.fold is None:
                return self.add(level, Aggregate(name, (_field(value.field),)), time=name in ("min", "max")
                                and value.field == _TIMESTAMP)  # type: ignore[arg-type]
            if isinstance(value, Choice):
                return self.chosen(name, value, level, node)
        if name in ("values", "top", "median", "percentile", "mv_values"):
            raise self.unsupported(f"ES|QL condition on {name.upper()} (only counts, sums, extremes and "
                                   "averages are computed)", node)
        raise self.unsupported(f"ES|QL aggregate {name.upper()} of this value", node)

    def chosen(self, name: str, value: Choice, level: _Level, node: Tree) -> _Name:
        """An aggregate of a ``CASE``: a count of the rows choosing 1 (of 1/0/null), or the
        aggregate of the one field some rows choose (the others choosing null)."""
        literals = [v for _, v in value.branches if isinstance(v, Literal)]
        if name == "sum" and len(literals) == len(value.branches) and all(v.value in (0, 1, None) for v in literals):
            ones: list[Expr] = [g for g, v in value.branches if v.value == 1]  # type: ignore[union-attr]
            return self.add(level, Aggregate("count", rows=self.native(or_(*ones))))
        fields = [(g, v) for g, v in value.branches if not (isinstance(v, Literal) and v.value is None)]
        if len(fields) == 1 and isinstance(fields[0][1], FieldValue) and fields[0][1].fold is None:
            guard, chosen = fields[0]
            assert isinstance(chosen, FieldValue)
            return self.add(level, Aggregate(name, (_field(chosen.field),), rows=self.native(guard)),  # type: ignore[arg-type]
                            time=name in ("min", "max") and chosen.field == _TIMESTAMP)
        raise self.unsupported(f"ES|QL {name.upper()} of a CASE choosing more than one value", node)

    # -- the second STATS: aggregates over the first's groups ------------------------------

    def second_level(self, command: Tree, inner: _Level) -> _Level:
        level = _Level()
        stats = [item for item in command.children if item.data in ("stat", "unnamed_stat")]
        for item in command.children:
            if item in stats:
                continue
            name, node = self.planner._named(item)
            if inner.computed:
                raise self.unsupported("ES|QL second STATS after a first BY a computed value", node)
            if not (isinstance(node, Tree) and node.data == "field") or field_name(node.children[0]) not in inner.keys:
                raise self.unsupported("ES|QL second STATS ... BY other than keys of the first", node)
            level.keys[name] = inner.keys[field_name(node.children[0])]
        if len(level.keys) == len(inner.keys):
            raise self.unsupported("ES|QL second STATS ... BY the same keys as the first", command)
        for item in stats:  # after the keys: an aggregate of a key is refused
            name, node = self.planner._named(item)
            level.names[name] = self.deferred(lambda node=node, lv=level: self.group_aggregate(node, lv, inner))
        return level

    def group_aggregate(self, node: Tree | Token, level: _Level, inner: _Level) -> _Name:
        if not (isinstance(node, Tree) and node.data == "call"):
            raise self.unsupported("ES|QL STATS of a value that is not an aggregate", node)
        name = str(node.children[0]).lower()
        args = [a for a in node.children[1:] if a is not None]
        if name == "count":
            if not args or (isinstance(args[0], Token) and args[0].type == "STAR"):
                return self.add(level, Aggregate("count"))
            return self.add(level, Aggregate("count", when=Negate(IsNull(self.value(args[0], inner)))))
        if name == "count_distinct" and args:
            arg = args[0]
            key = field_name(arg.children[0]) if isinstance(arg, Tree) and arg.data == "field" else None
            if key not in inner.keys or key in level.keys:
                raise self.unsupported("ES|QL COUNT_DISTINCT after STATS of other than a first-level key", node)
            return self.add(level, Aggregate("distinct", (inner.keys[key],)))
        if name in ("sum", "min", "max", "avg") and len(args) == 1:
            arg = args[0]
            if isinstance(arg, Tree) and arg.data == "call" and str(arg.children[0]).lower() == "case":
                if name != "sum":
                    raise self.unsupported(f"ES|QL {name.upper()}(CASE(...)) after STATS", node)
                return self.add(level, Aggregate("count", when=self.counted_case(arg, inner)))
            of = self.value(arg, inner)
            time = name in ("min", "max") and self.is_time(arg, inner)
            return self.add(level, Aggregate(name, of=of), time=time)  # type: ignore[arg-type]
        raise self.unsupported(f"ES|QL aggregate {name.upper()} after STATS", node)

    def counted_case(self, node: Tree, inner: _Level) -> Condition:
        """``CASE(cond, 1, 0)`` (or ``..., null``): the groups counted are those ``cond`` holds for."""
        args = [a for a in node.children[1:] if a is not None]
        numbers = [_number(a) for a in args[1:]]
        if len(args) not in (2, 3) or numbers[0] != 1 or (len(numbers) == 2 and numbers[1] not in (0, None)):
            raise self.unsupported("ES|QL SUM(CASE(...)) after STATS other than CASE(cond, 1, 0)", node)
        return self.condition(args[0], inner)

    def is_time(self, node: Tree | Token, level: _Level) -> bool:
        if isinstance(node, Tree) and node.data == "field":
            known = level.names.get(field_name(node.children[0]))
            return bool(known and known.time)
        return False

    # -- names, values and conditions ------------------------------------------------------

    def add(self, level: _Level, aggregate: Aggregate, *, time: bool = False) -> _Name:
        level.aggregates.append(aggregate)
        return _Name(value=Ref(len(level.aggregates) - 1), time=time)

    def deferred(self, make: Callable[[], _Name | Value]) -> _Name:
        """A name lowered now; if it cannot be, the error waits until a condition reads it."""
        try:
            made = make()
        except UnsupportedFeature as exc:
            return _Name(error=lambda exc=exc: exc)
        return made if isinstance(made, _Name) else _Name(value=made)

    def conditions(self, nodes: list[Tree | Token], level: _Level) -> Condition:
        planner = self.planner
        key_columns: dict[str, Column] = {n: (Tree("field", [Token("FIELD", f)]), {}) for n, f in level.keys.items()}
        key_columns.update(level.key_columns)
        kept: list[Condition] = []
        for node in nodes:
            referenced = fields_in(node)
            if referenced and all(n in key_columns for n in referenced):
                planner.filters.append(planner.rows(key_columns).truth(node))
                continue
            kept.append(self.condition(node, level))
        if not kept:
            return Negate(IsNull(Num(1)))  # no condition on aggregates: every group alerts
        return kept[0] if len(kept) == 1 else Both("and", tuple(kept))

    def condition(self, node: Tree | Token, level: _Level) -> Condition:
        if isinstance(node, Tree):
            kind = node.data
            if kind in ("and_", "or_"):
                return Both("and" if kind == "and_" else "or", tuple(self.condition(c, level) for c in node.children))
            if kind == "not_":
                return Negate(self.condition(node.children[0], level))
            if kind == "compare":
                left, op, right = node.children
                return Compare(str(op), self.value(left, level), self.value(right, level))  # type: ignore[arg-type]
            if kind in ("is_null", "is_not_null"):
                test = IsNull(self.value(node.children[0], level))
                return test if kind == "is_null" else Negate(test)
            if kind in ("in_", "not_in"):
                subject, *items = node.children
                value = self.value(subject, level)
                either = Both("or", tuple(Compare("==", value, self.value(i, level)) for i in items))
                return either if kind == "in_" else Negate(either)
        raise self.unsupported(f"ES|QL {_describe(node)} over aggregates", node)

    def value(self, node: Tree | Token, level: _Level) -> Value:
        if isinstance(node, Tree):
            kind = node.data
            if kind == "field":
                return self.named(field_name(node.children[0]), level, node)
            if kind == "number":
                text = str(node.children[0])
                return Num(float(text) if any(c in text for c in ".eE") else int(text))
            if kind == "null":
                return Num(None)
            if kind == "negative":
                return Arith("-", Num(0), self.value(node.children[0], level))
            if kind == "arith":
                left, op, right = node.children
                return Arith(str(op), self.value(left, level), self.value(right, level))  # type: ignore[arg-type]
            if kind == "call":
                return self.call(node, level)
        raise self.unsupported(f"ES|QL {_describe(node)} over aggregates", node)

    def named(self, name: str, level: _Level, node: Tree) -> Value:
        if name in level.keys or name in level.key_columns:
            raise self.unsupported(f"ES|QL BY key {name} in a condition on aggregates", node)
        known = level.names.get(name)
        if known is None:
            raise self.unsupported(f"ES|QL condition on {name}, which STATS does not make", node)
        if known.error is not None:
            raise known.error()
        assert known.value is not None
        return known.value

    def call(self, node: Tree, level: _Level) -> Value:
        name = str(node.children[0]).lower()
        args = [a for a in node.children[1:] if a is not None]
        if name == "date_diff" and len(args) == 3:
            unit_node = args[0]
            unit = string_value(unit_node.children[0]).lower() \
                if isinstance(unit_node, Tree) and unit_node.data == "string" else None
            if unit not in _DIFF_UNITS:
                raise self.unsupported(f"ES|QL DATE_DIFF in {unit or 'a unit that is not text'}", node)
            return DateDiff(_DIFF_UNITS[unit], self.value(args[1], level), self.value(args[2], level))
        if name == "to_double" and len(args) == 1:
            return Arith("*", Num(1.0), self.value(args[0], level))
        raise self.unsupported(f"ES|QL function {name.upper()} over aggregates", node)


def _fixed_fields(indices: tuple[str, ...]) -> dict[str, object]:
    """ECS fields fixed alike for every native log type the indices name (``data_stream.dataset``
    of Okta's System Log), which native events therefore do not carry."""
    native = [t for t in log_types_for_indices(indices) if not t.startswith("ecs.")]
    tables = [ecs_constants(t) for t in native]
    if not tables:
        return {}
    return {f: v for f, v in tables[0].items() if all(t.get(f) == v for t in tables[1:])}


def _field(name: str) -> str:
    return TIME if name == _TIMESTAMP else name


def _number(node: Tree | Token) -> float | None:
    if isinstance(node, Tree) and node.data == "number":
        return float(str(node.children[0]))
    if isinstance(node, Tree) and node.data == "null":
        return None
    return float("nan")


def _describe(node: Tree | Token) -> str:
    if isinstance(node, Tree):
        if node.data == "call":
            return f"function {str(node.children[0]).upper()}"
        if node.data == "arith":
            return f"arithmetic ({node.children[1]})"
        return node.data.rstrip("_").replace("_", " ").upper() if node.data in ("or_", "not_") \
            else node.data.rstrip("_").replace("_", " ")
    return str(node)

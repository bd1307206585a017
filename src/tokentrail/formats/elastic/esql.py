"""ES|QL detection queries -> detection IR plus the rule's ``Grouping``.

A detection query reads ``FROM <indices>``, keeps events with ``WHERE`` (after any ``EVAL`` and
``RENAME`` that name values), and may end in ``STATS <aggregates> BY <keys>`` followed by
``WHERE`` on the aggregates. That lowers to:
  * the IR expression every matching event satisfies (the ``WHERE`` clauses before ``STATS``,
    and those after it that read only the ``BY`` keys, which hold for a whole group alike);
  * ``Grouping(group_by=keys, window=look-back)`` where the conditions after ``STATS`` are
    lower bounds on ``COUNT(*)`` (the threshold) and on ``COUNT_DISTINCT`` of one field (the
    distinct threshold); a lower bound on a count of some rows only (``COUNT(field)``,
    ``SUM(CASE(cond, 1, 0))``) moves its condition into the expression when it is the only
    count asked. ``BY DATE_TRUNC(span, @timestamp)`` makes the window that span.
Aggregates that only shape the alert (``VALUES``, ``MIN``, ``MAX``...) and ``KEEP``, ``DROP``,
``SORT``, ``LIMIT`` after ``STATS`` do not change which events alert and are ignored. Whatever
cannot be lowered (a second ``STATS``, ``OR`` or arithmetic over aggregates, upper bounds, other
commands and functions) raises ``UnsupportedFeature`` naming it, with its line in the file.
``DISSECT`` and ``GROK`` columns are read as regexes over their source field (``esql_extract``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from tokentrail.errors import UnsupportedFeature
from tokentrail.formats.elastic.diagnostics import QueryPosition, position_of
from tokentrail.formats.elastic.durations import UNIT_SECONDS
from tokentrail.formats.elastic.esql_expr import (
    TRUE,
    Choice,
    Column,
    FieldValue,
    Literal,
    RowLowerer,
    conjuncts,
    field_name,
    fields_in,
    not_,
    or_,
    present,
    string_value,
)
from tokentrail.formats.elastic.esql_extract import dissect_columns, grok_columns
from tokentrail.formats.elastic.esql_stats import lower_stats
from tokentrail.rules.ir import All, Expr
from tokentrail.rules.model import Grouping, OutputField

_SPAN_UNITS = {
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001, "s": 1, "sec": 1, "second": 1,
    "seconds": 1, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
}


@dataclass(frozen=True, slots=True)
class EsqlPlan:
    """What an ES|QL query asks, in TokenTrail's terms."""

    expr: Expr
    grouping: Grouping
    indices: tuple[str, ...]
    output_fields: tuple[OutputField, ...] = ()


@dataclass(frozen=True, slots=True)
class _Aggregate:
    """One ``STATS`` aggregate: a count (of the rows ``rows`` selects, all when None), a distinct
    count of ``field``, or a value that only shapes the alert (``function``)."""

    kind: str  # count, distinct, output
    function: str
    node: Tree
    field: str | None = None
    rows: Expr | None = None


@cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("esql.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=False)


def parse_esql(query: str, *, position: QueryPosition | None = None) -> Tree:
    """Parse an ES|QL query into its syntax tree; raise ``RuleLoadError`` with line and column."""
    try:
        return _parser().parse(query)
    except UnexpectedInput as exc:
        raise (position or QueryPosition()).syntax_error("ES|QL", exc) from None


def esql_to_plan(query: str, *, lookback: float, position: QueryPosition | None = None) -> EsqlPlan:
    """Lower an ES|QL detection query; ``lookback`` (seconds, the rule's ``from``) is the window
    of a ``STATS`` query."""
    position = position or QueryPosition()
    return _Planner(position, lookback).plan(parse_esql(query, position=position))


class _Planner:
    def __init__(self, position: QueryPosition, lookback: float) -> None:
        self.position = position
        self.lookback = lookback
        self.columns: dict[str, Column] = {}
        self.filters: list[Expr] = []
        self.indices: tuple[str, ...] = ()

    def unsupported(self, feature: str, node: Tree | Token | None) -> UnsupportedFeature:
        """A located error; its reason names the file line too (a rule's status shows only that)."""
        query_line, column = position_of(node)
        line = self.position.line(query_line)
        detail = self.position.where(query_line, column) + (f", file line {line}" if line else "")
        return UnsupportedFeature(feature, file=self.position.file, line=line, detail=detail)

    def rows(self, columns: Mapping[str, Column] | None = None) -> RowLowerer:
        return RowLowerer(self.columns if columns is None else columns, self.unsupported)

    def plan(self, tree: Tree) -> EsqlPlan:
        source, *commands = tree.children
        indices = tuple(field_name(i.children[0]) if i.children[0].type != "STRING"
                        else string_value(i.children[0]) for i in source.children if i.data == "index")
        self.indices = indices
        stats_at = next((n for n, c in enumerate(commands) if c.data == "stats"), None)
        before = commands if stats_at is None else commands[:stats_at]
        for command in before:
            self.row_command(command, last=stats_at is None and command is commands[-1])
        if stats_at is None:
            return EsqlPlan(_all(self.filters), Grouping(), indices)
        saved = list(self.filters)
        try:
            grouping, outputs = self.stats(commands[stats_at], commands[stats_at + 1:])
        except UnsupportedFeature:
            # More than thresholds: a condition over aggregates that alerting evaluates.
            self.filters = saved
            grouping, outputs = lower_stats(self, commands[stats_at], commands[stats_at + 1:])
        return EsqlPlan(_all(self.filters), grouping, indices, outputs)

    # -- before STATS -----------------------------------------------------------------------

    def row_command(self, command: Tree, *, last: bool) -> None:
        kind = command.data
        if kind == "where":
            self.filters.append(self.rows().truth(command.children[0]))
        elif kind == "eval":
            for assign in command.children:
                if assign.data == "unnamed_assign":
                    continue  # a column no later command can name
                target, value = assign.children
                self.columns[field_name(target.children[0])] = (value, dict(self.columns))
        elif kind == "rename":
            for item in command.children:
                old, new = (field_name(t) for t in item.children)
                self.columns[new] = self.columns.pop(old, None) or (_field_tree(old, item), {})
        elif kind in ("dissect", "grok"):
            self.extract(command)
        elif kind in ("keep", "drop", "sort"):
            pass  # which columns are shown, and their order, do not change which rows match
        elif kind == "limit" and last:
            pass  # caps the alerts of one run, as max_signals does; every match still alerts
        else:
            raise self.unsupported(f"ES|QL command {_command_name(command)}", command)

    def extract(self, command: Tree) -> None:
        """Columns made by ``DISSECT``/``GROK`` on a field (see ``esql_extract``)."""
        source, pattern, *options = command.children
        if options:
            raise self.unsupported("ES|QL DISSECT APPEND_SEPARATOR", command)
        value = self.rows().value(source)
        if not isinstance(value, FieldValue) or value.fold is not None:
            raise self.unsupported(f"ES|QL {command.data.upper()} of a computed value", command)
        make = dissect_columns if command.data == "dissect" else grok_columns
        for name, key in make(value.field, string_value(pattern), self.unsupported, command).items():
            self.columns[name] = (key, {})

    # -- STATS ------------------------------------------------------------------------------

    def stats(self, command: Tree, after: list[Tree]) -> tuple[Grouping, tuple[OutputField, ...]]:
        aggregates: dict[str, _Aggregate] = {}
        keys: dict[str, str] = {}  # key name after STATS -> the event field it groups by
        window = self.lookback
        bucket: float | None = None
        for item in command.children:
            if item.data in ("stat", "unnamed_stat"):
                name, node = self._named(item)
                aggregates[name] = self.aggregate(node)
            else:
                name, node = self._named(item)
                span = self.time_bucket(node)
                if span is not None:
                    window = min(window, span)
                    bucket = span if bucket is None else min(bucket, span)
                    continue
                value = self.rows().value(node)
                if not isinstance(value, FieldValue) or value.fold is not None:
                    raise self.unsupported("ES|QL STATS ... BY on a computed value", node)
                keys[name] = value.field
        conditions: list[Tree] = []
        names: dict[str, str] = {}  # renamed aggregate or key -> its name in STATS
        for step in after:
            kind = step.data
            if kind == "where":
                conditions.extend(conjuncts(step.children[0]))
            elif kind == "stats":
                raise self.unsupported("a second ES|QL STATS", step)
            elif kind == "eval":
                for assign in step.children:
                    if assign.data == "assign":
                        target = field_name(assign.children[0].children[0])
                        aggregates[target] = _Aggregate("output", "EVAL", assign)
            elif kind == "rename":
                for item in step.children:
                    old, new = (field_name(t) for t in item.children)
                    names[new] = names.get(old, old)
            elif kind in ("keep", "drop", "sort", "limit"):
                pass
            else:
                raise self.unsupported(f"ES|QL command {_command_name(step)}", step)
        threshold, distinct = self.conditions(conditions, aggregates, keys, names)
        grouping = Grouping(group_by=tuple(keys.values()), window=window, threshold=threshold,
                            distinct_field=distinct[0] if distinct else None,
                            distinct_threshold=distinct[1] if distinct else 1,
                            aligned=bucket is not None and bucket <= self.lookback)
        return grouping, tuple(OutputField(name, f) for name, f in keys.items())

    def _named(self, item: Tree) -> tuple[str, Tree]:
        if item.data.startswith("unnamed"):
            node = item.children[0]
            return _text_of(node), node
        target, node = item.children
        return field_name(target.children[0]), node

    def time_bucket(self, node: Tree) -> float | None:
        """The span of ``DATE_TRUNC(span, @timestamp)`` (directly or through an EVAL column)."""
        while isinstance(node, Tree) and node.data == "field":
            defined = self.columns.get(field_name(node.children[0]))
            if defined is None:
                return None
            node = defined[0]
        if not (isinstance(node, Tree) and node.data == "call" and str(node.children[0]).lower() == "date_trunc"):
            return None
        args = node.children[1:]
        if len(args) != 2 or not isinstance(args[0], Tree) or args[0].data != "span":
            raise self.unsupported("ES|QL DATE_TRUNC without a time span first", node)
        number, unit = args[0].children
        scale = _SPAN_UNITS.get(str(unit).lower()) or UNIT_SECONDS.get(str(unit).lower())
        if scale is None:
            raise self.unsupported(f"ES|QL DATE_TRUNC span in {unit}", node)
        return float(str(number)) * scale

    def aggregate(self, node: Tree) -> _Aggregate:
        if not (isinstance(node, Tree) and node.data == "call"):
            return _Aggregate("output", _text_of(node), node)
        name = str(node.children[0]).lower()
        args = [a for a in node.children[1:] if a is not None]
        rows = self.rows()
        if name == "count":
            if not args or (isinstance(args[0], Token) and args[0].type == "STAR"):
                return _Aggregate("count", "COUNT(*)", node)
            return _Aggregate("count", "COUNT", node, rows=_not_null(rows, args[0]))
        if name == "count_distinct" and args:
            value = rows.value(args[0])
            if not isinstance(value, FieldValue) or value.fold is not None:
                raise self.unsupported("ES|QL COUNT_DISTINCT of a computed value", node)
            return _Aggregate("distinct", "COUNT_DISTINCT", node, field=value.field)
        if name == "sum" and args:
            value = rows.value(args[0])
            if isinstance(value, Choice) and all(isinstance(v, Literal) and v.value in (0, 1, None)
                                                 for _, v in value.branches):
                ones = [g for g, v in value.branches if v.value == 1]  # type: ignore[union-attr]
                return _Aggregate("count", "SUM(CASE(...))", node, rows=or_(*ones))
        return _Aggregate("output", name.upper(), node)

    def conditions(self, conditions: list[Tree], aggregates: Mapping[str, _Aggregate],
                   keys: Mapping[str, str], names: Mapping[str, str]
                   ) -> tuple[int, tuple[str, int] | None]:
        """Threshold and (distinct field, distinct threshold) from the conditions after STATS;
        conditions on keys alone join the event filters."""
        counts: list[tuple[Expr | None, int]] = []
        distincts: list[tuple[str, int]] = []
        key_columns: dict[str, Column] = {n: (_field_tree(f, None), {}) for n, f in keys.items()}
        key_columns.update({new: key_columns[old] for new, old in names.items() if old in key_columns})
        for cond in conditions:
            referenced = fields_in(cond)
            if referenced and all(n in key_columns for n in referenced):
                self.filters.append(self.rows(key_columns).truth(cond))
                continue
            aggregate, bound = self.bound(cond, aggregates, names)
            if bound <= 0:
                continue  # a count is always at least 1 in a group: nothing to ask
            if aggregate.kind == "count":
                counts.append((aggregate.rows, bound))
            else:
                assert aggregate.field is not None
                distincts.append((aggregate.field, bound))
        if len({f for f, _ in distincts}) > 1:
            raise self.unsupported("ES|QL COUNT_DISTINCT conditions on two fields", conditions[0])
        row_sets = {rows for rows, _ in counts}
        if len(row_sets) > 1:
            raise self.unsupported("ES|QL conditions on counts of different rows", conditions[0])
        rows = row_sets.pop() if row_sets else None
        if rows is not None:
            if distincts:
                raise self.unsupported("ES|QL count of some rows (COUNT(field), SUM(CASE)) with "
                                       "COUNT_DISTINCT", conditions[0])
            self.filters.append(rows)
        if distincts and not counts:
            # COUNT_DISTINCT skips nulls; without a count to keep them for, rows without the
            # field cannot change the outcome.
            self.filters.append(present(distincts[0][0]))
        threshold = max((n for _, n in counts), default=1)
        distinct = (distincts[0][0], max(n for _, n in distincts)) if distincts else None
        return threshold, distinct

    def bound(self, cond: Tree, aggregates: Mapping[str, _Aggregate], names: Mapping[str, str]
              ) -> tuple[_Aggregate, int]:
        """The aggregate and the lower bound a condition after STATS puts on it."""
        if not (isinstance(cond, Tree) and cond.data == "compare"):
            raise self.unsupported(f"ES|QL {_describe(cond)} over aggregates", cond)
        left, op_token, right = cond.children
        op = str(op_token)
        if _is_number(left) and not _is_number(right):
            left, right, op = right, left, {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        if not (isinstance(left, Tree) and left.data == "field" and _is_number(right)):
            what = "comparison of two aggregates" if not _is_number(right) else _describe(left) + " over aggregates"
            raise self.unsupported(f"ES|QL {what}", cond)
        name = field_name(left.children[0])
        aggregate = aggregates.get(names.get(name, name))
        if aggregate is None:
            raise self.unsupported(f"ES|QL condition on {name}, which STATS does not make", cond)
        if aggregate.function == "EVAL":
            raise self.unsupported(f"ES|QL condition on {name}, computed from aggregates by EVAL", cond)
        if aggregate.kind == "output":
            raise self.unsupported(f"ES|QL condition on {aggregate.function} (only counts and "
                                   "distinct counts are thresholds)", cond)
        number = float(str(right.children[0]))
        if op == ">=":
            return aggregate, math.ceil(number)
        if op == ">":
            return aggregate, math.floor(number) + 1
        raise self.unsupported(f"ES|QL {op} on {aggregate.function} (only lower bounds are thresholds)", cond)


def _not_null(rows: RowLowerer, node: Tree | Token) -> Expr:
    return not_(rows.null(node))


def _all(items: list[Expr]) -> Expr:
    flat = [i for i in items if i != TRUE]
    return flat[0] if len(flat) == 1 else All(tuple(flat))


def _is_number(node: Tree | Token) -> bool:
    return isinstance(node, Tree) and node.data == "number"


def _describe(node: Tree | Token) -> str:
    if isinstance(node, Tree):
        if node.data == "call":
            return f"function {str(node.children[0]).upper()}"
        if node.data == "arith":
            return f"arithmetic ({node.children[1]})"
        if node.data == "or_":
            return "OR"
        if node.data == "not_":
            return "NOT"
        return f"{node.data.rstrip('_').replace('_', ' ')}"
    return str(node)


def _text_of(node: Tree | Token) -> str:
    if isinstance(node, Token):
        return str(node)
    if node.data == "field":
        return field_name(node.children[0])
    return _describe(node)


def _field_tree(name: str, near: Tree | None) -> Tree:
    token = Token("FIELD", name)
    if near is not None and not near.meta.empty:
        token.line, token.column = near.meta.line, near.meta.column
    return Tree("field", [token])


def _command_name(command: Tree) -> str:
    if command.data == "other_command":
        return str(command.children[0]).upper()
    return command.data.upper()

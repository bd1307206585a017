"""A rule as data-lake SQL: a query over a table of events, one row per event.

The table's columns are the batch engine's column paths for the rule's log type: nested objects
are structs (``actor.alternateId``), lists are arrays (Okta's ``target``; a field through a list
matches when any element does), and a missing field or a JSON null is NULL. Unlike
``compile/sql.py`` (three-valued, over JSON text, with Python deciding what SQL cannot), every
part here is decided in SQL: what SQL cannot say as the rule means it is a caveat on the
conversion, or makes the rule not convertible.

A rule with a threshold, a distinct count or a correlation of counts becomes a ``GROUP BY …
HAVING`` query; the rest a ``SELECT * … WHERE``. Text is written for each dialect by
``compile/dialects.py``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot.expressions as sx

from tokentrail import schemas
from tokentrail.compile.dialects import DIALECTS, REGEX_ENGINE, render
from tokentrail.compile.fields import number_of, split_field, text_of
from tokentrail.convert.model import Conversion
from tokentrail.engine.plan import log_types_of
from tokentrail.rules.ir import All, Cmp, Const, Exists, Expr, FieldRef, Keywords, Not, Scalar
from tokentrail.rules.ir import Any as AnyOf
from tokentrail.rules.model import Correlation, PythonLogic, Rule
from tokentrail.schemas.specialize import specialize

# The list-valued fields of each family's records (a field through one of them fans out). The
# field trees in schemas/data do not say which nodes are lists; these are the documented ones.
ARRAY_FIELDS: dict[str, frozenset[str]] = {
    "okta": frozenset({"target", "request.ipChain", "target.detailEntry"}),
    "auth0": frozenset({"data.details.accessedSecrets", "data.details.request.auth.scopes"}),
    "salesforce": frozenset(),
    "ecs": frozenset({"related.ip", "related.user", "event.category", "event.type", "tags"}),
}
_IPV4 = r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$"
_NUMERIC_CAVEAT = ("numeric text is read as a number by the target's TRY_CAST, which may accept other "
                   "spellings than TokenTrail does (such as ' 5' or '1_0')")
_COUNT_OPS = {"gt": sx.GT, "gte": sx.GTE, "lt": sx.LT, "lte": sx.LTE, "eq": sx.EQ, "neq": sx.NEQ}


@dataclass(frozen=True)
class SqlSchema:
    """The table a query reads: ``naming`` picks the rule family's native or ECS log type for the
    column names; ``arrays`` overrides the list-valued fields (``None``: ``ARRAY_FIELDS``);
    ``table`` is the table's name."""

    naming: str = "native"
    arrays: frozenset[str] | None = None
    table: str = "events"


class NotConvertible(Exception):
    """A part of a rule with no SQL form; the message says which."""


def to_sql(rule: Rule, dialect: str, schema: SqlSchema | str | None = None, *,
           others: Sequence[Rule] = ()) -> Conversion:
    """``rule`` as a query in ``dialect`` (``duckdb``, ``spark``, ``databricks``, ``snowflake``,
    ``bigquery`` or ``trino``) over the events table ``schema`` describes (a ``SqlSchema``, or
    its naming: ``"native"``/``"ecs"``). ``others`` lends the rules a correlation refers to.
    Never raises for a rule that cannot be converted: that is the conversion's status."""
    target = f"sql:{dialect}"
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    table = SqlSchema(naming=schema) if isinstance(schema, str) else schema or SqlSchema()

    def refuse(reason: str) -> Conversion:
        return Conversion(rule.id, target, "", "not_convertible", (reason,), rule.path)

    if isinstance(rule.logic, PythonLogic):
        return refuse("Python logic cannot be converted")
    if rule.logic is None:
        return refuse(rule.unsupported or "the rule has no detection logic")
    refs = {r.id: r for r in others} | {r.name: r for r in others if r.name}
    try:
        log_type = _log_type(_typed_by(rule, refs), table.naming)
        builder = _QueryBuilder(rule, log_type, dialect, table, refs)
        query = builder.query()
    except NotConvertible as exc:
        return refuse(str(exc))
    caveats = tuple(dict.fromkeys(builder.caveats))
    return Conversion(rule.id, target, render(query, dialect, pretty=True), "caveats" if caveats else "exact",
                      caveats, rule.path)


def _typed_by(rule: Rule, refs: dict[str, Rule]) -> Rule:
    """The rule whose log types a query reads: a correlation's first referenced rule (the
    correlation itself routes to every log type), else the rule."""
    if isinstance(rule.logic, Correlation):
        for step in rule.logic.steps:
            ref = refs.get(step.rule_ref or "")
            if ref is not None:
                return ref
    return rule


def _log_type(rule: Rule, naming: str) -> str:
    """The log type whose column names the query uses: the first the rule runs on, taken in the
    ECS form of its family when ``naming`` is ``ecs`` (and in its native form otherwise)."""
    types = log_types_of(rule)
    if not types:
        raise NotConvertible("the rule names no log type TokenTrail knows")
    wanted = [t for t in types if schemas.get_log_type(t).is_ecs == (naming == "ecs")]
    if not wanted and naming == "ecs":
        ecs = schemas.registry().ecs_of(schemas.get_log_type(types[0]).family)
        wanted = [ecs.name] if ecs is not None else []
    if not wanted:
        wanted = [t for t in types if not schemas.get_log_type(t).is_ecs] or list(types)
    return wanted[0]


class _QueryBuilder:
    def __init__(self, rule: Rule, log_type: str, dialect: str, table: SqlSchema, refs: dict[str, Rule]) -> None:
        self.rule = rule
        self.log_type = log_type
        self.info = schemas.get_log_type(log_type)
        self.dialect = dialect
        self.table = table
        self.refs = refs
        self.caveats: list[str] = []
        self.dialect_of_rule = str(rule.metadata.get("field_dialect", "native"))
        self.arrays = table.arrays if table.arrays is not None else self._known_arrays()

    def _known_arrays(self) -> frozenset[str]:
        """The family's list-valued fields, named as this log type names them (plus ECS's own)."""
        native = {schemas.field_for(self.log_type, f, "native") for f in ARRAY_FIELDS.get(self.info.family, ())}
        return frozenset(native | (ARRAY_FIELDS["ecs"] if self.info.is_ecs else set()))

    # -- the query -----------------------------------------------------------------------------
    def query(self) -> sx.Expression:
        logic = self.rule.logic
        if isinstance(logic, Correlation):
            return self._correlation(logic)
        where = self.condition(logic)
        g = self.rule.grouping
        if g.new_terms:
            self.caveats.append("new_terms: the query lists every match; whether its terms are new is not checked")
        if g.query is not None:
            self.caveats.append("ES|QL condition over aggregates: the query lists every match; the groups' "
                                "condition is not checked")
        if g.threshold > 1 or g.distinct_field:
            having = [sx.GTE(this=sx.Count(this=sx.Star()), expression=sx.Literal.number(g.threshold))]
            if g.distinct_field:
                having.append(sx.GTE(this=sx.Count(this=sx.Distinct(expressions=[self.column(g.distinct_field)])),
                                     expression=sx.Literal.number(g.distinct_threshold)))
            return self._grouped(where, g.group_by, g.window, sx.and_(*having))
        return sx.select("*").from_(self.table.table).where(where)

    def _grouped(self, where: sx.Expression, by: Sequence[str], window: float | None,
                 having: sx.Expression, source: sx.Expression | None = None) -> sx.Expression:
        keys = [sx.alias_(self.column(f), f.replace(".", "_"), quoted=True) for f in by]
        time = self._time()
        groups = [k.this.copy() for k in keys]
        if window:
            self.caveats.append(f"windows are fixed {window:g}-second buckets of event time; TokenTrail opens "
                                "a group's window at its first match")
            groups.append(sx.Floor(this=sx.Div(this=sx.TimeToUnix(this=sx.Cast(this=time.copy(), to=sx.DataType.build(
                "TIMESTAMP"))), expression=sx.Literal.number(window))))
        select = sx.select(*keys, sx.alias_(sx.Min(this=time.copy()), "first_time"),
                           sx.alias_(sx.Max(this=time.copy()), "last_time"),
                           sx.alias_(sx.Count(this=sx.Star()), "matches")).from_(source or self.table.table)
        select = select.where(where)
        if groups:
            select = select.group_by(*groups)
        return select.having(having)

    def _time(self) -> sx.Expression:
        if not self.info.time_fields:
            raise NotConvertible(f"log type {self.log_type} names no time field to group windows by")
        return self.column(self.info.time_fields[0], mapped=True)

    def _correlation(self, corr: Correlation) -> sx.Expression:
        if corr.kind in ("temporal_ordered", "sequence"):
            raise NotConvertible(f"a {corr.kind.replace('_', ' ')} correlation (steps in order) has no SQL form here")
        steps = [self._step_expr(s) for s in corr.steps]
        by = corr.steps[0].by
        if any(s.by != by for s in corr.steps):
            raise NotConvertible("correlation steps group by different fields")
        where = sx.or_(*steps) if len(steps) > 1 else steps[0]
        op, number = corr.condition or ("gte", 1)
        if corr.kind == "temporal":
            step_no = sx.Case(ifs=[sx.If(this=s.copy(), true=sx.Literal.number(i)) for i, s in enumerate(steps)])
            measure: sx.Expression = sx.Count(this=sx.Distinct(expressions=[step_no]))
            op, number = "eq", len(steps)
        elif corr.kind == "value_count":
            if not corr.value_field:
                raise NotConvertible("a value count without a value field")
            measure = sx.Count(this=sx.Distinct(expressions=[self.column(corr.value_field)]))
        else:
            measure = sx.Count(this=sx.Star())
        having = _COUNT_OPS[op](this=measure, expression=sx.Literal.number(int(number) if float(number).is_integer()
                                                                           else number))
        return self._grouped(where, by, corr.timespan, having)

    def _step_expr(self, step) -> sx.Expression:
        if step.expr is not None:
            return self.condition(step.expr)
        ref = self.refs.get(step.rule_ref or "")
        if ref is None:
            raise NotConvertible(f"the correlation refers to rule {step.rule_ref!r}, which was not given")
        if ref.logic is None or isinstance(ref.logic, PythonLogic | Correlation):
            raise NotConvertible(f"the correlation refers to rule {step.rule_ref!r}, which has no IR logic")
        return self.condition(ref.logic)

    # -- conditions ----------------------------------------------------------------------------
    def condition(self, expr: Expr) -> sx.Expression:
        """``expr`` (fields as the rule wrote them) as a two-valued SQL condition."""
        return self._expr(specialize(expr, self.log_type, self.dialect_of_rule), negated=False)

    def _expr(self, expr: Expr, negated: bool) -> sx.Expression:
        match expr:
            case All(items):
                return sx.paren(sx.and_(*(self._expr(i, negated) for i in items))) if items else sx.true()
            case AnyOf(items):
                return sx.paren(sx.or_(*(self._expr(i, negated) for i in items))) if items else sx.false()
            case Not(item):
                return sx.not_(sx.paren(self._expr(item, not negated)))
            case Const(value):
                return sx.true() if value else sx.false()
            case Keywords():
                raise NotConvertible("a keyword (full-text) search over every value has no column form")
        leaf = self._leaf(expr)
        # A NULL under NOT would stay NULL (no row) where the rule says true: leaves under a NOT are
        # two-valued. Elsewhere NULL drops the row just as FALSE does.
        return sx.Coalesce(this=leaf, expressions=[sx.false()]) if negated else leaf

    def _leaf(self, node: Expr) -> sx.Expression:
        match node:
            case Exists(field, non_null):
                if not non_null:
                    self.caveats.append("a field holding null counts as missing (a table holds both as NULL)")
                return self._over(field, lambda v: sx.not_(sx.Is(this=v, expression=sx.null())))
            case FieldRef(field, other, op, cased):
                return self._fieldref(field, other, op, cased)
            case Cmp():
                return self._cmp(node)
        raise TypeError(f"not an IR node: {node!r}")

    # -- fields --------------------------------------------------------------------------------
    def column(self, field: str, *, mapped: bool = False) -> sx.Expression:
        """The column path of a rule field (with no list on the way)."""
        name = field if mapped else schemas.field_for(self.log_type, field, self.dialect_of_rule)
        parts = split_field(name)
        if self._lists(name):
            raise NotConvertible(f"field {field} runs through a list, which has no single value to group by")
        return _path(sx.column(_ident(parts[0])), parts[1:])

    def _over(self, field: str, test) -> sx.Expression:
        """``test`` of the value at ``field``, fanned out over lists: true when any element's is."""
        return self._walk(None, split_field(field), self._lists(field), 0, test)

    def _lists(self, field: str) -> frozenset[int]:
        """Where lists are on the way to ``field``: the part counts of its list-valued prefixes
        (known ones, and those the rule marks with ``{}``)."""
        raw = field.split(".")
        parts = split_field(field)
        return frozenset(k for k in range(1, len(parts) + 1)
                         if ".".join(parts[:k]) in self.arrays or raw[k - 1].endswith("{}"))

    def _walk(self, base: sx.Expression | None, parts: tuple[str, ...], lists: frozenset[int], start: int,
              test) -> sx.Expression:
        for end in range(start + 1, len(parts) + 1):
            if end in lists:
                var = f"e{len([k for k in lists if k < end])}"
                inner = (test(sx.column(var)) if end == len(parts)
                         else self._walk(sx.column(var), parts, lists, end, test))
                lam = sx.Lambda(this=inner, expressions=[sx.to_identifier(var)])
                return sx.GT(this=sx.ArraySize(this=sx.ArrayFilter(this=_path(base, parts[start:end]), expression=lam)),
                             expression=sx.Literal.number(0))
        return test(_path(base, parts[start:]))

    def _fieldref(self, field: str, other: str, op: str, cased: bool) -> sx.Expression:
        if op not in ("eq", "contains", "startswith", "endswith"):
            raise NotConvertible(f"a field reference with {op} has no SQL form here")
        left, right = self.column(field, mapped=True), self.column(other, mapped=True)
        if not cased:
            left, right = sx.Lower(this=left), sx.Lower(this=right)
        return sx.and_(sx.not_(sx.Is(this=right.copy(), expression=sx.null())), _text_op(op, left, right))

    # -- comparisons ---------------------------------------------------------------------------
    def _cmp(self, node: Cmp) -> sx.Expression:
        values = tuple(v for v in node.values if v is not None)
        wants_null = len(values) != len(node.values)
        if node.all_values and len(values) > 1:
            tests = [self._over(node.field, lambda s, v=v: self._value_test(node.op, (v,), node.cased, s))
                     for v in values]
            return sx.paren(sx.and_(*tests))
        test = (self._over(node.field, lambda s: self._value_test(node.op, values, node.cased, s))
                if values else sx.false())
        if wants_null:
            parts = split_field(node.field)
            if self._lists(node.field):
                raise NotConvertible(f"a null test of {node.field}, which runs through a list")
            test = sx.paren(sx.or_(sx.Is(this=_path(None, parts), expression=sx.null()), test))
        return test

    def _value_test(self, op: str, values: tuple[Scalar, ...], cased: bool, s: sx.Expression) -> sx.Expression:
        if op == "eq":
            return self._eq(values, cased, s)
        if op in ("contains", "startswith", "endswith"):
            text = _text(s, values)
            probe = text if cased else sx.Lower(this=text)
            return _any([_text_op(op, probe.copy(), sx.Literal.string(_norm(str(text_of(v)), cased))) for v in values])
        if op == "glob":
            probe = s if cased else sx.Lower(this=s)
            return _any([sx.Escape(this=sx.Like(this=probe.copy(), expression=sx.Literal.string(_like(str(text_of(v)),
                                                                                                       cased))),
                                   expression=sx.Literal.string("\\")) for v in values])
        if op == "regex":
            engine = REGEX_ENGINE[self.dialect]
            if engine != "RE2":
                self.caveats.append(f"regexes are RE2 in TokenTrail and {engine} in {self.dialect}: "
                                    "their syntax and meaning differ at the edges")
            return _any([sx.RegexpLike(this=s.copy(), expression=sx.Literal.string(str(text_of(v)))) for v in values])
        if op == "cidr":
            return self._cidr(values, s)
        return self._order(op, values, s)

    def _eq(self, values: tuple[Scalar, ...], cased: bool, s: sx.Expression) -> sx.Expression:
        texts = sorted({_norm(str(text_of(v)), cased) for v in values})
        text = _text(s, values)
        probe = text if cased else sx.Lower(this=text)
        test: sx.Expression = sx.In(this=probe, expressions=[sx.Literal.string(t) for t in texts])
        numbers = sorted({n for v in values if not isinstance(v, str) and (n := number_of(v)) is not None})
        if numbers:
            self.caveats.append(_NUMERIC_CAVEAT)
            test = sx.or_(test, sx.In(this=_number(s), expressions=[_num(n) for n in numbers]))
        return test

    def _cidr(self, values: tuple[Scalar, ...], s: sx.Expression) -> sx.Expression:
        nets = [ipaddress.ip_network(str(v), strict=False) for v in values]
        if any(n.version == 6 for n in nets):
            self.caveats.append("IPv6 networks are not matched (only IPv4 addresses are tested in SQL)")
        self.caveats.append("addresses must be plain dotted quads (TokenTrail also reads IPv4-mapped IPv6)")
        octets = [sx.TryCast(this=sx.SplitPart(this=s.copy(), delimiter=sx.Literal.string("."),
                                               part_index=sx.Literal.number(i)), to=sx.DataType.build("BIGINT"))
                  for i in range(1, 5)]
        addr = sx.paren(octets[0] * 16777216 + octets[1] * 65536 + octets[2] * 256 + octets[3])
        inside = _any([sx.Between(this=addr.copy(), low=sx.Literal.number(int(n.network_address)),
                                  high=sx.Literal.number(int(n.broadcast_address))) for n in nets if n.version == 4])
        return sx.paren(sx.and_(sx.RegexpLike(this=s.copy(), expression=sx.Literal.string(_IPV4)), inside))

    def _order(self, op: str, values: tuple[Scalar, ...], s: sx.Expression) -> sx.Expression:
        cls = {"lt": sx.LT, "le": sx.LTE, "gt": sx.GT, "ge": sx.GTE}[op]
        # Which texts are numbers decides how they order: the target's TRY_CAST tells.
        self.caveats.append(_NUMERIC_CAVEAT)
        tests = []
        for v in values:
            n = number_of(v)
            if n is not None:
                tests.append(cls(this=_number(s), expression=_num(n)))
            elif text_of(v) is not None:
                tests.append(sx.and_(sx.Is(this=_number(s), expression=sx.null()),
                                     cls(this=s.copy(), expression=sx.Literal.string(str(text_of(v))))))
        return _any(tests)


def _ident(name: str) -> sx.Identifier:
    # Quoted unless plain lower case: Snowflake upper-cases unquoted names, and keys such as
    # ``eventType`` must keep their case.
    plain = name.isidentifier() and name == name.lower() and name.isascii()
    return sx.to_identifier(name, quoted=not plain)


def _path(base: sx.Expression | None, parts: Sequence[str]) -> sx.Expression:
    expr = base
    for part in parts:
        expr = sx.column(_ident(part)) if expr is None else sx.Dot(this=expr, expression=_ident(part))
    assert expr is not None
    return expr


def _text(s: sx.Expression, values: tuple[Scalar, ...]) -> sx.Expression:
    """The value as text: a boolean rule value means the column may be BOOLEAN."""
    if any(isinstance(v, bool) for v in values):
        return sx.Cast(this=s, to=sx.DataType.build("VARCHAR"))
    return s


def _number(s: sx.Expression) -> sx.Expression:
    return sx.TryCast(this=s.copy(), to=sx.DataType.build("DOUBLE"))


def _num(n: float) -> sx.Expression:
    return sx.Literal.number(int(n) if n.is_integer() else n)


def _text_op(op: str, probe: sx.Expression, needle: sx.Expression) -> sx.Expression:
    if op == "eq":
        return sx.EQ(this=probe, expression=needle)
    cls = {"contains": sx.Contains, "startswith": sx.StartsWith, "endswith": sx.EndsWith}[op]
    return cls(this=probe, expression=needle)


def _any(items: list[sx.Expression]) -> sx.Expression:
    if not items:
        return sx.false()
    return items[0] if len(items) == 1 else sx.paren(sx.or_(*items))


def _norm(s: str, cased: bool) -> str:
    return s if cased else s.lower()


def _like(glob: str, cased: bool) -> str:
    """An IR glob as a LIKE pattern escaped with backslashes (``*`` is ``%``, ``?`` is ``_``)."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        ch = glob[i]
        if ch == "\\" and i + 1 < len(glob):
            ch = glob[i + 1]
            out.append("\\" + ch if ch in "%_\\" else _norm(ch, cased))
            i += 2
            continue
        out.append("%" if ch == "*" else "_" if ch == "?" else "\\" + ch if ch in "%_\\" else _norm(ch, cased))
        i += 1
    return "".join(out)

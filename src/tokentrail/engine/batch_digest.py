"""Digests read in SQL: what a match's alerting needs, selected by DuckDB from typed columns.

For a Parquet file the batch engine would otherwise turn every matched row into a Python event
and run the unit's digest function on it (``engine/digest.py``). For a unit whose digest is plain
field reads — time, id, group-by keys, distinct and new-terms values, output fields, correlation
keys — the same values are expressions over the file's columns, so DuckDB selects them for the
matched rows alone and Python only assembles ``Digest`` tuples from the columns' lists.

Every expression here must read exactly what the streaming engine's readers read from the event
the batch engine would have built (a NULL cell is a missing field): ``compile.fields.make_first``
for rule fields, ``schemas.access.reader`` for time and id. Where the schema leaves any doubt —
a case-variant key, a route that needs Python's order over several lists, a type whose text
DuckDB spells differently (floats, timestamps) — the unit has no SQL digest and keeps the
Python path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as sx

from tokentrail import schemas
from tokentrail.compile.fields import split_field
from tokentrail.engine.batch_buckets import TypeLayout, lt_is
from tokentrail.engine.digest import Digest, SignalPart
from tokentrail.engine.plan import Unit
from tokentrail.rules.model import Correlation, Rule
from tokentrail.schemas.timeparse import parse_time

DIGEST_BLOCK = 16  # units whose SQL digests are built together, on the rows one of them matched

Build = Callable[[float | None, str | None, list[str], Any], Digest]


@dataclass(frozen=True, slots=True)
class UnitDigest:
    """One unit's digest in SQL: the text expressions it reads (in ``build``'s order), its output
    fields as one JSON object (None when it has none) and how a row's values become a Digest."""

    unit: Unit
    texts: tuple[sx.Expression, ...]
    outputs: sx.Expression | None
    build: Build
    # Of a digest that is only a group key, a distinct value and output fields (no new terms,
    # no correlation signals): where its key (start, stop) and distinct value are in ``texts``,
    # for alerting a run of matches at once (``StreamingEngine.route_many``).
    parts: tuple[int, int, int | None] | None = None


@dataclass(frozen=True, slots=True)
class TypeDigest:
    """The digests in SQL of one log type's units for one schema: the raw time and id field
    values every digest starts from, and the units (by position in the log type's unit list)
    that have one."""

    times: tuple[sx.Expression, ...]
    ids: tuple[sx.Expression, ...]
    units: dict[int, UnitDigest]
    columns: frozenset[str]  # the top-level columns the expressions read
    stamp_columns: frozenset[str]  # those the time and id expressions read


class _Unsupported(Exception):
    """The schema leaves a read in doubt: the unit keeps the Python digest."""


def _scalar(kind: pa.DataType) -> bool:
    """Types whose values DuckDB and the streaming engine spell alike (as text and as JSON)."""
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind)
            or (pa.types.is_integer(kind) and not pa.types.is_uint64(kind)))


def _is_list(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind)


def _splits(parts: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every way to read ``parts`` as keys, some of them literal dotted keys, in the order the
    streaming readers try them (at each level the shorter key first, depth first)."""
    if not parts:
        return [()]
    out = []
    for j in range(1, len(parts) + 1):
        key = ".".join(parts[:j])
        out.extend((key, *rest) for rest in _splits(parts[j:]))
    return out


class _Resolver:
    """Answers, from a schema, what a path reads; ``alias`` names the CTE column of a top-level
    column (the query renames them so they cannot collide with its own)."""

    def __init__(self, schema: pa.Schema, alias: Callable[[str], str], ci: bool) -> None:
        self.schema = schema
        self.alias = alias
        self.ci = ci
        self.used: set[str] = set()

    def _names_check(self, names: Sequence[str], key: str) -> None:
        # Another spelling of the key would be read by a case-insensitive log type's readers.
        if self.ci and any(n != key and n.casefold() == key.casefold() for n in names):
            raise _Unsupported(key)

    def _route(self, keys: tuple[str, ...]) -> tuple[sx.Expression, pa.DataType, bool] | None:
        """The expression, type and list-crossing of one route of keys; None when the schema
        lacks it. A route through a list of structs reads each element's value (first non-NULL
        wins); anything deeper through lists is not expressible."""
        self._names_check(self.schema.names, keys[0])
        if keys[0] not in self.schema.names:
            return None
        head = keys[0]
        kind = self.schema.field(head).type
        expr: sx.Expression = sx.column(self.alias(head), quoted=True)
        self.used.add(head)
        crossed = False
        path_in_list: list[str] = []
        for key in keys[1:]:
            if _is_list(kind):
                if crossed or _is_list(kind.value_type):
                    raise _Unsupported(".".join(keys))  # lists in lists: Python reads through them, in its order
                crossed = True
                kind = kind.value_type
            if not pa.types.is_struct(kind):
                return None
            self._names_check([kind.field(i).name for i in range(kind.num_fields)], key)
            if kind.get_field_index(key) < 0:
                return None
            kind = kind.field(key).type
            if crossed:
                path_in_list.append(key)
            else:
                expr = sx.Anonymous(this="struct_extract", expressions=[expr, sx.Literal.string(key)])
        if crossed:
            if not _scalar(kind):
                raise _Unsupported(".".join(keys))
            inner: sx.Expression = sx.column("__tt_x")
            for key in path_in_list:
                inner = sx.Anonymous(this="struct_extract", expressions=[inner, sx.Literal.string(key)])
            values = sx.Anonymous(this="list_transform", expressions=[expr, _lambda(inner)])
            kept = sx.Anonymous(this="list_filter", expressions=[
                values, _lambda(sx.not_(sx.Is(this=sx.column("__tt_x"), expression=sx.null())))])
            return _first(kept), kind, True
        return expr, kind, False

    def first_value(self, field: str) -> tuple[sx.Expression, pa.DataType | None]:
        """``make_first(field)`` as SQL: the first value by every route, NULL when missing."""
        parts = split_field(field)
        if not parts or any(not p for p in parts):
            raise _Unsupported(field)
        found = [r for r in (self._route(keys) for keys in _splits(parts)) if r is not None]
        if not found:
            return sx.null(), None
        if len(found) > 1 and any(crossed or _is_list(kind) for _e, kind, crossed in found):
            raise _Unsupported(field)  # Python's order over several routes and lists
        exprs = []
        kinds = set()
        for expr, kind, _crossed in found:
            if _is_list(kind):
                # A leaf list: its elements are the values (a NULL element is a value too).
                kind = kind.value_type
                expr = _first(expr)
            if not _scalar(kind):
                raise _Unsupported(field)
            exprs.append(expr)
            kinds.add(_family(kind))
        if len(kinds) > 1:
            raise _Unsupported(field)  # one column type for the routes' values
        return (exprs[0] if len(exprs) == 1 else sx.Coalesce(this=exprs[0], expressions=exprs[1:])), found[0][1]

    def scalar_at(self, path: str, allowed: Callable[[pa.DataType], bool]) -> sx.Expression:
        """``schemas.access.reader(path)`` as SQL: the literal dotted key first, then nested
        objects (no lists); every route that exists must hold an ``allowed`` scalar."""
        parts = tuple(path.split("."))
        order = [(path,), *(s for s in _splits(parts) if s != (path,))]
        exprs = []
        for keys in order:
            found = self._route(keys)
            if found is None:
                continue
            expr, kind, crossed = found
            if crossed or not allowed(kind):
                raise _Unsupported(path)
            exprs.append(expr)
        if not exprs:
            return sx.null()
        return exprs[0] if len(exprs) == 1 else sx.Coalesce(this=exprs[0], expressions=exprs[1:])


def _family(kind: pa.DataType) -> str:
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind):
        return "int"
    return "str"


def _first(items: sx.Expression) -> sx.Expression:
    """A list's first element (NULL when empty), spelled out: a bracket would be re-based."""
    return sx.Anonymous(this="list_extract", expressions=[items, sx.Literal.number(1)])


def _lambda(body: sx.Expression) -> sx.Expression:
    return sx.Lambda(this=body, expressions=[sx.to_identifier("__tt_x")])


def _as_text(expr: sx.Expression) -> sx.Expression:
    """``digest.as_text`` in SQL: the value's text ('true'/'false', decimal digits), '' when
    missing."""
    return sx.Coalesce(this=sx.Cast(this=expr, to=sx.DataType.build("VARCHAR")), expressions=[sx.Literal.string("")])


def _text_type(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _id_type(kind: pa.DataType) -> bool:
    return _text_type(kind) or (pa.types.is_integer(kind) and not pa.types.is_uint64(kind))


def plan_type(schema: pa.Schema, log_type: str, units: Sequence[Unit],
              subscribers: dict[str, list[tuple[Rule, int]]], alias: Callable[[str], str]) -> TypeDigest | None:
    """The SQL digests of ``units`` (one log type's declarative units, in query order) over
    ``schema``; None when the log type's time or id cannot be read in SQL."""
    info = schemas.log_type_info(log_type)
    if info is None:
        return None
    ci = info.case_insensitive_events
    resolver = _Resolver(schema, alias, ci)
    try:
        times = tuple(sx.Cast(this=resolver.scalar_at(f, _text_type), to=sx.DataType.build("VARCHAR"))
                      for f in info.time_fields)
        ids = tuple(sx.Cast(this=resolver.scalar_at(f, _id_type), to=sx.DataType.build("VARCHAR"))
                    for f in info.id_fields)
    except _Unsupported:
        return None
    stamps = frozenset(resolver.used)
    planned: dict[int, UnitDigest] = {}
    for position, unit in enumerate(units, 1):
        try:
            planned[position] = _plan_unit(unit, resolver, subscribers.get(unit.rule.id, ()))
        except _Unsupported:
            continue
    return TypeDigest(times, ids, planned, frozenset(resolver.used), stamps)


def _plan_unit(unit: Unit, resolver: _Resolver, subscribers: Sequence[tuple[Rule, int]]) -> UnitDigest:
    """One unit's SQL digest, the same ``Digest`` that ``digest.build_digester`` makes."""
    if unit.python is not None:
        raise _Unsupported(unit.rule.id)
    texts: list[sx.Expression] = []

    def text_slot(fields: Sequence[str]) -> slice:
        start = len(texts)
        for name in fields:
            mapped = schemas.field_for(unit.log_type, name, unit.dialect)
            texts.append(_as_text(resolver.first_value(mapped)[0]))
        return slice(start, len(texts))

    index, rule, logic = unit.index, unit.rule, unit.rule.logic
    if unit.role == "until":
        assert isinstance(logic, Correlation)
        reset = text_slot(logic.steps[0].by)
        return UnitDigest(unit, tuple(texts), None,
                          lambda t, eid, txt, _raw: Digest(index, t, eid, reset_key=tuple(txt[reset])))
    if unit.role == "step":
        assert isinstance(logic, Correlation)
        part = _signal_slots(rule.id, logic, unit.step, text_slot)
        return UnitDigest(unit, tuple(texts), None,
                          lambda t, eid, txt, _raw: Digest(index, t, eid, signals=(part(txt),)))
    g = rule.grouping
    key = text_slot(g.group_by)
    distinct = text_slot([g.distinct_field]).start if g.distinct_field else None
    terms = text_slot(g.new_terms) if g.new_terms else None
    parts = [_signal_slots(corr.id, corr.logic, step, text_slot) for corr, step in subscribers]  # type: ignore[arg-type]
    outputs = None
    if rule.output_fields:
        pairs: list[sx.Expression] = []
        for o in rule.output_fields:
            pairs += [sx.Literal.string(o.label),
                      resolver.first_value(schemas.field_for(unit.log_type, o.field, unit.dialect))[0]]
        outputs = sx.Anonymous(this="json_object", expressions=pairs)
    loads = orjson.loads

    def build(t: float | None, eid: str | None, txt: list[str], raw: Any) -> Digest:
        extras: dict[str, Any] = {"group_key": tuple(txt[key])}
        if distinct is not None:
            extras["distinct"] = txt[distinct]
        if terms is not None:
            extras["terms"] = tuple(txt[terms])
        if raw is not None:
            extras["fields"] = loads(raw)
        return Digest(index, t, eid, extras, tuple(p(txt) for p in parts))

    return UnitDigest(unit, tuple(texts), outputs, build, None if terms is not None or parts else (key.start, key.stop, distinct))


def _signal_slots(corr_id: str, corr: Correlation, step: int,
                  text_slot: Callable[[Sequence[str]], slice]) -> Callable[[list[str]], SignalPart]:
    """``digest._signal_reader`` over a row's texts."""
    by = corr.steps[step].by
    key = text_slot(by)
    value = text_slot([corr.value_field]).start if corr.value_field else None
    names = corr.steps[0].by or by

    def part(txt: list[str]) -> SignalPart:
        k = tuple(txt[key])
        return corr_id, step, k, (txt[value] if value is not None else None), dict(zip(names, k, strict=False))

    return part


def event_time(values: list[str | None]) -> float | None:
    """``schemas.time_reader`` over a row's raw time field values (in the log type's order)."""
    for value in values:
        if value is not None:
            parsed = parse_time(value)
            if parsed is not None:
                return parsed
    return None


# A text that ``parse_time`` reads as plain ISO 8601 (seconds, at most six fractional digits, no
# zone or Z or +hh:mm): its epoch seconds follow from its digits, so a batch's are computed at once.
_PLAIN_ISO = (r"^(?P<y>\d{4})-(?P<mo>\d\d)-(?P<d>\d\d)T(?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
              r"(?:\.(?P<f>\d{1,6}))?(?P<z>Z|(?P<zs>[+-])(?P<zh>\d\d):(?P<zm>\d\d))?$")
_EXACT_US = 1 << 53  # microseconds a float holds exactly: |t| up to ~285 years from 1970


def event_times(column: pa.ChunkedArray | pa.Array) -> list[float | None]:
    """``event_time`` of each row of a list-of-text column (a NULL row: None), the same floats.

    A row whose first value is plain ISO 8601 in a valid date and time within ``_EXACT_US`` of
    1970 is computed in numpy: ``datetime.timestamp`` divides the integer microseconds by 10**6,
    correctly rounded, and so does a float division of the same integer held exactly. Every
    other row (no first value, another form, a date such as Feb 30, far years) goes through
    ``event_time`` itself."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    rows = len(array)
    out: list[float | None] = [None] * rows
    if not rows:
        return out
    offsets = np.asarray(pc.subtract(array.offsets, array.offsets[0]), np.int64)
    values = array.flatten()
    lengths = np.diff(offsets)
    valid = np.asarray(array.is_valid(), bool)
    candidates = np.flatnonzero(valid & (lengths > 0))
    fast = np.zeros(rows, bool)
    if candidates.size:
        parts = pc.extract_regex(values.take(pa.array(offsets[candidates])), _PLAIN_ISO)
        matched = np.asarray(parts.is_valid(), bool)
        if matched.any():
            rows_m = candidates[matched]
            got = parts.filter(pa.array(matched))
            seconds, ok = _plain_iso_micros(got)
            rows_ok = rows_m[ok]
            fast[rows_ok] = True
            for row, t in zip(rows_ok.tolist(), (seconds[ok].astype(np.float64) / 1e6).tolist(), strict=True):
                out[row] = t
    slow = np.flatnonzero(valid & ~fast)
    if slow.size:
        # Many slow rows: one list of every text beats an Arrow slice per row.
        texts = values.to_pylist() if slow.size * 4 > rows else None
        for row in slow.tolist():
            start, stop = int(offsets[row]), int(offsets[row + 1])
            items = texts[start:stop] if texts is not None else values.slice(start, stop - start).to_pylist()
            out[row] = event_time(items)
    return out


def _plain_iso_micros(parts: pa.StructArray) -> tuple[np.ndarray, np.ndarray]:
    """Epoch microseconds of ``_PLAIN_ISO``'s matches, and which of them are valid (a real date,
    hours below 24, minutes and seconds below 60, a zone under a day) and exact as floats."""

    def number(name: str, width: int = 0) -> np.ndarray:
        text = parts.field(name)
        if width:
            text = pc.utf8_rpad(text, width, padding="0")
        text = pc.if_else(pc.equal(text, ""), "0", text)
        return np.asarray(pc.cast(text, pa.int64()), np.int64)

    y, mo, d, h, mi, s = (number(n) for n in ("y", "mo", "d", "h", "mi", "s"))
    micros = number("f", 6)
    zh, zm = number("zh"), number("zm")
    sign = np.where(np.asarray(pc.equal(parts.field("zs"), "-"), bool), -1, 1)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int64)[np.clip(mo, 0, 12)]
    month_days = month_days + ((mo == 2) & leap)
    ok = ((y >= 1) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= month_days) & (h < 24) & (mi < 60) & (s < 60)
          & (zh < 24) & (zm < 60))
    # Days since 1970-01-01 of a proleptic Gregorian date (years counted from March).
    yy = y - (mo <= 2)
    era = np.floor_divide(yy, 400)
    yoe = yy - era * 400
    doy = (153 * (mo + np.where(mo > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    total = (days * 86400 + h * 3600 + mi * 60 + s - sign * (zh * 3600 + zm * 60)) * 1_000_000 + micros
    ok &= np.abs(total) <= _EXACT_US
    return total, ok


def event_ids(column: pa.ChunkedArray | pa.Array) -> list[str | None]:
    """``event_id`` of each row of a list-of-text column (a NULL row: None): a row's first value
    when it is a non-empty text, else ``event_id`` of its values."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    rows = len(array)
    if not rows:
        return []
    firsts = pc.list_element(pc.if_else(pc.greater(pc.list_value_length(array), 0), array, pa.scalar(None, array.type)), 0)
    out = firsts.to_pylist()
    valid = array.is_valid().to_pylist()
    for row, (first, present) in enumerate(zip(out, valid, strict=True)):
        if not first and present:
            out[row] = event_id(array[row].as_py())
    return out


def event_id(values: list[str | None]) -> str | None:
    """``schemas.id_reader`` over a row's id field values as text (an empty string is none)."""
    for value in values:
        if value:
            return value
    return None


def _list(items: Sequence[sx.Expression]) -> sx.Expression:
    return sx.Cast(this=sx.Array(expressions=list(items)), to=sx.DataType.build("VARCHAR[]"))


def _matched(items: Iterable[str]) -> str:
    """The non-NULL ones of ``items`` (SQL digests, each NULL where its unit did not match)."""
    return f"list_filter([{', '.join(items)}], __tt_o -> __tt_o IS NOT NULL)"


def digest_condition(layouts: Mapping[str, TypeLayout], digests: Mapping[str, TypeDigest]) -> sx.Expression:
    """Over the query's rows (``lt``, codes ``h`` laid out as ``layouts`` say): TRUE for a row
    SQL digests — certain, matched, of a log type with SQL digests (never one with Python
    rules) and matched by units that all have one."""
    branches = []
    for lt, plan in digests.items():
        cleans = []
        for selects, places in layouts[lt].lists(decided=True):
            others = [sx.Literal.number(j) for j, p in enumerate(places, 1) if p not in plan.units]
            clean: sx.Expression = sx.true()
            if others:
                picked = sx.Anonymous(this="list_select", expressions=[sx.column("h"), sx.Array(expressions=others)])
                clean = sx.not_(sx.Anonymous(this="list_contains", expressions=[picked, sx.Literal.number(1)]))
            cleans.append(sx.If(this=selects, true=clean))
        if all(isinstance(c.args["true"], sx.Boolean) for c in cleans):
            branches.append(sx.If(this=lt_is(lt), true=sx.true()))  # every unit has a digest
        elif len(cleans) == 1:
            branches.append(cleans[0])
        else:
            branches.append(sx.If(this=lt_is(lt), true=sx.Case(ifs=cleans, default=sx.false())))
    if not branches:
        return sx.false()
    h = sx.column("h")
    certain = sx.and_(sx.Anonymous(this="list_contains", expressions=[h, sx.Literal.number(1)]),
                      sx.not_(sx.Anonymous(this="list_contains", expressions=[h.copy(), sx.Literal.number(-1)])))
    body = sx.and_(certain, sx.Case(ifs=branches, default=sx.false()))
    return sx.Coalesce(this=body, expressions=[sx.false()])


def digest_columns(layouts: Mapping[str, TypeLayout], digests: Mapping[str, TypeDigest]) -> tuple[str, str, str]:
    """SQL over the query's rows (``lt``, codes ``h`` laid out as ``layouts`` say, the event's
    columns as carried): the time and id field values of the row's log type, and its digests —
    a list with one ``{u, xv, ov}`` per matched unit (its index, its texts, its output fields as
    JSON text); the tail orders them by unit. Each unit's values are computed only on the rows
    it matched."""

    def per_type(value: Callable[[str, TypeDigest], str]) -> str:
        ifs = " ".join(f"WHEN {lt_is(lt).sql('duckdb')} THEN {value(lt, plan)}" for lt, plan in digests.items())
        return f"CASE {ifs} ELSE NULL END"

    def matched(plan: TypeDigest, places: Sequence[tuple[int, int]]) -> str | None:
        """The digests of the units at ``places`` ((place in the row's list, in the dense one))."""
        items = []
        for j, position in places:
            d = plan.units.get(position)
            if d is None:
                continue
            texts = _list(d.texts).sql("duckdb")
            output = "NULL" if d.outputs is None else d.outputs.sql("duckdb")
            items.append((j, f"CASE WHEN h[{j}] = 1 THEN {{'u': CAST({d.unit.index} AS INTEGER), "
                             f"'xv': {texts}, 'ov': CAST({output} AS VARCHAR)}} END"))
        if not items:
            return None
        blocks = [items[k:k + DIGEST_BLOCK] for k in range(0, len(items), DIGEST_BLOCK)]
        if len(blocks) == 1:
            return _matched(item for _, item in items)
        # A block's list is built only on the rows one of its units matched: most rows match
        # few units, and a list of every unit's digest (mostly NULL) costs per unit and row.
        return "list_concat(" + ", ".join(
            f"CASE WHEN {' OR '.join(f'h[{p}] = 1' for p, _ in block)} THEN {_matched(i for _, i in block)} END"
            for block in blocks) + ")"

    def outs(lt: str, plan: TypeDigest) -> str:
        layout = layouts[lt]
        shared = matched(plan, list(enumerate(layout.shared, 1)))
        if not layout.buckets:
            return shared or "NULL"
        # A bucket's own codes follow the shared ones: its digests are chosen by its number.
        start = len(layout.shared) + 1
        own = [f"WHEN {selects.sql('duckdb')} THEN {found}" for selects, places in layout.lists(decided=True)
               if (found := matched(plan, list(enumerate(places[start - 1:], start)))) is not None]
        chosen = f"CASE {' '.join(own)} END" if own else None
        listed = [x for x in (shared, chosen) if x is not None]
        return (listed[0] if len(listed) == 1 else f"list_concat({', '.join(listed)})") if listed else "NULL"

    return (per_type(lambda lt, plan: _list(plan.times).sql("duckdb")),
            per_type(lambda lt, plan: _list(plan.ids).sql("duckdb")),
            per_type(outs))

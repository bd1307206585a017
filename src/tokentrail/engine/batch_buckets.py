"""Per row of the typed query, the codes of only the units its anchor value can match.

Most units of a log type are anchored: each requires the anchor field (``eventType``) to equal
one of a few values. Where a row's anchor field is one text column (no list, no literal dotted
key, keys of one case), a row holds one value, so it can match only the units anchored on that
value and the unanchored ones. The query then first picks each row's bucket as a number
(``BUCKET_COLUMN``): the anchor value its field equals, "none" (it equals no anchor value) or
"unsure" (SQL cannot tell: every code -1, Python decides the row). The row's codes list holds
the codes every row of its log type has (unanchored units, lifted Python rules: ``shared``),
then its bucket's own units' codes: a sparse list. A log type whose anchor field may hold
several values keeps one list of every unit's code, in unit order (the dense list).

Whatever reads a code (which rows come back, the SQL digests) reads it at its place in the
row's list (``TypeLayout.lists``); where codes leave the query — rows handed to Python, a part's
codes for the merge — the dense list in the log type's unit order is rebuilt (``dense_sql``),
for those rows alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import sqlglot.expressions as sx

from tokentrail.compile.fields import split_field
from tokentrail.engine.plan import LogTypeIndex
from tokentrail.rules.ir import Cmp

BUCKET_COLUMN = "__tt_b"
_TINYINT_LIST = "TINYINT[]"


@dataclass(frozen=True, slots=True)
class Bucket:
    """One kind of row of a bucketed log type: its number, and the places (1-based, in the log
    type's unit list) of the codes that follow the shared ones in its rows' lists."""

    number: int
    own: tuple[int, ...]
    unsure: bool = False  # every code -1: SQL digests none of its rows


@dataclass(frozen=True, slots=True)
class TypeLayout:
    """Where each code of a log type's rows' lists belongs: ``shared`` codes first, then the
    row's bucket's; no ``buckets``: one dense list (``shared`` is then every place in order)."""

    log_type: str
    size: int  # units of the log type in the statement: the dense list's length
    shared: tuple[int, ...]
    buckets: tuple[Bucket, ...] = ()

    def lists(self, decided: bool = False) -> list[tuple[sx.Expression, tuple[int, ...]]]:
        """Per kind of row (``decided``: but the unsure), a condition selecting its rows (over
        the query's ``lt`` and bucket columns) and the place in the dense list of each code of
        their lists."""
        if not self.buckets:
            return [(lt_is(self.log_type), self.shared)]
        return [(_bucket_is(b.number), self.shared + b.own) for b in self.buckets if not (decided and b.unsure)]


def lt_is(name: str) -> sx.Expression:
    """The query row is of log type ``name``."""
    return sx.EQ(this=sx.column("lt"), expression=sx.Literal.string(name))


def _bucket_is(number: int) -> sx.Expression:
    return sx.EQ(this=sx.column(BUCKET_COLUMN), expression=sx.Literal.number(number))


def dense_layouts(by_type: Mapping[str, Sequence[object]]) -> dict[str, TypeLayout]:
    """Every log type's codes as one dense list (the merging statement's, the JSON query's)."""
    return {lt: TypeLayout(lt, len(units), tuple(range(1, len(units) + 1))) for lt, units in by_type.items()}


def bucket_field(index: LogTypeIndex, schema: pa.Schema, dotted_keys: bool) -> str | None:
    """The anchor field whose value picks a row's bucket: the log type's one anchor field, when
    every row holds at most one value of it — a text column reached through structs, with no
    literal dotted key that could hold it too and exact-case keys; else None."""
    if index.ci or dotted_keys or len(index.anchored) != 1:
        return None
    (field,) = index.anchored
    parts = split_field(field)
    if "{" in field or not parts or parts[0] not in schema.names:
        return None
    kind = schema.field(parts[0]).type
    for part in parts[1:]:
        if not pa.types.is_struct(kind) or kind.get_field_index(part) < 0:
            return None
        kind = kind.field(part).type
    return field if pa.types.is_string(kind) or pa.types.is_large_string(kind) else None


@dataclass(frozen=True, slots=True)
class BucketedCodes:
    """A bucketed log type's part of the query: its layout, its rows' codes list and the
    expression of their bucket number."""

    layout: TypeLayout
    codes: sx.Expression
    bucket: sx.Expression


def bucketed_codes(log_type: str, units: Sequence[object], field: str, anchors: Mapping[int, Sequence[str]],
                   condition: Callable[[Cmp], sx.Expression],
                   code: Callable[[object, sx.Expression | None], sx.Expression],
                   numbers: Iterator[int]) -> BucketedCodes:
    """The sparse codes of ``units`` (a log type's, in list order) anchored on ``field``:
    ``anchors`` holds each anchored unit's values (by ``id``), ``condition`` compiles an anchor
    comparison as a column every row has, ``code(unit, guard)`` is a unit's code where its
    anchor holds (None: an unanchored unit, on every row; else the condition its bucket is
    picked by), ``numbers`` hands out the statement's bucket numbers."""
    shared = tuple(p for p, u in enumerate(units, 1) if id(u) not in anchors)
    by_value: dict[str, list[int]] = {}
    for p, u in enumerate(units, 1):
        for value in anchors.get(id(u), ()):
            by_value.setdefault(value, []).append(p)
    anchored = tuple(p for p in range(1, len(units) + 1) if p not in shared)
    buckets: list[Bucket] = []
    picks: list[sx.If] = []
    lists: list[sx.If] = []
    for value, places in by_value.items():
        held = condition(Cmp(field, "eq", (value,)))
        bucket = Bucket(next(numbers), tuple(places))
        buckets.append(bucket)
        picks.append(sx.If(this=held.copy(), true=sx.Literal.number(bucket.number)))
        lists.append(sx.If(this=_bucket_is(bucket.number),
                           true=_listed([code(units[p - 1], held) for p in places])))
    # Every row whose field equals no anchor value: no anchored unit can match it.
    none = Bucket(next(numbers), ())
    anywhere = condition(Cmp(field, "eq", tuple(sorted(by_value))))
    picks.append(sx.If(this=sx.not_(sx.paren(anywhere)), true=sx.Literal.number(none.number)))
    lists.append(sx.If(this=_bucket_is(none.number), true=_listed([])))
    # A row SQL is unsure of (a NULL comparison): its anchored units unsure, Python decides.
    unsure = Bucket(next(numbers), anchored, unsure=True)
    lists.append(sx.If(this=_bucket_is(unsure.number), true=_listed([sx.Literal.number(-1) for _ in anchored])))
    buckets += [none, unsure]
    own: sx.Expression = sx.Case(ifs=lists, default=sx.null())
    if shared:
        own = sx.Anonymous(this="list_concat", expressions=[
            _listed([code(units[p - 1], None) for p in shared]), own])
    layout = TypeLayout(log_type, len(units), shared, tuple(buckets))
    return BucketedCodes(layout, own, sx.Case(ifs=picks, default=sx.Literal.number(unsure.number)))


def _listed(codes: Sequence[sx.Expression]) -> sx.Expression:
    listed = sx.Array(expressions=list(codes))
    return listed if codes else sx.Cast(this=listed, to=sx.DataType.build(_TINYINT_LIST, dialect="duckdb"))


def dense_sql(layouts: Mapping[str, TypeLayout], codes: str = "h") -> str:
    """SQL rebuilding each row's dense codes list (NULL for a log type without a list) from its
    list ``codes``: a code no place of the row's list holds is 0 (its unit's anchor does not
    hold). Only ``codes`` itself where every log type's list is dense."""
    if all(not layout.buckets for layout in layouts.values()):
        return codes
    branches = []
    for layout in layouts.values():
        whole = tuple(range(1, layout.size + 1))
        for selects, places in layout.lists():
            if places == whole:
                branches.append(f"WHEN {selects.sql('duckdb')} THEN {codes}")
                continue
            at = {p: j for j, p in enumerate(places, 1)}
            zero = len(places) + 1  # the 0 appended to the list
            picked = ", ".join(str(at.get(p, zero)) for p in whole)
            branches.append(f"WHEN {selects.sql('duckdb')} THEN "
                            f"list_select(list_append({codes}, CAST(0 AS TINYINT)), [{picked}])")
    return f"CASE {' '.join(branches)} ELSE NULL END"


def zeros_sql(layouts: Mapping[str, TypeLayout]) -> str:
    """SQL giving each row the dense list of its log type with every code 0 (NULL for a log
    type without a list): a part's codes for a row none of them matched or was unsure of."""
    branches = " ".join(f"WHEN {lt_is(lt).sql('duckdb')} THEN list_resize(CAST([] AS {_TINYINT_LIST}), {layout.size}, 0)"
                        for lt, layout in layouts.items())
    return f"CASE {branches} ELSE NULL END" if branches else "NULL"


@dataclass(frozen=True, slots=True)
class TypedCodes:
    """A typed statement's codes: the SQL of each row's list, of its bucket number (None: no
    log type is bucketed) and each log type's layout."""

    sql: str
    bucket: str | None
    layouts: dict[str, TypeLayout]


def bucket_sql(picks: Mapping[str, sx.Expression]) -> str | None:
    """The bucket number of each row of a bucketed log type (``picks``: each one's choice over
    its anchor columns), NULL for other rows; None when no log type is bucketed."""
    if not picks:
        return None
    ifs = [sx.If(this=sx.EQ(this=sx.column("__tt_lt"), expression=sx.Literal.string(lt)), true=pick)
           for lt, pick in picks.items()]
    return sx.Case(ifs=ifs, default=sx.null()).sql("duckdb")

"""IR -> SQL over typed columns (a Parquet file's or an Arrow table's schema), not JSON text.

The three-valued compiler of ``compile/sql.py`` asks a field table four things about a path:
its JSON type, its text, its text lower-cased, and (for arrays of objects) its JSON. Over JSON
text those are JSON functions per event; here the schema answers most of it before a row is
read — a path the schema lacks is missing in every row, a ``VARCHAR`` column's type is
``VARCHAR`` wherever it is not NULL — and the rest reads the column itself. A NULL cell is a
missing field, as the batch engine reads Parquet (a row holds every column of its file).

Types outside JSON's (timestamps, decimals, binary, maps) answer a type name the compiler
decides nothing on, so such a field is left to Python, which reads the row as the engine
always has (its value as text).
"""

from __future__ import annotations

import re

import pyarrow as pa
import sqlglot.expressions as sx

from tokentrail.compile.sql import DOTTED, FieldTable, LeafTable, compile_sql
from tokentrail.rules.ir import Expr

_PATH_KEY = re.compile(r'\."([^"]*)"')
OTHER = "OTHER"  # the type name of a column JSON has no type for: the compiler decides nothing on it


def _kind(arrow: pa.DataType) -> str:
    """The JSON type name DuckDB's ``json_type`` gives a value of this Arrow type."""
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "VARCHAR"
    if pa.types.is_boolean(arrow):
        return "BOOLEAN"
    if pa.types.is_struct(arrow):
        return "OBJECT"
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return "ARRAY"
    if pa.types.is_uint64(arrow):
        return "UBIGINT"
    if pa.types.is_integer(arrow):
        return "BIGINT"
    if pa.types.is_floating(arrow):
        return "DOUBLE"
    return OTHER


def _names(arrow: pa.DataType) -> list[str]:
    """Every key name at any depth of a type (struct fields, inside lists too)."""
    if pa.types.is_struct(arrow):
        out = []
        for i in range(arrow.num_fields):
            out.append(arrow.field(i).name)
            out.extend(_names(arrow.field(i).type))
        return out
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return _names(arrow.value_type)
    return []


class TypedFieldTable(FieldTable):
    """The field table of ``compile/sql.py`` answered from a schema and typed columns.

    With ``lowered_prefix``, each text a case-insensitive test reads is lower-cased once per row,
    as a column of that name and a number (``lowered_columns``, selected before the comparisons):
    DuckDB lifts no common subexpression out of a ``CASE``, so the ~190 anchor tests of a large
    rule set would each lower-case ``eventType`` again. So is each field's IPv4 address (as a
    number) that CIDR tests read. Without it, each test computes its own.
    """

    def __init__(self, schema: pa.Schema, *, lowered_prefix: str | None = None) -> None:
        super().__init__()
        self.schema = schema
        names = [f.name for f in schema] + [n for f in schema for n in _names(f.type)]
        self.has_dotted_keys = any("." in n for n in names)
        self.lowered_prefix = lowered_prefix
        self.used: set[str] = set()  # the top-level columns the compiled SQL reads (a file's projection)
        self._lowered: dict[tuple[str, str], tuple[str, sx.Expression]] = {}  # by (path, what): (column, value)

    def _resolve(self, path: str) -> tuple[sx.Expression, pa.DataType] | None:
        """The column expression and type at ``path`` (``$."a"."b"``), None where the schema has
        no such field by plain objects."""
        parts = _PATH_KEY.findall(path)
        if not parts:
            return None
        head = self.schema.field(parts[0]) if parts[0] in self.schema.names else None
        if head is None:
            return None
        self.used.add(parts[0])
        expr: sx.Expression = sx.column(parts[0], quoted=True)
        kind = head.type
        for key in parts[1:]:
            if not pa.types.is_struct(kind) or kind.get_field_index(key) < 0:
                return None
            kind = kind.field(key).type
            expr = sx.Anonymous(this="struct_extract", expressions=[expr, sx.Literal.string(key)])
        return expr, kind

    def type_of(self, path: str) -> sx.Expression:
        found = self._resolve(path)
        if found is None or pa.types.is_null(found[1]):
            return sx.null()
        expr, kind = found
        return sx.Case(ifs=[sx.If(this=sx.Not(this=sx.Is(this=expr, expression=sx.null())),
                                  true=sx.Literal.string(_kind(kind)))], default=sx.null())

    def text_of(self, path: str) -> sx.Expression:
        found = self._resolve(path)
        if found is None:
            return sx.null()
        expr, kind = found
        name = _kind(kind)
        if name == "VARCHAR":
            return expr
        if name == "BOOLEAN":
            # json_extract_string writes JSON's true/false.
            return sx.Case(ifs=[sx.If(this=expr, true=sx.Literal.string("true"))], default=sx.Literal.string("false"))
        return sx.null()  # numbers and the rest: the compiler reads no text of them

    def lowered_of(self, path: str) -> sx.Expression:
        text = self.text_of(path)
        if isinstance(text, sx.Null):
            return sx.null()
        ascii_only = sx.EQ(this=sx.Anonymous(this="strlen", expressions=[text]),
                           expression=sx.Anonymous(this="length", expressions=[text.copy()]))
        lowered = sx.Case(ifs=[sx.If(this=ascii_only, true=sx.Lower(this=text.copy()))], default=sx.null())
        return self.derived_of(path, "lower", lowered)

    def derived_of(self, path: str, what: str, expr: sx.Expression) -> sx.Expression:
        if self.lowered_prefix is None or self._resolve(path) is None:
            return expr  # a field the schema lacks: its tests fold away, no column for them
        key = (path, what)
        found = self._lowered.get(key)
        if found is None:
            found = self._lowered[key] = (f"{self.lowered_prefix}{len(self._lowered)}", expr)
        return sx.column(found[0])

    def lowered_columns(self) -> list[sx.Expression]:
        """The shared values (``lowered_prefix``): lower-cased texts, IPv4 addresses as numbers;
        to select where the event's columns are in scope and before the comparisons that read them."""
        return [sx.alias_(expr, name) for name, expr in self._lowered.values()]

    def objects_key(self, path: str, key: str) -> tuple[sx.Expression, sx.Expression] | None:
        """A list of structs whose ``key`` is a text field: every element is an object holding
        a string there when no element and no element's ``key`` is NULL (as JSON: ``null``),
        and the strings are the elements' fields; no JSON text is written. None for any other
        type: the JSON route then decides from the values."""
        found = self._resolve(path)
        if found is None or _kind(found[1]) != "ARRAY" or not pa.types.is_struct(found[1].value_type):
            return None
        items = found[1].value_type
        if items.get_field_index(key) < 0 or _kind(items.field(key).type) != "VARCHAR":
            return None
        expr, e = found[0], sx.column("e")
        leaf = sx.Anonymous(this="struct_extract", expressions=[e.copy(), sx.Literal.string(key)])
        held = sx.and_(sx.not_(sx.Is(this=e.copy(), expression=sx.null())),
                       sx.not_(sx.Is(this=leaf.copy(), expression=sx.null())))
        every = sx.Coalesce(this=sx.Anonymous(this="list_bool_and", expressions=[sx.Anonymous(
            this="list_transform", expressions=[expr, sx.Lambda(this=held, expressions=[sx.to_identifier("e")])])]),
            expressions=[sx.true()])
        texts = sx.Anonymous(this="list_transform", expressions=[
            expr.copy(), sx.Lambda(this=leaf, expressions=[sx.to_identifier("e")])])
        return every, texts

    def array_of(self, path: str) -> sx.Expression:
        found = self._resolve(path)
        if found is None or _kind(found[1]) != "ARRAY":
            # Read only where the path's type is ARRAY; a typed empty array keeps the JSON
            # functions over it bindable (a bare NULL is folded into a scalar, and fails).
            return sx.Cast(this=sx.Literal.string("[]"), to=sx.DataType.build("JSON"))
        return sx.Anonymous(this="to_json", expressions=[found[0]])


def compile_typed(expr: Expr, fields: TypedFieldTable, *, ci_fields: bool = False,
                  leaves: LeafTable | None = None) -> sx.Expression:
    """``compile_sql`` over typed columns: the same TRUE/FALSE/NULL contract, with the schema's
    answer to "may a key hold a dot" in place of the per-event test."""
    condition = compile_sql(expr, fields, ci_fields=ci_fields, leaves=leaves)
    return with_dotted(condition, fields.has_dotted_keys)


def with_dotted(condition: sx.Expression, dotted: bool, *, copy: bool = True) -> sx.Expression:
    """``condition`` with the compiler's "may a key hold a dot" column replaced by the schema's
    answer (in place when not ``copy``)."""
    constant = sx.true() if dotted else sx.false()
    # The compiler's own column is unquoted; an event's field of that name is a quoted one.
    return condition.transform(lambda node: constant.copy() if isinstance(node, sx.Column) and not node.table
                               and node.name == DOTTED and not node.this.quoted else node, copy=copy)

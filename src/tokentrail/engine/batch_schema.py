"""The schema a Parquet file is planned as, so that the files of one dataset share one plan.

A dataset written in parts (``tokentrail logs to-parquet`` writes files of 100k rows, each with
the schema inferred from its own rows) gives files whose schemas differ in ways no verdict
depends on: a struct's fields in another order, a key none of a file's rows hold (absent, or a
column of nulls). The typed statements depend only on which fields exist and their types, and a
NULL cell is a missing field (``compile/sql_typed.py``): so a file can be matched by the plan of
a schema that covers its own — each of its fields, with the same type — once it is read with the
fields it lacks added as NULL (``padded``). Planning a statement costs about a second of CPU per
schema with the bundled pack; a dataset of ten files then costs one.

The fields a file has keep their order when padded: rows read whole become events with the
file's own key order, as before (the order decides which of two keys that differ only in case a
case-insensitive lookup finds).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc


def merged_type(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type covering both ``a`` and ``b`` (structs: the fields of both, ``a``'s first;
    lists: their items' type merged; a null type: the other), or None when they disagree."""
    if a == b:
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        fields = merged_fields(list(a), list(b))
        return None if fields is None else pa.struct(fields)
    for is_list, make in ((pa.types.is_list, pa.list_), (pa.types.is_large_list, pa.large_list)):
        if is_list(a) and is_list(b):
            item = merged_type(a.value_type, b.value_type)
            return None if item is None else make(item)
    return None


def merged_fields(a: Sequence[pa.Field], b: Sequence[pa.Field]) -> list[pa.Field] | None:
    """The fields of ``a`` and then those only ``b`` has, each of a type covering both sides;
    None when a field's types disagree, either side repeats a name, or the merge would hold two
    names that differ only in case (DuckDB binds names regardless of case: a file's ``Actor``
    would be read where the plan reads another file's ``actor``)."""
    names_a = [f.name for f in a]
    theirs = {f.name: f for f in b}
    if len(set(names_a)) != len(a) or len(theirs) != len(b):
        return None
    out = []
    for field in a:
        other = theirs.get(field.name)
        kind = field.type if other is None else merged_type(field.type, other.type)
        if kind is None:
            return None
        out.append(pa.field(field.name, kind))
    ours = set(names_a)
    out.extend(pa.field(f.name, f.type) for f in b if f.name not in ours)
    if len({f.name.casefold() for f in out}) != len(out):
        return None
    return out


def dataset_schemas(schemas: Iterable[pa.Schema]) -> list[pa.Schema]:
    """For each schema of a scan's Parquet files, in order, the schema it is planned as: the
    merge of every schema it merges with, taken greedily in input order (a file whose fields
    disagree with one group's types starts or joins another)."""
    groups: list[list[pa.Field]] = []
    member: list[int] = []
    for schema in schemas:
        for k, fields in enumerate(groups):
            found = merged_fields(fields, list(schema))
            if found is not None:
                groups[k] = found
                member.append(k)
                break
        else:
            groups.append(list(schema))
            member.append(len(groups) - 1)
    planned = [pa.schema(fields) for fields in groups]
    return [planned[k] for k in member]


def padded_type(own: pa.DataType, target: pa.DataType) -> pa.DataType:
    """``own`` (covered by ``target``) with ``target``'s fields it lacks appended at every depth,
    and its null-typed fields given ``target``'s type: its own fields stay in their order."""
    if pa.types.is_struct(own) and pa.types.is_struct(target):
        names = {f.name for f in own}
        fields = [pa.field(f.name, padded_type(f.type, target.field(f.name).type)) for f in own]
        fields.extend(pa.field(f.name, f.type) for f in target if f.name not in names)
        return pa.struct(fields)
    if pa.types.is_list(own) and pa.types.is_list(target):
        return pa.list_(padded_type(own.value_type, target.value_type))
    if pa.types.is_large_list(own) and pa.types.is_large_list(target):
        return pa.large_list(padded_type(own.value_type, target.value_type))
    return target


def padded(table: pa.Table, target: pa.Schema) -> pa.Table:
    """``table`` (read from a file whose schema ``target`` covers) in ``target``'s fields: its
    own columns first, in their order and padded (``padded_type``), then ``target``'s columns it
    lacks, all NULL. ``table`` itself when it has them all already."""
    names = set(table.column_names)
    fields = [pa.field(f.name, padded_type(f.type, target.field(f.name).type)) for f in table.schema]
    fields.extend(pa.field(f.name, f.type) for f in target if f.name not in names)
    if pa.schema(fields).equals(table.schema.remove_metadata()):
        return table
    columns = [pa.chunked_array([_padded_array(chunk, field.type) for chunk in column.chunks], field.type)
               for field, column in zip(fields, table.columns, strict=False)]
    columns.extend(pa.nulls(table.num_rows, field.type) for field in fields[table.num_columns:])
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _padded_array(array: pa.Array, kind: pa.DataType) -> pa.Array:
    """``array`` as ``kind`` (its ``padded_type``), children rebuilt, values not copied. Not
    Arrow's cast: it gives an added field of a struct inside a list the list's length."""
    if array.type == kind:
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), kind)
    mask = array.is_null() if array.null_count else None
    if pa.types.is_struct(kind):
        own = {array.type.field(i).name: i for i in range(array.type.num_fields)}
        children = [_padded_array(array.field(own[f.name]), f.type) if f.name in own else pa.nulls(len(array), f.type)
                    for f in kind]
        return pa.StructArray.from_arrays(children, fields=list(kind), mask=mask)
    make = pa.LargeListArray if pa.types.is_large_list(kind) else pa.ListArray
    offsets, values = array.offsets, array.values
    if array.offset:  # a slice: Arrow takes a mask only with offsets from 0 over the values it spans
        start = offsets[0].as_py()
        values = values.slice(start, offsets[-1].as_py() - start)
        offsets = pc.subtract(offsets, pa.scalar(start, offsets.type))
    return make.from_arrays(offsets, _padded_array(values, kind.value_type), type=kind, mask=mask)


def padded_sql(expr: str, own: pa.DataType, target: pa.DataType, depth: int = 0) -> str:
    """``expr`` (a DuckDB value of ``own``) as ``padded_type(own, target)``, in SQL: the value
    ``_padded_array`` gives, for a statement that reads the file itself."""
    if own == target:
        return expr
    if pa.types.is_null(own):
        return f"CAST(NULL AS {duckdb_type(target)})"
    if pa.types.is_struct(own) and pa.types.is_struct(target):
        names = {f.name for f in own}
        items = [f"{quoted(f.name)} := " + padded_sql(f"struct_extract({expr}, {_literal(f.name)})", f.type,
                                                      target.field(f.name).type, depth)
                 for f in own]
        items.extend(f"{quoted(f.name)} := CAST(NULL AS {duckdb_type(f.type)})" for f in target if f.name not in names)
        return f"CASE WHEN {expr} IS NULL THEN NULL ELSE struct_pack({', '.join(items)}) END"
    item = f"__tt_p{depth}"
    return f"list_transform({expr}, {item} -> {padded_sql(item, own.value_type, target.value_type, depth + 1)})"


_DUCKDB_SCALARS = {pa.string(): "VARCHAR", pa.bool_(): "BOOLEAN", pa.int8(): "TINYINT", pa.int16(): "SMALLINT",
                   pa.int32(): "INTEGER", pa.int64(): "BIGINT", pa.uint8(): "UTINYINT", pa.uint16(): "USMALLINT",
                   pa.uint32(): "UINTEGER", pa.uint64(): "UBIGINT", pa.float32(): "FLOAT", pa.float64(): "DOUBLE",
                   pa.null(): '"NULL"'}


def duckdb_type(kind: pa.DataType) -> str:
    """DuckDB's name of the type it reads an Arrow column of ``kind`` as (text, numbers,
    booleans, NULL, and structs and lists of those)."""
    if pa.types.is_struct(kind):
        return "STRUCT(" + ", ".join(f"{quoted(f.name)} {duckdb_type(f.type)}" for f in kind) + ")"
    if pa.types.is_list(kind):
        return duckdb_type(kind.value_type) + "[]"
    return _DUCKDB_SCALARS[kind]


def quoted(name: str) -> str:
    """A column or field name as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def names_clash(kind: pa.Schema | pa.DataType) -> bool:
    """Whether two sibling names anywhere in ``kind`` (columns, a struct's fields, at any depth,
    through lists and maps) differ only in case: DuckDB and Spark (case-insensitive by default)
    cannot read such a file's names apart."""
    if isinstance(kind, pa.Schema) or pa.types.is_struct(kind):
        fields = list(kind)
        lowered = [f.name.lower() for f in fields]
        return len(set(lowered)) < len(lowered) or any(names_clash(f.type) for f in fields)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return names_clash(kind.value_type)
    if pa.types.is_map(kind):
        return names_clash(kind.key_type) or names_clash(kind.item_type)
    return False

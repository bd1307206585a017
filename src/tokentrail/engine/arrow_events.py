"""Arrow rows as events: what a Parquet row is to the rules, as the JSON readers would give it.

A NULL cell is a missing field (Parquet gives every row every column), at every depth, and a
value of a type JSON lacks (timestamps, decimals, bytes, floats that may be NaN) is made as it
would come back through JSON. The batch engine's driver read, its routing of matched rows and
the Spark executors' Parquet read all turn rows into events here.
"""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc


def events_of(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of ``table`` as events: NULL cells left out, at every depth; values of types
    JSON lacks (timestamps, decimals, bytes) as their text, as through JSON."""
    events: list[dict[str, Any]] = [{} for _ in range(table.num_rows)]
    for name, column in zip(table.column_names, table.columns, strict=True):
        nested = is_nested(column.type)
        plain = json_native(column.type)
        for event, value in zip(events, column.to_pylist(), strict=True):
            if value is None:
                continue
            if nested:
                value = _present(value)
            if not plain:
                value = orjson.loads(orjson.dumps(value, default=str))
            event[name] = value
    return events


def add_leaves(events: list[dict[str, Any]], table: pa.Table, leaves: list[tuple[str, ...]]) -> None:
    """Put each leaf (a path through objects to a value) of ``table``'s rows into ``events``,
    building the objects on the way; a NULL leaf is a missing field."""
    for parts in leaves:
        column = table.column(parts[0])
        for part in parts[1:]:
            column = pc.struct_field(column, [column.type.get_field_index(part)])
        plain = json_native(column.type)
        for event, value in zip(events, column.to_pylist(), strict=True):
            if value is None:
                continue
            if not plain:
                value = orjson.loads(orjson.dumps(value, default=str))
            node = event
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value


def is_nested(kind: pa.DataType) -> bool:
    """Whether values of this type hold other values (structs, lists, maps)."""
    return pa.types.is_struct(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_map(kind)


def json_native(kind: pa.DataType) -> bool:
    """Values of this type come out of Arrow as JSON would give them (text, integers, booleans,
    and structs and lists of those)."""
    if pa.types.is_struct(kind):
        return all(json_native(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return json_native(kind.value_type)
    # Not floats: a NaN or an infinity is no JSON number, and through JSON it becomes null.
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind)
            or pa.types.is_integer(kind) or pa.types.is_null(kind))


def _present(value: Any) -> Any:
    """``value`` with every key holding None left out, at every depth."""
    if isinstance(value, dict):
        return {k: _present(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_present(v) for v in value]
    return value

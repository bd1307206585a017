"""Field names per target, from the log types' data files and ``convert/data/targets.yml``.

Sigma documents are written with native names; each SIEM target renames them on the way through
its pySigma backend (``pipelines``): Splunk keeps native paths with arrays in ``{}`` notation,
Elastic targets read ECS names (the family's native->ECS table in ``schemas/data/ecs``), Kusto
reads the columns of the vendor's Microsoft Sentinel table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from tokentrail.rules.ir import All, Any, Cmp, Expr, Not
from tokentrail.schemas import field_for, registry

DATA = Path(__file__).resolve().parent / "data" / "targets.yml"


@dataclass(frozen=True)
class Names:
    """Target names for native fields, and fields the target has no name for (with why)."""

    mapping: Mapping[str, str]
    missing: tuple[str, ...] = ()
    table: str | None = None


@cache
def _data() -> Mapping:
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


def array_fields(family: str) -> tuple[str, ...]:
    """Native fields of ``family`` that hold JSON arrays."""
    return tuple(_data()["splunk"]["arrays"].get(family) or ())


def bare(field: str) -> str:
    """A field without Splunk's ``{}`` array marks."""
    return field.replace("{}", "")


def _array_prefix(field: str, family: str) -> str | None:
    plain = bare(field)
    for array in array_fields(family):
        if plain == array or plain.startswith(array + "."):
            return array
    if "{}" in field:
        return field[: field.index("{}")]
    return None


def splunk_names(fields: Iterable[str], family: str) -> Names:
    """Native paths with each array written ``name{}`` (``target{}.alternateId``)."""
    out: dict[str, str] = {}
    for name in fields:
        array = _array_prefix(name, family)
        if array is None or "{}" in name:
            out[name] = name
            continue
        plain = bare(name)
        out[name] = array + "{}" + plain[len(array):]
    return Names(out)


def ecs_names(fields: Iterable[str], family: str) -> Names:
    """ECS names of native fields (a field the family's table does not rename keeps its name)."""
    ecs = registry().ecs_of(family)
    if ecs is None:
        return Names({f: bare(f) for f in fields})
    return Names({f: field_for(ecs.name, bare(f), "native") for f in fields})


def sentinel_names(fields: Iterable[str], family: str, kinds: Mapping[str, str]) -> Names:
    """Columns of the family's Sentinel table (``kinds``: field -> string, number or boolean)."""
    data = _data()["sentinel"]
    table = (data["tables"] or {}).get(family)
    if table is None:
        return Names({f: f for f in fields})
    suffixes = data["suffix"]
    out: dict[str, str] = {}
    missing: list[str] = []
    for name in fields:
        array = _array_prefix(name, family)
        if array is not None:
            missing.append(f"{bare(name)} lies in the array {array}, which {table} stores as JSON text "
                           f"(column {array.replace('.', '_')}{suffixes['string']}): no column holds "
                           "its values")
            continue
        out[name] = bare(name).replace(".", "_") + suffixes[kinds.get(name, "string")]
    return Names(out, tuple(missing), table)


def value_kinds(exprs: Iterable[Expr]) -> dict[str, str]:
    """For each compared field, the kind of its values (number or boolean when all are)."""
    seen: dict[str, set[str]] = {}
    stack = list(exprs)
    while stack:
        node = stack.pop()
        if isinstance(node, All | Any):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.item)
        elif isinstance(node, Cmp):
            kinds = seen.setdefault(node.field, set())
            for v in node.values:
                if isinstance(v, bool):
                    kinds.add("boolean")
                elif isinstance(v, int | float):
                    kinds.add("number")
                elif v is not None:
                    kinds.add("string")
    return {f: next(iter(k)) if len(k) == 1 else "string" for f, k in seen.items()}

"""Tidy a lowered IR tree without changing what it matches.

pySigma yields one comparison per value; engines and indexes work better with one ``Cmp`` per
field and operator holding all its values, and with flat ``All``/``Any`` nodes.
"""

from __future__ import annotations

from tokentrail.rules.ir import All, Cmp, Expr, Keywords, Not
from tokentrail.rules.ir import Any as AnyOf


def simplify(expr: Expr) -> Expr:
    """Flatten nested and/or, drop double negation, merge same-field comparisons."""
    match expr:
        case All(items):
            merged = _merge(_flatten(All, [simplify(i) for i in items]), all_values=True)
            return merged[0] if len(merged) == 1 else All(tuple(merged))
        case AnyOf(items):
            merged = _merge(_flatten(AnyOf, [simplify(i) for i in items]), all_values=False)
            return merged[0] if len(merged) == 1 else AnyOf(tuple(merged))
        case Not(item):
            inner = simplify(item)
            return inner.item if isinstance(inner, Not) else Not(inner)
    return expr


def _flatten(kind: type, items: list[Expr]) -> list[Expr]:
    out: list[Expr] = []
    for item in items:
        if isinstance(item, kind):
            out.extend(item.items)  # type: ignore[attr-defined]
        else:
            out.append(item)
    return out


def _merge(items: list[Expr], *, all_values: bool) -> list[Expr]:
    """Merge comparisons that differ only in their values.

    Under ``Any`` this is "any of the values"; under ``All`` it is "all of the values", which
    the IR states with ``all_values`` (each value matched on its own, as separate ``Cmp`` would).
    """
    # Gather each key's comparisons first and join them once: joining pairwise re-scans the
    # growing value tuple every time, which is quadratic in a selection of thousands of values.
    out: list[Expr | list[Cmp | Keywords]] = []
    slots: dict[tuple, list[Cmp | Keywords]] = {}
    for item in items:
        key = _merge_key(item, all_values)
        if key is None:
            out.append(item)
        elif key in slots:
            slots[key].append(item)  # type: ignore[arg-type]
        else:
            slots[key] = group = [item]  # type: ignore[list-item]
            out.append(group)
    return [_join(entry, all_values) if isinstance(entry, list) else entry for entry in out]


def _merge_key(item: Expr, all_values: bool) -> tuple | None:
    if isinstance(item, Cmp):
        if all_values and (None in item.values or (len(item.values) > 1 and not item.all_values)):
            return None
        if not all_values and item.all_values and len(item.values) > 1:
            return None
        return ("cmp", item.field, item.op, item.cased)
    if isinstance(item, Keywords):
        if all_values and len(item.values) > 1 and not item.all_values:
            return None
        if not all_values and item.all_values and len(item.values) > 1:
            return None
        return ("kw", item.op, item.cased)
    return None


def _join(group: list[Cmp | Keywords], all_values: bool) -> Cmp | Keywords:
    first = group[0]
    if len(group) == 1:
        return first
    values = _unique(tuple(v for item in group for v in item.values))
    if isinstance(first, Cmp):
        return Cmp(first.field, first.op, values, cased=first.cased,
                   all_values=all_values and len(values) > 1)
    return Keywords(values, op=first.op, cased=first.cased,  # type: ignore[arg-type]
                    all_values=all_values and len(values) > 1)


def _unique(values: tuple) -> tuple:
    """Values without repeats, in order; ``True`` and ``1`` stay distinct."""
    seen: set[tuple[type, object]] = set()
    out = []
    for v in values:
        key = (type(v), v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return tuple(out)

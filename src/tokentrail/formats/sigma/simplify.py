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
    out: list[Expr] = []
    slots: dict[tuple, int] = {}
    for item in items:
        key = _merge_key(item, all_values)
        if key is None:
            out.append(item)
            continue
        if key in slots:
            pos = slots[key]
            out[pos] = _join(out[pos], item, all_values)  # type: ignore[arg-type]
        else:
            slots[key] = len(out)
            out.append(item)
    return out


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


def _join(a: Cmp | Keywords, b: Cmp | Keywords, all_values: bool) -> Cmp | Keywords:
    values = _unique((*a.values, *b.values))
    if isinstance(a, Cmp):
        return Cmp(a.field, a.op, values, cased=a.cased, all_values=all_values and len(values) > 1)
    return Keywords(values, op=a.op, cased=a.cased, all_values=all_values and len(values) > 1)  # type: ignore[arg-type]


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

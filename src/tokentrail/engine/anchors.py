"""Anchors: a (field, values) pair that an event must satisfy for a rule to possibly match.

The streaming engine indexes rules by anchor so an event meets only rules that could match it.
An anchor is taken only where it is provably required: an ``eq`` comparison (not ``all``, no
null) reached from the root through ``All`` nodes, or the same field anchored in every branch
of an ``Any``.
"""

from __future__ import annotations

from tokentrail.rules.ir import All, Cmp, Expr
from tokentrail.rules.ir import Any as AnyOf
from tokentrail.schemas.specialize import fold_constants

Anchor = tuple[str, frozenset[str]]


def anchor_candidates(expr: Expr) -> list[Anchor]:
    """Every anchor the expression requires (values lower-cased, as the index stores them)."""
    match expr:
        case Cmp(field=f, op="eq", values=values, all_values=False) if values and all(
            isinstance(v, str) for v in values
        ):
            # Numbers are left out: 5 equals "5.0" numerically, which a text index would miss.
            return [(f, frozenset(v.lower() for v in values))]
        case All(items):
            return [a for item in items for a in anchor_candidates(item)]
        case AnyOf(items) if items:
            per_branch = [dict(anchor_candidates(item)) for item in items]
            common = set(per_branch[0]).intersection(*per_branch[1:])
            return [(f, frozenset().union(*(b[f] for b in per_branch))) for f in sorted(common)]
        case _:
            return []


def choose_anchor(expr: Expr, preferred: str | None) -> Anchor | None:
    """The anchor to index a rule by.

    With a log type that names its event-type field (``preferred``), only that field anchors:
    an index on a second field costs a field read per event, more than the rule it would skip
    costs in the shared unanchored batch. Without one, the most selective required field.
    """
    candidates = anchor_candidates(expr)
    if preferred is not None:
        return next(((f, v) for f, v in candidates if f == preferred), None)
    if not candidates:
        return None
    return min(candidates, key=lambda a: (len(a[1]), a[0]))


def strip_anchor(expr: Expr, anchor: Anchor) -> Expr:
    """``expr`` without the comparison the anchor index already decided.

    A unit is only ever found through its anchor bucket, so a case-insensitive ``eq`` on exactly
    the anchor's field and values is known true when the unit runs; dropping it saves a field read
    and a comparison per candidate event.
    """
    field, values = anchor

    def is_anchor(node: Expr) -> bool:
        return (isinstance(node, Cmp) and node.field == field and node.op == "eq" and not node.cased
                and not node.all_values and all(isinstance(v, str) for v in node.values)
                and frozenset(v.lower() for v in node.values) == values)

    if is_anchor(expr):
        return All(())
    if isinstance(expr, All):
        for i, item in enumerate(expr.items):
            if is_anchor(item):
                rest = expr.items[:i] + expr.items[i + 1:]
                return rest[0] if len(rest) == 1 else All(rest)
    return expr


# Comparisons that give the same answer on a string and on its lower-cased form: the index keys
# buckets by lower-cased value, so only these may be settled for a whole bucket. They lower-case
# both sides, and lower-casing twice changes nothing. A case-insensitive glob instead runs RE2's
# (?i) on the raw string, which differs from lower() for one letter (U+0130, whose lower form is
# two characters), so it is settled only for ASCII values.
_CASE_BLIND_OPS = frozenset(["eq", "contains", "startswith", "endswith", "cidr"])


def _case_blind(cmp: Cmp) -> bool:
    return cmp.op in _CASE_BLIND_OPS and not cmp.cased


def _case_blind_ascii(cmp: Cmp) -> bool:
    return (cmp.op in _CASE_BLIND_OPS or cmp.op == "glob") and not cmp.cased


def assume_anchor_value(expr: Expr, field: str, value: str) -> Expr:
    """``expr`` for events whose ``field`` is the one string ``value`` (lower-cased): the
    case-insensitive comparisons on that field are decided now (``Const(False)`` when the
    expression cannot hold for such events)."""
    return fold_constants(expr, {field: value}, _case_blind_ascii if value.isascii() else _case_blind)

"""Panther match expressions lowered to the detection IR.

A match expression names an event key (``Key`` for a top-level key, ``KeyPath`` for a dotted
path, ``DeepKey`` for a list of keys), a ``Condition`` and, for most conditions, a ``Value`` or a
list of ``Values``. Combinators group them: ``All``, ``Any``, ``OnlyOne`` (exactly one holds) and
``None`` (none holds). A simple detection's ``Detection:`` is a list of match expressions that
must all hold; ``InlineFilters`` (see ``filters``) use the same expressions.

Panther compares strings exactly, so every string comparison here is ``cased``. A malformed or
unknown expression is a ``RuleLoadError``; a documented form the IR cannot express (list
comprehensions, enrichment, key-to-key comparisons) is an ``UnsupportedFeature``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from tokentrail.errors import RuleLoadError, UnsupportedFeature
from tokentrail.rules.ir import Cmp, Expr, all_of, any_of, negate

_PRIVATE_NETS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
)
_ALL_NETS = ("0.0.0.0/0", "::/0")
_INDEX = re.compile(r"\[(\*|\d+)\]")
# Condition -> (IR op, negated).
_SCALAR_OPS = {
    "Equals": ("eq", False),
    "DoesNotEqual": ("eq", True),
    "Contains": ("contains", False),
    "DoesNotContain": ("contains", True),
    "StartsWith": ("startswith", False),
    "DoesNotStartWith": ("startswith", True),
    "EndsWith": ("endswith", False),
    "DoesNotEndWith": ("endswith", True),
    "IsGreaterThan": ("gt", False),
    "IsGreaterThanOrEquals": ("ge", False),
    "IsLessThan": ("lt", False),
    "IsLessThanOrEquals": ("le", False),
    "IsIPAddressInCIDR": ("cidr", False),
    "IsIPAddressNotInCIDR": ("cidr", True),
}
_LIST_OPS = {"IsIn": False, "IsNotIn": True}
_NO_VALUE = {"IsNull", "IsNotNull", "IsNullOrEmpty", "IsNotNullOrEmpty", "IsIPAddressPrivate",
             "IsIPAddressPublic"}
# Documented forms the IR cannot express: each element of a list tested as a whole, lookups.
_UNLOWERED_CONDITIONS = {"AnyElement", "AllElements", "OnlyOneElement", "NoElement"}
_UNLOWERED_KEYS = {"Expressions": "list comprehension match expressions",
                   "Enrichment": "enrichment match expressions",
                   "Absolute": "absolute match expressions"}
_KEY_SPECIFIERS = ("Key", "KeyPath", "DeepKey")
_MATCH_KEYS = {*_KEY_SPECIFIERS, "Condition", "Value", "Values"}
_COMBINATORS = ("All", "Any", "OnlyOne", "None")
# OnlyOne lowers to one branch per item, each naming every item: quadratic in its length.
MAX_ONLY_ONE = 8

Fail = Callable[[str], RuleLoadError]


def lower_simple_detection(spec: Any, *, file: str | None = None, line: int | None = None) -> Expr:
    """The IR for a simple detection's ``Detection`` list (every item must hold); raises
    ``RuleLoadError`` (or ``UnsupportedFeature``) at ``file``/``line`` when it cannot."""
    fail = failer("Detection", file, line)
    if not isinstance(spec, list) or not spec:
        raise fail("must be a non-empty list of match expressions")
    return all_of(*(lower_match(item, fail, file=file, line=line) for item in spec))


def lower_match(node: Any, fail: Fail, *, file: str | None = None, line: int | None = None) -> Expr:
    """One match expression or combinator as IR; ``fail`` builds the error for a malformed one."""
    if isinstance(node, Mapping) and len(node) == 1 and next(iter(node)) in _COMBINATORS:
        kind, items = next(iter(node.items()))
        if not isinstance(items, list) or not items:
            raise fail(f"{kind} must hold a non-empty list of match expressions")
        lowered = [lower_match(i, fail, file=file, line=line) for i in items]
        return _combine(kind, lowered, fail)
    if not isinstance(node, Mapping):
        raise fail(f"a match expression must be a mapping, not {type(node).__name__}")
    for key, what in _UNLOWERED_KEYS.items():
        if key in node:
            raise UnsupportedFeature(f"Panther {what}", file=file, line=line)
    unknown = sorted(str(k) for k in node if k not in _MATCH_KEYS)
    if unknown:
        raise fail(f"unknown key {unknown[0]!r} in a match expression")
    return _condition(node, _field(node, fail, file=file, line=line), fail, file=file, line=line)


def _combine(kind: str, items: list[Expr], fail: Fail) -> Expr:
    if kind == "All":
        return all_of(*items)
    if kind == "Any":
        return any_of(*items)
    if kind == "None":
        return negate(any_of(*items))
    if len(items) > MAX_ONLY_ONE:
        raise fail(f"OnlyOne with more than {MAX_ONLY_ONE} items is not lowered")
    # Exactly one holds: item i and not any other, for some i.
    return any_of(*(all_of(item, *(negate(o) for j, o in enumerate(items) if j != i))
                    for i, item in enumerate(items)))


def _condition(node: Mapping[str, Any], field: str, fail: Fail, *, file: str | None,
               line: int | None) -> Expr:
    condition = node.get("Condition")
    if condition in _SCALAR_OPS:
        op, negated = _SCALAR_OPS[condition]
        value = node.get("Value")
        if value is None or not _scalar(value) or "Values" in node:
            raise fail(f"{condition} needs one scalar Value")
        expr: Expr = Cmp(field, op, (value,), cased=True)  # type: ignore[arg-type]
        return negate(expr) if negated else expr
    if condition in _LIST_OPS:
        values = node.get("Values")
        if not isinstance(values, list) or not values or not all(_scalar(v) for v in values) \
                or "Value" in node:
            raise fail(f"{condition} needs a non-empty list of scalar Values")
        expr = Cmp(field, "eq", tuple(values), cased=True)
        return negate(expr) if _LIST_OPS[condition] else expr
    if condition in _NO_VALUE:
        if "Value" in node or "Values" in node:
            raise fail(f"{condition} takes no Value")
        return _no_value(condition, field)
    if condition in _UNLOWERED_CONDITIONS:
        raise UnsupportedFeature(f"Panther condition {condition}", file=file, line=line)
    if condition is None:
        raise fail("every match expression needs a Condition")
    raise fail(f"unknown Condition {condition!r}")


def _no_value(condition: str, field: str) -> Expr:
    null = Cmp(field, "eq", (None,))
    if condition in ("IsNull", "IsNotNull"):
        return null if condition == "IsNull" else negate(null)
    if condition in ("IsNullOrEmpty", "IsNotNullOrEmpty"):
        empty = any_of(null, Cmp(field, "eq", ("",), cased=True))
        return empty if condition == "IsNullOrEmpty" else negate(empty)
    private = Cmp(field, "cidr", _PRIVATE_NETS)
    if condition == "IsIPAddressPrivate":
        return private
    return all_of(Cmp(field, "cidr", _ALL_NETS), negate(private))


def _field(node: Mapping[str, Any], fail: Fail, *, file: str | None, line: int | None) -> str:
    given = [k for k in _KEY_SPECIFIERS if k in node]
    if len(given) != 1:
        raise fail("a match expression needs exactly one of Key, KeyPath or DeepKey")
    value = node[given[0]]
    if given[0] == "Key":
        if not isinstance(value, str) or not value:
            raise fail("Key must be a non-empty string")
        return value
    if given[0] == "KeyPath":
        if not isinstance(value, str) or not value:
            raise fail("KeyPath must be a non-empty string")
        if any(m.group(1) != "*" for m in _INDEX.finditer(value)):
            raise UnsupportedFeature("Panther KeyPath with a list index", file=file, line=line,
                                     detail=value)
        # Lists fan out in the IR, so "[*]" needs no node of its own.
        return _INDEX.sub("", value)
    if isinstance(value, list) and value and all(isinstance(k, str) and k for k in value):
        return ".".join(value)
    if isinstance(value, list) and any(isinstance(k, int) and not isinstance(k, bool) for k in value):
        raise UnsupportedFeature("Panther DeepKey with a list index", file=file, line=line)
    raise fail("DeepKey must be a non-empty list of keys")


def failer(label: str, file: str | None, line: int | None) -> Fail:
    """An error builder for match expressions under ``label`` (``Detection``, ``InlineFilters``)."""

    def fail(message: str) -> RuleLoadError:
        return RuleLoadError(f"{label}: {message}", file=file, line=line)

    return fail


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)

"""Panther ``InlineFilters`` lowered to the detection IR.

Inline filters are declarative pre-conditions checked before ``rule()`` runs: groups ``All``/
``Any`` of match expressions ``{KeyPath | DeepKey, Condition, Value | Values}``. Panther compares
strings exactly, so every comparison here is ``cased``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tokentrail.errors import RuleLoadError, UnsupportedFeature
from tokentrail.rules.ir import All, Cmp, Expr, Not
from tokentrail.rules.ir import Any as AnyOf

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
_OPS = {
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
_MATCH_KEYS = {"KeyPath", "DeepKey", "Condition", "Value", "Values"}


def lower_inline_filters(spec: Any, *, file: str | None = None, line: int | None = None) -> Expr:
    """The IR for an ``InlineFilters`` block; raises ``RuleLoadError`` on a malformed one."""

    def fail(message: str) -> RuleLoadError:
        return RuleLoadError(f"InlineFilters: {message}", file=file, line=line)

    def group(node: Any) -> Expr:
        if isinstance(node, list):
            return All(tuple(item(i) for i in node))
        if isinstance(node, Mapping) and len(node) == 1 and next(iter(node)) in ("All", "Any"):
            kind, items = next(iter(node.items()))
            if not isinstance(items, list):
                raise fail(f"{kind} must hold a list")
            lowered = tuple(item(i) for i in items)
            return All(lowered) if kind == "All" else AnyOf(lowered)
        raise fail("expected All or Any holding a list of match expressions")

    def item(node: Any) -> Expr:
        if isinstance(node, Mapping) and len(node) == 1 and next(iter(node)) in ("All", "Any"):
            return group(node)
        if not isinstance(node, Mapping):
            raise fail(f"a match expression must be a mapping, not {type(node).__name__}")
        unknown = set(node) - _MATCH_KEYS
        if unknown:
            raise fail(f"unknown key {sorted(unknown)[0]!r} in a match expression")
        return match(node)

    def match(node: Mapping[str, Any]) -> Expr:
        field = _field(node, fail)
        condition = node.get("Condition")
        if condition in _OPS:
            op, negate = _OPS[condition]
            value = node.get("Value")
            if not _scalar(value) or value is None:
                raise fail(f"{condition} needs a scalar Value")
            expr: Expr = Cmp(field, op, (value,), cased=True)  # type: ignore[arg-type]
            return Not(expr) if negate else expr
        if condition in _LIST_OPS:
            values = node.get("Values")
            if not isinstance(values, list) or not all(_scalar(v) for v in values):
                raise fail(f"{condition} needs a list of scalar Values")
            expr = Cmp(field, "eq", tuple(values), cased=True)
            return Not(expr) if _LIST_OPS[condition] else expr
        if condition in ("IsNull", "IsNotNull"):
            expr = Cmp(field, "eq", (None,))
            return expr if condition == "IsNull" else Not(expr)
        if condition in ("IsNullOrEmpty", "IsNotNullOrEmpty"):
            expr = AnyOf((Cmp(field, "eq", (None,)), Cmp(field, "eq", ("",), cased=True)))
            return expr if condition == "IsNullOrEmpty" else Not(expr)
        if condition == "IsIPAddressPrivate":
            return Cmp(field, "cidr", _PRIVATE_NETS)
        if condition == "IsIPAddressPublic":
            return All((Cmp(field, "cidr", _ALL_NETS), Not(Cmp(field, "cidr", _PRIVATE_NETS))))
        if isinstance(condition, str):
            raise UnsupportedFeature(f"InlineFilters condition {condition}", file=file, line=line)
        raise fail("every match expression needs a Condition")

    return group(spec)


def _field(node: Mapping[str, Any], fail: Any) -> str:
    if "KeyPath" in node:
        path = node["KeyPath"]
        if not isinstance(path, str) or not path:
            raise fail("KeyPath must be a non-empty string")
        if any(m.group(1) != "*" for m in _INDEX.finditer(path)):
            raise UnsupportedFeature("InlineFilters KeyPath with a list index", detail=path)
        # Lists fan out in the IR, so "[*]" needs no node of its own.
        return _INDEX.sub("", path)
    keys = node.get("DeepKey")
    if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
        return ".".join(keys)
    raise fail("a match expression needs KeyPath or DeepKey")


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)

"""Panther ``InlineFilters`` lowered to the detection IR.

Inline filters are declarative pre-conditions checked before ``rule()`` runs: a list, or one
``All``/``Any`` group, of match expressions (lowered by ``simple``, as simple detections are).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokentrail.formats.panther.simple import failer, lower_match
from tokentrail.rules.ir import All, Expr
from tokentrail.rules.ir import Any as AnyOf


def lower_inline_filters(spec: Any, *, file: str | None = None, line: int | None = None) -> Expr:
    """The IR for an ``InlineFilters`` block; raises ``RuleLoadError`` on a malformed one."""
    fail = failer("InlineFilters", file, line)

    def each(items: list) -> tuple[Expr, ...]:
        return tuple(lower_match(i, fail, file=file, line=line) for i in items)

    if isinstance(spec, list):
        return All(each(spec))
    if isinstance(spec, Mapping) and len(spec) == 1 and next(iter(spec)) in ("All", "Any"):
        kind, items = next(iter(spec.items()))
        if not isinstance(items, list):
            raise fail(f"{kind} must hold a list")
        return All(each(items)) if kind == "All" else AnyOf(each(items))
    raise fail("expected All or Any holding a list of match expressions")

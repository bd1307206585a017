"""Shared comparison columns of the typed (Parquet) query, each computed only where it is needed.

Many rules test the same comparison (a regex on the request URI, a country list), so the query
computes each distinct comparison once per row as a column of its own (``LeafTable``). Most of
those comparisons sit behind an anchor (``eventType`` equals one of a few values) that few rows
hold, so a column read only by anchored units is computed under a guard, ``CASE WHEN`` one of its
readers' anchors is not FALSE: DuckDB evaluates it on those rows alone. Columns read by anchors or
by unanchored units are computed for every row, as before.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot.expressions as sx

from tokentrail.compile.sql import LeafTable
from tokentrail.rules.ir import Expr


class GuardedLeaves(LeafTable):
    """A ``LeafTable`` whose columns remember which anchors guard their readers."""

    def __init__(self, prefix: str) -> None:
        super().__init__(prefix)
        self._reading: set[str] | None = None
        # Per leaf column, the guards of its readers by their SQL text; None: some reader has none.
        self._guards: dict[str, dict[str, sx.Expression] | None] = {}

    def column(self, node: Expr, ci: bool, build: Callable[[], sx.Expression]) -> sx.Expression:
        found = super().column(node, ci, build)
        if self._reading is not None:
            self._reading.add(found.name)
        return found

    def read(self, compile_expr: Callable[[Expr], sx.Expression], expr: Expr,
             guard: sx.Expression | None) -> sx.Expression:
        """``compile_expr(expr)`` (a condition compiled with this table as its leaves), its leaf
        columns needed only where ``guard`` (a condition over unguarded columns) is not FALSE;
        with no ``guard``, on every row."""
        self._reading = set()
        try:
            condition = compile_expr(expr)
        finally:
            names, self._reading = self._reading, None
        for name in names:
            if guard is None:
                self._guards[name] = None
            elif name not in self._guards:
                self._guards[name] = {guard.sql("duckdb"): guard}
            elif (known := self._guards[name]) is not None:
                known[guard.sql("duckdb")] = guard
        return condition

    def columns(self) -> list[sx.Expression]:
        """The columns computed on every row (the guards read only these). They hold the table's
        own expressions (not copies: a query is built from them once)."""
        return [sx.alias_(expr, name, copy=False) for name, expr in self.leaves.values() if self._guards.get(name) is None]

    def guarded_columns(self, settle: Callable[[sx.Expression], sx.Expression] | None = None) -> list[sx.Expression]:
        """The columns computed only where one of their readers' guards is not FALSE (NULL elsewhere),
        to select where ``columns()`` are in scope. A column that ``settle`` (the query's own
        rewriting, in place) makes a constant is that constant on every row: its readers read
        it only where their guards are not FALSE, and a constant costs no test per row (a
        large pack has a hundred such, of fields the file lacks)."""
        out = []
        for name, expr in self.leaves.values():
            guards = self._guards.get(name)
            if guards is None:
                continue
            if settle is not None:
                expr = settle(expr)
                if isinstance(expr, sx.Boolean | sx.Null):
                    out.append(sx.alias_(expr, name, copy=False))
                    continue
            needed = sx.or_(*(sx.Coalesce(this=g.copy(), expressions=[sx.true()]) for g in guards.values()))
            out.append(sx.alias_(sx.Case(ifs=[sx.If(this=needed, true=expr)], default=sx.null()), name, copy=False))
        return out

"""Constant folding of the typed (Parquet) query's conditions, before DuckDB sees them.

Over typed columns the schema answers most of what the compiler asks about a field: a column's
type test is ``CASE WHEN NOT col IS NULL THEN 'VARCHAR' END = 'VARCHAR'``, and a field the
schema lacks is a literal NULL. So most branches of each comparison (``= 'BOOLEAN'``,
``= 'NULL'``, ``= 'OBJECT'``, the list walks over a field that is no list) are decided before a
row is read. DuckDB folds them too, but only while binding the statement, and it binds the
prepared statement again on every batch: the dead branches cost planning time on every batch
(most of the query's text for a large rule set). Folding them here keeps what DuckDB binds small.

Every rewrite keeps the three-valued result, except that inside a ``WHEN`` condition (and the
``AND``/``OR`` under it) a NULL may become FALSE: a ``WHEN`` takes both as "not this branch".
"""

from __future__ import annotations

import sqlglot.expressions as sx


def fold(node: sx.Expression, *, copy: bool = True) -> sx.Expression:
    """``node`` with the constant parts of its conditions folded (the same TRUE/FALSE/NULL, and
    the same value of every ``CASE``); ``node`` itself is left as it was unless not ``copy``."""
    return _fold(node.copy() if copy else node, False)


def _bool(node: sx.Expression) -> bool | None:
    """The value of a literal TRUE or FALSE (through parentheses), else None."""
    while isinstance(node, sx.Paren):
        node = node.this
    if isinstance(node, sx.Boolean):
        return bool(node.this)
    return None


def _is_null(node: sx.Expression) -> bool:
    while isinstance(node, sx.Paren):
        node = node.this
    return isinstance(node, sx.Null)


def _tagged(node: sx.Expression) -> tuple[sx.Expression, str] | None:
    """``CASE WHEN NOT x IS NULL THEN 'K' END`` (how a typed column's JSON type reads) as
    (``NOT x IS NULL``, ``K``); None for anything else."""
    if not isinstance(node, sx.Case) or len(node.args.get("ifs") or ()) != 1:
        return None
    default = node.args.get("default")
    if default is not None and not isinstance(default, sx.Null):
        return None
    branch = node.args["ifs"][0]
    test, value = branch.this, branch.args.get("true")
    present = isinstance(test, sx.Not) and isinstance(test.this, sx.Is) and isinstance(test.this.expression, sx.Null)
    if not present or not isinstance(value, sx.Literal) or not value.is_string:
        return None
    return test, value.this


def _fold(node: sx.Expression, condition: bool) -> sx.Expression:
    """Fold ``node`` (a copy we own) bottom-up; ``condition``: it is read as a WHEN condition."""
    keeps_condition = condition and isinstance(node, sx.And | sx.Or | sx.Paren)
    for key, value in list(node.args.items()):
        if isinstance(value, sx.Expression):
            inner = keeps_condition or (isinstance(node, sx.If) and key == "this")
            node.set(key, _fold(value, inner))
        elif isinstance(value, list):
            node.set(key, [_fold(v, isinstance(node, sx.If) and key == "this") if isinstance(v, sx.Expression) else v
                           for v in value])
    return _local(node, condition)


def _local(node: sx.Expression, condition: bool) -> sx.Expression:
    if isinstance(node, sx.Paren) and _bool(node.this) is not None:
        return node.this
    if isinstance(node, sx.Not):
        inner = _bool(node.this)
        if inner is not None:
            return sx.Boolean(this=not inner)
        return node
    if isinstance(node, sx.And | sx.Or):
        return _junction(node)
    if isinstance(node, sx.Is) and isinstance(node.expression, sx.Null):
        if _is_null(node.this):
            return sx.true()
        tagged = _tagged(node.this)
        if tagged is not None:
            return tagged[0].this  # NOT (NOT x IS NULL): x IS NULL, two-valued as the original
        return node
    if isinstance(node, sx.NullSafeNEQ) and isinstance(node.expression, sx.Literal):
        if _is_null(node.this):
            return sx.true()
        tagged = _tagged(node.this)
        if tagged is not None:
            # 'K' or NULL: distinct from another text always, from 'K' itself where x is NULL.
            return sx.true() if tagged[1] != node.expression.this else tagged[0].this
        return node
    if condition and isinstance(node, sx.EQ) and isinstance(node.expression, sx.Literal):
        # NULL = 'K' is NULL, and a WHEN takes it as FALSE.
        if _is_null(node.this):
            return sx.false()
        tagged = _tagged(node.this)
        if tagged is not None:
            return tagged[0] if tagged[1] == node.expression.this else sx.false()
        return node
    if isinstance(node, sx.Case):
        return _case(node)
    return node


def _junction(node: sx.And | sx.Or) -> sx.Expression:
    """Kleene logic: FALSE decides an AND and TRUE an OR whatever the other side (NULL too), and
    the other constant leaves the other side as it is."""
    decisive = isinstance(node, sx.Or)
    left, right = node.this, node.expression
    a, b = _bool(left), _bool(right)
    if a is decisive or b is decisive:
        return sx.Boolean(this=decisive)
    if a is not None:
        return right
    if b is not None:
        return left
    return node


def _case(node: sx.Case) -> sx.Expression:
    """Branches whose condition is FALSE (or NULL) never run; a first branch whose condition is
    TRUE always does."""
    if node.this is not None:
        return node  # CASE x WHEN ...: not written by the compiler
    kept = [b for b in node.args.get("ifs") or () if _bool(b.this) is not False and not _is_null(b.this)]
    default = node.args.get("default")
    if kept and _bool(kept[0].this) is True:
        return kept[0].args["true"]
    if not kept:
        return default if default is not None else sx.null()
    node.set("ifs", kept)
    return node

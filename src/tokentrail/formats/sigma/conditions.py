"""Lower a parsed Sigma detection (pySigma condition trees) to one IR expression."""

from __future__ import annotations

import re
from collections.abc import Callable

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetections

from tokentrail.errors import RuleLoadError, TokenTrailError
from tokentrail.formats.sigma.simplify import simplify
from tokentrail.formats.sigma.values import Placeholders, field_value, keyword_value
from tokentrail.rules.ir import MAX_DEPTH, All, Expr, Not
from tokentrail.rules.ir import Any as AnyOf

# Gives the line of the detection item for a field (None: a keyword item).
Locate = Callable[[str | None], int | None]


def lower_detections(detections: SigmaDetections, placeholders: Placeholders, locate: Locate) -> Expr:
    """The rule's condition as IR; several conditions (a YAML list) are alternatives."""
    trees = []
    for condition in detections.parsed_condition:
        if not isinstance(condition.condition, str):
            raise RuleLoadError(f"condition {condition.condition!r} is not a string", line=locate("condition"))
        nesting = condition_nesting(condition.condition)
        if nesting > MAX_DEPTH:
            raise RuleLoadError(f"condition nests {nesting} levels deep (at most {MAX_DEPTH})",
                                line=locate("condition"))
        try:
            tree = condition.parsed
        except SigmaError as exc:
            raise RuleLoadError(f"condition {condition.condition!r}: {exc.args[0]}",
                                line=locate("condition")) from None
        if tree is None:
            raise RuleLoadError(f"condition {condition.condition!r} selects nothing",
                                line=locate("condition"))
        trees.append(_lower(tree, placeholders, locate))
    return simplify(trees[0] if len(trees) == 1 else AnyOf(tuple(trees)))


_TOKEN = re.compile(r"\(|\)|\b(?:not|and|or)\b", re.IGNORECASE)


def condition_nesting(text: str) -> int:
    """How deeply a condition's parentheses and ``not`` chains nest, measured on its text.

    Checked before pySigma parses it: its parser copies the tree recursively, so a few hundred
    levels end in ``RecursionError``.
    """
    bases: list[int] = []
    base = level = deepest = 0
    for token in _TOKEN.findall(text):
        word = token.lower()
        if word == "(":
            bases.append(base)
            base = level = level + 1
        elif word == ")":
            base = level = bases.pop() if bases else 0
        elif word == "not":
            level += 1
        else:
            level = base
        deepest = max(deepest, level)
    return deepest


def _lower(node: object, placeholders: Placeholders, locate: Locate) -> Expr:
    match node:
        case ConditionAND(args=args):
            return All(tuple(_lower(a, placeholders, locate) for a in args))
        case ConditionOR(args=args):
            return AnyOf(tuple(_lower(a, placeholders, locate) for a in args))
        case ConditionNOT(args=[arg]):
            return Not(_lower(arg, placeholders, locate))
        case ConditionFieldEqualsValueExpression(field=field, value=value):
            return _leaf(lambda: field_value(field, value, placeholders), field, locate)
        case ConditionValueExpression(value=value):
            return _leaf(lambda: keyword_value(value, placeholders), None, locate)
    raise RuleLoadError(f"unexpected condition element {type(node).__name__}")


def _leaf(make: Callable[[], Expr], field: str | None, locate: Locate) -> Expr:
    try:
        return make()
    except TokenTrailError as exc:
        if exc.line is None:
            exc.line = locate(field)
        raise

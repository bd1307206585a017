"""Human views of a rule's logic: a condition-like rendering and its indicator table."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, Expr, FieldRef, Keywords, Not
from tokentrail.rules.model import Correlation, PythonLogic, Rule


@dataclass(frozen=True, slots=True)
class Indicator:
    """One (field, operator, values) a rule looks for; ``negated`` when it must NOT hold;
    ``cased`` when values compare case-sensitively (left out of equality: a view detail)."""

    field: str
    op: str
    values: tuple[str, ...]
    negated: bool = False
    cased: bool = dataclasses.field(default=False, compare=False)


def render(expr: Expr) -> str:
    """The expression as one readable condition (``and``/``or``/``not``, field|op: values)."""
    match expr:
        case All(items):
            return " and ".join(_wrap(i) for i in items) if items else "true"
        case Any(items):
            return " or ".join(_wrap(i) for i in items) if items else "false"
        case Not(item):
            return f"not {_wrap(item)}"
        case Const(value):
            return "true" if value else "false"
        case Cmp(field=f, op=op, values=vs, cased=cased, all_values=all_values):
            mods = "".join(f"|{m}" for m in (op if op != "eq" else None, "cased" if cased else None,
                                               "all" if all_values else None) if m)
            return f"{f}{mods}: {_values(vs)}"
        case Exists(field=f, non_null=non_null):
            return f"{f}|exists" + ("|not null" if non_null else "")
        case FieldRef(field=f, other=o, op=op):
            return f"{f}|{op}|fieldref: {o}"
        case Keywords(values=vs, op=op, all_values=all_values):
            return f"keywords{'|' + op if op != 'contains' else ''}{'|all' if all_values else ''}: {_values(vs)}"
    return repr(expr)


def _wrap(expr: Expr) -> str:
    text = render(expr)
    return f"({text})" if isinstance(expr, All | Any) and len(expr.items) > 1 else text


def _values(values: tuple) -> str:
    shown = ["null" if v is None else str(v) for v in values]
    return shown[0] if len(shown) == 1 else "[" + ", ".join(shown) + "]"


def indicators(expr: Expr, *, negated: bool = False) -> list[Indicator]:
    """Every comparison in the expression, in order, marked when it sits under a ``not``."""
    match expr:
        case All(items) | Any(items):
            return [ind for i in items for ind in indicators(i, negated=negated)]
        case Not(item):
            return indicators(item, negated=not negated)
        case Cmp(field=f, op=op, values=vs, cased=cased):
            return [Indicator(f, op, tuple("null" if v is None else str(v) for v in vs), negated, cased)]
        case Exists(field=f):
            return [Indicator(f, "exists", (), negated)]
        case FieldRef(field=f, other=o, op=op):
            return [Indicator(f, f"{op} field", (o,), negated)]
        case Keywords(values=vs, op=op):
            return [Indicator("(any field)", op, tuple(vs), negated)]
    return []


def logic_stages(rule: Rule) -> list[tuple[str, str]]:
    """(stage name, rendering) pairs: one for a plain rule, one per step for a correlation."""
    logic = rule.logic
    if isinstance(logic, PythonLogic):
        if logic.lifted is not None:
            return [("python", logic.path), ("condition (lifted)", render(logic.lifted))]
        return [("python", logic.path), *([("not lifted", logic.not_lifted)] if logic.not_lifted else [])]
    if isinstance(logic, Correlation):
        head = f"{logic.kind}"
        if logic.condition:
            head += f" {logic.condition[0]} {logic.condition[1]:g}"
        if logic.timespan is not None:
            head += f" within {logic.timespan:g}s"
        stages = [("correlation", head)]
        for step in logic.steps:
            target = f"rule {step.rule_ref}" if step.rule_ref else render(step.expr) if step.expr else "?"
            by = f" by {', '.join(step.by)}" if step.by else ""
            runs = f" (x{step.runs})" if step.runs > 1 else ""
            stages.append((step.name, target + by + runs))
        if logic.until is not None:
            stages.append(("until", render(logic.until)))
        return stages
    if logic is None:
        return []
    return [("condition", render(logic))]


def rule_indicators(rule: Rule) -> list[Indicator]:
    """Indicators of a rule's declarative logic (every step of a correlation; a Python rule's
    lifted condition)."""
    logic = rule.logic
    if isinstance(logic, Correlation):
        exprs = [s.expr for s in logic.steps if s.expr is not None]
        return [i for e in exprs for i in indicators(e)]
    if isinstance(logic, PythonLogic):
        return indicators(logic.lifted) if logic.lifted is not None else []
    if logic is None:
        return []
    return indicators(logic)


def rule_kind(rule: Rule) -> str:
    """What kind of detection a rule is, in words: expression, threshold, new terms, Python,
    correlation, sequence — or "none" when it has no logic (unsupported)."""
    logic = rule.logic
    if logic is None:
        return "none"
    if isinstance(logic, PythonLogic):
        return "Python"
    if isinstance(logic, Correlation):
        return "sequence" if logic.kind in ("sequence", "temporal_ordered") else "correlation"
    g = rule.grouping
    if g.new_terms:
        return "new terms"
    if g.query is not None:
        return "aggregate condition"
    if g.threshold > 1 or g.distinct_field:
        return "threshold"
    return "expression"


def grouping_text(rule: Rule) -> str:
    """How matches become alerts, in words (empty: one alert per match)."""
    g = rule.grouping
    parts = []
    if g.group_by:
        parts.append("by " + ", ".join(g.group_by))
    if g.window is not None:
        parts.append(f"within {g.window:g}s")
    if g.threshold > 1:
        parts.append(f">= {g.threshold} matches")
    if g.distinct_field:
        parts.append(f">= {g.distinct_threshold} distinct {g.distinct_field}")
    if g.new_terms:
        parts.append(f"new terms {', '.join(g.new_terms)} (history {g.history or 0:g}s)")
    if g.query is not None:
        parts.append(f"a condition on {len(g.query.aggregates)} aggregate(s)"
                     + (f" of sub-groups by {', '.join(g.query.sub_keys)}" if g.query.sub_keys else ""))
    if g.aligned:
        parts.append("windows aligned to the epoch")
    return "; ".join(parts)

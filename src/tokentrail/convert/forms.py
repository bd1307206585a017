"""A rule's logic written in one field dialect: the vendor's native names or ECS names.

A conversion target reads one dialect (Splunk and the vendors' searches: native; Elastic: ECS).
The rule's own dialect is its format's (Sigma and Panther: native, Elastic: ECS); rewriting it
for the other one goes through ``schemas.specialize`` — fields renamed through the family's ECS
table, comparisons on ECS constants (``event.dataset: okta.system``) settled — so a conversion
names fields exactly as the engines read them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tokentrail.convert.errors import Unconvertible
from tokentrail.rules.ir import Const, Expr
from tokentrail.rules.model import Correlation, Grouping, Rule
from tokentrail.schemas import dialect_of, field_for, log_types_for, registry, specialize


@dataclass(frozen=True)
class Form:
    """A rule's logic in ``dialect`` for the log types of ``family`` (``log_type`` names the one
    whose field names are used: the family's base log type, or its ECS form)."""

    family: str
    log_type: str
    dialect: str
    logic: Expr | Correlation
    grouping: Grouping


def rule_family(rule: Rule) -> str:
    """The log type family (``okta``, ``auth0``, ``salesforce``) a rule runs on (``""`` for a
    correlation that leaves it to the rules it names).

    Raises ``Unconvertible`` when the rule names none TokenTrail knows, or several.
    """
    names = rule.log_types or log_types_for(rule.logsource, rule.format)
    reg = registry()
    families = list(dict.fromkeys(lt.family for n in names if (lt := reg.get(n)) is not None))
    if len(families) != 1 and isinstance(rule.logic, Correlation):
        return ""  # the rules it names say which logs it reads
    if not families:
        raise Unconvertible("the rule names no log type TokenTrail knows")
    if len(families) > 1:
        raise Unconvertible(f"the rule covers several log type families ({', '.join(families)})")
    return families[0]


def form_of(rule: Rule, dialect: str) -> Form:
    """The rule's logic and grouping with fields in ``dialect`` (``native`` or ``ecs``), spelled
    as the family's field tree spells them (Okta's lower-case SigmaHQ names get their case, an
    Auth0 record field its ``data.`` envelope), as the engines read them."""
    family = rule_family(rule)
    own = dialect_of(rule.format)
    logic = rule.logic
    if not isinstance(logic, Expr | Correlation):
        raise Unconvertible("Python logic cannot be converted")
    if not family:
        return Form(family, "", dialect, logic, rule.grouping)
    target = _target_log_type(family, dialect)

    def expr_in(expr: Expr) -> Expr:
        out = specialize(expr, target, own)
        if out == Const(False):
            found = registry().get(target)
            raise Unconvertible(f"the rule cannot match {found.title if found else target} events once "
                                "its fields are renamed")
        return out

    def name_in(name: str) -> str:
        return field_for(target, name, own)

    grouping = rule.grouping
    grouping = replace(
        grouping,
        group_by=tuple(map(name_in, grouping.group_by)),
        distinct_field=name_in(grouping.distinct_field) if grouping.distinct_field else None,
        new_terms=tuple(map(name_in, grouping.new_terms)),
    )
    if isinstance(logic, Correlation):
        steps = tuple(
            replace(step, expr=expr_in(step.expr) if step.expr is not None else None,
                    by=tuple(map(name_in, step.by)))
            for step in logic.steps
        )
        logic = replace(logic, steps=steps,
                        until=expr_in(logic.until) if logic.until is not None else None,
                        value_field=name_in(logic.value_field) if logic.value_field else None)
        return Form(family, target, dialect, logic, grouping)
    return Form(family, target, dialect, expr_in(logic), grouping)


def _target_log_type(family: str, dialect: str) -> str:
    reg = registry()
    if dialect == "ecs":
        ecs = reg.ecs_of(family)
        if ecs is None:
            raise Unconvertible(f"no ECS form of {family} logs is known")
        return ecs.name
    base = next((lt for lt in reg.family(family) if not lt.is_ecs and lt.name == lt.family), None)
    return base.name if base else family

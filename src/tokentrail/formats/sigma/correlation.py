"""Sigma correlation rules -> ``rules.model.Correlation``.

Steps reference other rules by id or name. Group-by fields may be aliases; each step gets the
field names its own rule uses, which may need rules from other files (``RefIndex``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from tokentrail.errors import RuleLoadError, UnsupportedFeature
from tokentrail.rules.model import Correlation, CorrelationStep, Rule

SUPPORTED = {
    SigmaCorrelationType.EVENT_COUNT: "event_count",
    SigmaCorrelationType.VALUE_COUNT: "value_count",
    SigmaCorrelationType.TEMPORAL: "temporal",
    SigmaCorrelationType.TEMPORAL_ORDERED: "temporal_ordered",
}


class RefIndex:
    """Resolves a rule reference (id or name) to the id of a loaded rule."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._ids: dict[str, str] = {}
        for rule in rules:
            for key in (rule.id, rule.name):
                if key:
                    self._ids.setdefault(key, rule.id)
                    self._ids.setdefault(key.lower(), rule.id)

    def resolve(self, ref: str) -> str | None:
        """The id of the rule ``ref`` names (ids are matched case-insensitively), or None."""
        return self._ids.get(ref) or self._ids.get(ref.lower())

    def same(self, a: str, b: str) -> bool:
        """Whether two references name the same rule."""
        if a == b:
            return True
        ra = self.resolve(a)
        return ra is not None and ra == self.resolve(b)


def lower_correlation(parsed: SigmaCorrelationRule, raw: Mapping[str, Any], index: RefIndex, *,
                      strict: bool) -> Correlation:
    """The ``Correlation`` of a parsed correlation rule.

    ``strict``: every alias must resolve now (all rule files are loaded); otherwise an alias
    for a rule not known yet keeps its name until ``finalize`` resolves it.
    """
    kind = SUPPORTED.get(parsed.type)
    if kind is None:
        raise UnsupportedFeature(f"sigma correlation type {parsed.type}")
    condition = parsed.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise UnsupportedFeature("sigma extended correlation condition",
                                 detail=f"condition {condition.expression!r}")
    value_field = None
    if kind == "value_count":
        if not isinstance(condition.fieldref, str):
            raise UnsupportedFeature("sigma value_count over several fields")
        value_field = condition.fieldref
    refs = [r.reference for r in parsed.rules or ()]
    if not refs:
        raise RuleLoadError("correlation without rules")
    group_by = tuple(parsed.group_by or ())
    aliases = _aliases(raw)
    steps = tuple(
        CorrelationStep(name=ref, rule_ref=ref,
                        by=tuple(_field_for(g, ref, aliases, index, strict) for g in group_by))
        for ref in refs
    )
    return Correlation(
        kind=kind,  # type: ignore[arg-type]
        steps=steps,
        timespan=float(parsed.timespan.seconds),
        condition=(condition.op.name.lower(), float(condition.count)),
        value_field=value_field,
        generate=bool(parsed.generate),
    )


def check_shape(raw: Mapping[str, Any]) -> None:
    """Reject a correlation whose ``rules``, ``group-by`` or ``aliases`` are not of the shape the
    specification gives (pySigma accepts e.g. ``rules: [12]``, which no rule can be named by)."""
    rules = raw.get("rules")
    refs = [rules] if isinstance(rules, str) else rules
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise RuleLoadError(f"correlation 'rules' must list rule ids or names (text), not {rules!r}")
    group_by = raw.get("group-by")
    groups = [] if group_by is None else [group_by] if isinstance(group_by, str) else group_by
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise RuleLoadError(f"correlation 'group-by' must list field names (text), not {group_by!r}")
    aliases = raw.get("aliases")
    if aliases is None:
        return
    if not isinstance(aliases, Mapping) or not all(
        isinstance(m, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in m.items())
        for m in aliases.values()
    ):
        raise RuleLoadError("correlation 'aliases' must map each alias to {rule: field} text pairs")


def _aliases(raw: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    aliases = raw.get("aliases") or {}
    return {str(a): {str(k): str(v) for k, v in m.items()} for a, m in aliases.items()}


def _field_for(group: str, ref: str, aliases: dict[str, dict[str, str]], index: RefIndex,
               strict: bool) -> str:
    mapping = aliases.get(group)
    if mapping is None:
        return group
    for rule_ref, field in mapping.items():
        if index.same(rule_ref, ref):
            return field
    if not strict:
        return group
    raise RuleLoadError(f"alias {group!r} names no field for rule {ref!r}")


def step_refs(rule: Rule) -> tuple[str, ...]:
    """The rule references of a correlation rule's steps (empty for other rules)."""
    logic = rule.logic
    if isinstance(logic, Correlation):
        return tuple(s.rule_ref for s in logic.steps if s.rule_ref)
    return ()


def rebind(rule: Rule, index: RefIndex) -> Correlation:
    """The rule's correlation with every step's group-by fields resolved against all loaded rules.

    Raises ``RuleLoadError`` when a step names no loaded rule or an alias has no field for it.
    """
    logic = rule.logic
    assert isinstance(logic, Correlation)
    raw = rule.metadata.get("correlation") or {}
    group_by = raw.get("group-by") or ()
    group_by = (group_by,) if isinstance(group_by, str) else tuple(str(g) for g in group_by)
    aliases = _aliases(raw)
    steps = []
    for step in logic.steps:
        ref = step.rule_ref or step.name
        if index.resolve(ref) is None:
            raise RuleLoadError(f"correlation {rule.title!r}: rule {ref!r} is not loaded")
        by = tuple(_field_for(g, ref, aliases, index, True) for g in group_by)
        steps.append(replace(step, by=by))
    return replace(logic, steps=tuple(steps))

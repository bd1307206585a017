"""Panther correlation rules (``Detection:`` with a ``Sequence`` or a ``Group``) lowered onto
TokenTrail's ``Correlation``.

* ``Sequence`` + ``Transitions``: the steps in order (``kind="sequence"``); each step's group key
  is the transition's ``Match`` field (``On``, or ``From``/``To``), the time span the sum of the
  transitions' ``WithinTimeFrameMinutes``; ``MinMatches`` repeats a step.
* ``Group`` + ``MatchCriteria``: every member seen within ``LookbackWindowMinutes``, in any order,
  with equal criteria values (``kind="temporal"``); ``MinMatchCount`` is how many matches a member
  needs. ``EventEvaluationOrder: Chronological`` changes nothing here: Panther's own tests expect
  a group to fire on members seen out of their listed order.
Members with ``Absence: true`` (an alert when something did *not* happen) have no TokenTrail
counterpart yet: such a rule loads unsupported, and its tests are skipped with the reason.
The steps refer to the correlated rules by ``RuleID``; those rules keep alerting on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tokentrail.rules.model import Correlation, CorrelationStep


class NotDeclarative(ValueError):
    """A ``Detection`` TokenTrail cannot lower; the message is the reason."""


def lower_detection(detection: Any) -> Correlation:
    """The ``Correlation`` of a correlation rule's ``Detection`` list (one Sequence or Group)."""
    if not isinstance(detection, list) or len(detection) != 1 or not isinstance(detection[0], Mapping):
        raise NotDeclarative("Detection must hold one Sequence or Group")
    block = detection[0]
    if "Sequence" in block:
        return _sequence(block)
    if "Group" in block:
        return _group(block)
    raise NotDeclarative("Detection holds neither a Sequence nor a Group")


def _minutes(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise NotDeclarative(f"{what} must be a positive number of minutes, not {value!r}")
    return float(value) * 60.0


def _members(raw: Any, what: str) -> list[Mapping[str, Any]]:
    if not isinstance(raw, list) or not raw or not all(isinstance(m, Mapping) for m in raw):
        raise NotDeclarative(f"{what} must be a list of steps")
    for member in raw:
        if not isinstance(member.get("ID"), str) or not isinstance(member.get("RuleID"), str):
            raise NotDeclarative(f"every {what} step needs an ID and a RuleID")
        if member.get("Absence"):
            raise NotDeclarative("Absence steps (alert when a rule did not match) are not supported yet")
    return list(raw)


def _count(member: Mapping[str, Any], key: str) -> int:
    value = member.get(key, 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise NotDeclarative(f"{key} of step {member['ID']} must be a whole number >= 1")
    return value


def _sequence(block: Mapping[str, Any]) -> Correlation:
    steps = _members(block["Sequence"], "Sequence")
    ids = [s["ID"] for s in steps]
    transitions = block.get("Transitions") or []
    if not isinstance(transitions, list) or len(transitions) != len(steps) - 1:
        raise NotDeclarative("a Sequence needs one Transition between each pair of steps")
    by: dict[str, list[str]] = {i: [] for i in ids}
    span = 0.0
    for n, transition in enumerate(transitions):
        if not isinstance(transition, Mapping):
            raise NotDeclarative("each Transition must be a mapping")
        if (transition.get("From"), transition.get("To")) != (ids[n], ids[n + 1]):
            raise NotDeclarative("Transitions must lead from each step to the next, in order")
        span += _minutes(transition.get("WithinTimeFrameMinutes"), "WithinTimeFrameMinutes")
        for match in transition.get("Match") or []:
            if isinstance(match, Mapping) and isinstance(match.get("On"), str):
                left = right = match["On"]
            elif isinstance(match, Mapping) and isinstance(match.get("From"), str) and isinstance(match.get("To"), str):
                left, right = match["From"], match["To"]
            else:
                raise NotDeclarative("a Transition Match needs On, or From and To")
            by[ids[n]].append(left)
            by[ids[n + 1]].append(right)
    width = {len(v) for v in by.values()}
    if len(width) != 1:
        raise NotDeclarative("every step of a Sequence must be matched on the same number of fields")
    return Correlation(
        kind="sequence",
        steps=tuple(
            CorrelationStep(name=s["ID"], rule_ref=s["RuleID"], by=tuple(by[s["ID"]]), runs=_count(s, "MinMatches"))
            for s in steps
        ),
        timespan=span,
        generate=True,
    )


def _group(block: Mapping[str, Any]) -> Correlation:
    members = _members(block["Group"], "Group")
    criteria = block.get("MatchCriteria") or {}
    if not isinstance(criteria, Mapping):
        raise NotDeclarative("MatchCriteria must map a name to the field of each group member")
    by: dict[str, list[str]] = {m["ID"]: [] for m in members}
    for name, entries in criteria.items():
        fields = {}
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, Mapping) and isinstance(entry.get("GroupID"), str) and isinstance(entry.get("Match"), str):
                fields[entry["GroupID"]] = entry["Match"]
        if set(fields) != set(by):
            raise NotDeclarative(f"MatchCriteria {name} must name a Match field for every group member")
        for member_id, field_name in fields.items():
            by[member_id].append(field_name)
    order = block.get("EventEvaluationOrder")
    if order not in (None, "Chronological"):
        raise NotDeclarative(f"EventEvaluationOrder {order!r} is not supported")
    return Correlation(
        kind="temporal",
        steps=tuple(
            CorrelationStep(name=m["ID"], rule_ref=m["RuleID"], by=tuple(by[m["ID"]]), runs=_count(m, "MinMatchCount"))
            for m in members
        ),
        timespan=_minutes(block.get("LookbackWindowMinutes"), "LookbackWindowMinutes"),
        generate=True,
    )

"""Indicators with corpus counts: each (field, operator, value) a rule looks for, and which other
loaded rules look for the same.

Fields are compared after mapping to one schema: the native field names of the rule's log type
family (an Elastic rule's ``event.action`` on Okta is ``eventType``, as a Sigma rule writes it).
A rule whose log types span several families, or none TokenTrail knows, keeps its fields as
written. Values compare with the rule's own case semantics: a case-insensitive indicator counts
another rule's value equal regardless of case; a case-sensitive one needs the exact value.
Python rules have the indicators of their lifted condition, when their ``rule()`` lifts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from tokentrail.engine.plan import log_types_of
from tokentrail.errors import TokenTrailError
from tokentrail.rules.describe import rule_indicators
from tokentrail.rules.model import Rule
from tokentrail.schemas.fields import dialect_of, field_for
from tokentrail.schemas.registry import registry


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    """One value a rule looks for in one field; ``others`` are the ids of other rules sharing it."""

    rule_id: str
    field: str
    schema_field: str
    family: str
    op: str
    value: str
    cased: bool
    negated: bool
    others: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        """How many other loaded rules look for the same indicator."""
        return len(self.others)

    @property
    def key(self) -> tuple[str, str, str, bool, str]:
        """What identifies the indicator across rules (value case-folded)."""
        return (self.family, self.schema_field, self.op, self.negated, self.value.casefold())


@dataclass(frozen=True, slots=True)
class SharedIndicator:
    """An indicator of the corpus and every rule that looks for it."""

    family: str
    field: str
    op: str
    value: str
    negated: bool
    rules: tuple[str, ...]


@dataclass(frozen=True)
class IndicatorCorpus:
    """The indicator rows of every rule of a corpus, with their counts."""

    rows: Mapping[str, tuple[IndicatorRow, ...]]
    titles: Mapping[str, str]

    def for_rule(self, rule_id: str) -> tuple[IndicatorRow, ...]:
        """A rule's rows in the order of its detection (empty for Python rules that do not lift)."""
        return self.rows.get(rule_id, ())

    def shared(self, *, top: int | None = None, min_rules: int = 2) -> list[SharedIndicator]:
        """Indicators that ``min_rules`` or more rules look for, the most shared first."""
        groups: dict[tuple, list[IndicatorRow]] = {}
        for rows in self.rows.values():
            for row in rows:
                groups.setdefault(row.key, []).append(row)
        found = []
        for rows in groups.values():
            ids = tuple(dict.fromkeys(r.rule_id for r in rows))
            if len(ids) >= min_rules:
                first = rows[0]
                found.append(SharedIndicator(first.family, first.schema_field, first.op, first.value,
                                             first.negated, ids))
        found.sort(key=lambda s: (-len(s.rules), s.family, s.field, s.value.casefold()))
        return found[:top] if top is not None else found


def family_of(rule: Rule) -> str:
    """The one log type family a rule runs on, or ``""`` when it spans several or none known."""
    reg = registry()
    families = set()
    for name in log_types_of(rule):
        lt = reg.get(name)
        families.add(lt.family if lt is not None else "")
    return families.pop() if len(families) == 1 else ""


def _schema_field(field: str, family: str, rule: Rule) -> str:
    if not family or field == "(any field)":
        return field
    try:
        return field_for(family, field, dialect_of(rule.format))
    except TokenTrailError:  # a log type the registry cannot map: compare as written
        return field


def _rows(rule: Rule) -> list[IndicatorRow]:
    family = family_of(rule)
    rows = []
    for ind in rule_indicators(rule):
        schema_field = _schema_field(ind.field, family, rule)
        for value in ind.values or ("",):
            rows.append(IndicatorRow(rule.id, ind.field, schema_field, family, ind.op, value, ind.cased,
                                     ind.negated))
    return rows


def indicator_corpus(rules: Iterable[Rule]) -> IndicatorCorpus:
    """Every rule's indicator rows, each with the other rules of ``rules`` that share it."""
    chosen: Sequence[Rule] = list(rules)
    raw = {r.id: _rows(r) for r in chosen}
    buckets: dict[tuple, list[IndicatorRow]] = {}
    for rows in raw.values():
        for row in rows:
            buckets.setdefault(row.key, []).append(row)
    counted = {}
    for rule_id, rows in raw.items():
        out = []
        for row in rows:
            others = tuple(dict.fromkeys(
                o.rule_id for o in buckets[row.key]
                if o.rule_id != rule_id and (not row.cased or o.value == row.value)))
            out.append(replace(row, others=others))
        counted[rule_id] = tuple(out)
    return IndicatorCorpus(counted, {r.id: r.title for r in chosen})

"""What a technique page (seed 004) and the coverage matrix show: the technique, its coverage
status, the rules tagged with it and those a simulation verified, and each Atomic Red Team test
with the rules that fire on its simulated evidence, or a gap mark."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tokentrail.catalog.atomic import AtomicResult
from tokentrail.catalog.attack import AttackData, Technique
from tokentrail.catalog.coverage import Coverage, TechniqueCoverage
from tokentrail.catalog.site.paths import technique_page

STATUS_TEXT = {"verified": "verified", "tagged": "tagged only", "gap": "no rule"}


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule as a link: id, title, page; ``verified`` when a simulation showed it firing."""

    id: str
    title: str
    page: str
    verified: bool = False


@dataclass(frozen=True, slots=True)
class AtomicView:
    """An Atomic Red Team test and the rules that fire on its evidence. ``evidence`` False: the
    test leaves its traces in logs TokenTrail does not read (not a gap of the rules)."""

    name: str
    guid: str
    platforms: tuple[str, ...]
    executor: str
    summary: str
    rules: tuple[RuleRef, ...]
    state: str  # covered, gap, no-evidence (see ``AtomicResult.status``)
    url: str
    filed_under: str  # where Atomic Red Team files the test now


@dataclass(frozen=True)
class TechniqueView:
    """Everything a technique page shows."""

    technique: Technique
    page: str
    coverage: TechniqueCoverage
    tactics: tuple[tuple[str, str], ...]  # (name, id)
    rules: tuple[RuleRef, ...]
    parent: tuple[str, str, str] | None  # (id, name, page)
    subtechniques: tuple[tuple[str, str, str, str], ...]  # (id, name, page, status)
    atomic: tuple[AtomicView, ...]

    @property
    def status(self) -> str:
        return self.coverage.status


def technique_views(cov: Coverage, attack: AttackData, rule_titles: Mapping[str, str],
                    rule_pages: Mapping[str, str], atomic: Sequence[AtomicResult] = ()) -> dict[str, TechniqueView]:
    """A view per technique of the matrix (and per technique an Atomic test names), by id."""
    by_id = {t.id: t for t in cov.techniques}
    tests: dict[str, list[AtomicView]] = {}
    for result in atomic:
        test = result.test
        refs = tuple(RuleRef(r, rule_titles.get(r, r), rule_pages.get(r, "")) for r in result.firing_rule_ids)
        view = AtomicView(test.name, test.guid, test.platforms, test.executor, test.description_summary or "",
                          refs, result.status, test.url, test.technique)
        for tid in test.techniques:  # also where it was filed before (seed 004: T1528)
            tests.setdefault(tid, []).append(view)
    for tid in tests:
        if tid not in by_id and tid in attack.techniques:
            tech = attack.techniques[tid]
            by_id[tid] = TechniqueCoverage(tid, tech.name, tech.tactics, "gap", on_platforms=False)
    tactic_names = {t.shortname: (t.name, t.id) for t in attack.tactics}
    views = {}
    for tid, tc in by_id.items():
        tech = attack.techniques.get(tid)
        if tech is None:
            continue
        verified = set(tc.verified_by)
        rules = tuple(RuleRef(r, rule_titles.get(r, r), rule_pages.get(r, ""), r in verified) for r in tc.rules)
        parent = None
        if tech.parent and tech.parent in attack.techniques:
            up = attack.techniques[tech.parent]
            parent = (up.id, up.name, technique_page(up.id) if up.id in by_id else up.url)
        # A technique the site has no page for (off the chosen platforms) links to ATT&CK's own page.
        subs = tuple((s.id, s.name, technique_page(s.id) if s.id in by_id else s.url,
                      by_id[s.id].status if s.id in by_id else "gap") for s in attack.subtechniques(tid))
        views[tid] = TechniqueView(tech, technique_page(tid), tc,
                                   tuple(tactic_names.get(s, (s, "")) for s in tech.tactics), rules, parent, subs,
                                   tuple(tests.get(tid, ())))
    return views

"""Atomic test coverage as data (JSON-ready) and as Markdown: one row per test, grouped by technique."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tokentrail.catalog.atomic import STATUSES, AtomicResult, technique_key

# Seed 004 marks a test no rule answers with ":x:"; these say which of the three cases a row is.
ATOMIC_MARKS = {"covered": "✅ covered", "gap": "❌ no rule fires on its evidence",
                "no-evidence": "➖ no evidence we read"}


def atomic_counts(results: Sequence[AtomicResult]) -> dict[str, int]:
    """How many tests have each status."""
    return {s: sum(1 for r in results if r.status == s) for s in STATUSES}


def atomic_json(results: Sequence[AtomicResult], rule_titles: Mapping[str, str]) -> dict[str, Any]:
    """Every test with its status and the rules that fire on its evidence."""
    return {
        "counts": atomic_counts(results),
        "tests": [{
            "guid": r.test.guid, "name": r.test.name, "technique": r.test.technique,
            "earlier_techniques": list(r.test.earlier_techniques), "platforms": list(r.test.platforms),
            "executor": r.test.executor, "summary": r.test.description_summary, "status": r.status,
            "evidence": r.evidence, "evidence_source": r.test.evidence_source,
            "evidence_scenario": r.test.evidence_scenario,
            "rules": [{"id": rid, "title": rule_titles.get(rid, rid)} for rid in r.firing_rule_ids],
            "url": r.test.url,
        } for r in results],
    }


def atomic_markdown(results: Sequence[AtomicResult], rule_titles: Mapping[str, str]) -> str:
    """A table per technique (tests filed there now or before), each test marked covered — with
    the rules that fire on its simulated evidence — or a gap, or out of sight."""
    counts = atomic_counts(results)
    lines = ["# Atomic Red Team tests and the rules that catch them", "",
             f"{counts['covered']} covered, {counts['gap']} with evidence no rule fires on, "
             f"{counts['no-evidence']} leaving evidence in logs TokenTrail does not read.", ""]
    by_technique: dict[str, list[AtomicResult]] = {}
    for r in results:
        for technique in r.test.techniques:
            by_technique.setdefault(technique, []).append(r)
    for technique in sorted(by_technique, key=technique_key):
        lines += [f"## {technique}", "", "| Atomic test | platforms | status | rules |", "|---|---|---|---|"]
        for r in by_technique[technique]:
            name = r.test.name if r.test.technique == technique else f"{r.test.name} (now {r.test.technique})"
            rules = ", ".join(rule_titles.get(rid, rid) for rid in r.firing_rule_ids)
            lines.append(f"| [{_cell(name)}]({r.test.url}) | {', '.join(r.test.platforms)} | "
                         f"{ATOMIC_MARKS[r.status]} | {_cell(rules)} |")
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

"""Coverage as data (JSON-ready) and as Markdown: a section per tactic, a row per technique."""

from __future__ import annotations

from typing import Any

from tokentrail.catalog.coverage import Coverage, TechniqueCoverage

MARKS = {"verified": "✅ verified", "tagged": "🏷️ tagged only", "gap": "❌ gap"}


def coverage_json(cov: Coverage) -> dict[str, Any]:
    """The matrix as one JSON document: platforms, counts, tactics with their techniques."""
    return {
        "attack_version": cov.attack_version,
        "platforms": list(cov.platforms),
        "counts": cov.counts(),
        "tactics": [{"id": tactic.id, "name": tactic.name, "shortname": tactic.shortname,
                     "techniques": [_technique(t) for t in techs]} for tactic, techs in cov.by_tactic()],
        "unknown_tags": {t: list(ids) for t, ids in cov.unknown_tags.items()},
        "noisy_rules": [{"id": rid, "title": cov.rule_titles.get(rid, rid)} for rid in cov.noisy],
    }


def _technique(t: TechniqueCoverage) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "status": t.status, "rules": list(t.rules),
            "verified_by": list(t.verified_by), "scenarios": list(t.scenarios), "note": t.note,
            "on_platforms": t.on_platforms}


def coverage_markdown(cov: Coverage, *, include_gaps: bool = True) -> str:
    """The matrix as Markdown: totals, then a table per tactic (gaps left out unless asked)."""
    counts = cov.counts()
    lines = [f"# ATT&CK coverage ({', '.join(cov.platforms)})", "",
             f"ATT&CK {cov.attack_version}: {counts['verified']} verified, {counts['tagged']} tagged only, "
             f"{counts['gap']} gaps.", ""]
    for tactic, techs in cov.by_tactic():
        shown = [t for t in techs if include_gaps or t.status != "gap"]
        if not shown:
            continue
        lines += [f"## {tactic.name} ({tactic.id})", "", "| technique | name | status | rules | note |",
                  "|---|---|---|---|---|"]
        for t in shown:
            rules = ", ".join(cov.rule_titles.get(r, r) for r in (t.verified_by or t.rules))
            lines.append(f"| {t.id} | {_cell(t.name)} | {MARKS[t.status]} | {_cell(rules)} | {_cell(t.note)} |")
        lines.append("")
    if cov.noisy:
        lines += ["## Rules that alert on benign traffic", ""]
        lines += [f"- {cov.rule_titles.get(rid, rid)} ({rid})" for rid in cov.noisy]
        lines.append("")
    if cov.unknown_tags:
        lines += ["## Tags not in the ATT&CK data", ""]
        lines += [f"- {t}: {', '.join(ids)}" for t, ids in cov.unknown_tags.items()]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

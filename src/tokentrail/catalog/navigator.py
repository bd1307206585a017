"""ATT&CK Navigator layers (format 4.5): export a coverage matrix, read a threat's layer, and list
the threat's techniques with their coverage (the gaps first)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokentrail.catalog.attack import AttackData
from tokentrail.catalog.coverage import Coverage, Status, assess
from tokentrail.catalog.verify import Verification
from tokentrail.errors import TokenTrailError
from tokentrail.rules.model import Rule

LAYER_VERSION = "4.5"
NAVIGATOR_VERSION = "5.1.0"
COLORS: Mapping[str, str] = {"verified": "#31a354", "tagged": "#fdae6b", "gap": "#e6550d"}
SCORES: Mapping[str, int] = {"verified": 2, "tagged": 1, "gap": 0}
DEFAULT_RULE_URL = "rules/{id}.html"


class LayerError(TokenTrailError):
    """A Navigator layer file cannot be read."""


def navigator_layer(cov: Coverage, *, name: str = "TokenTrail coverage",
                    rule_url: str = DEFAULT_RULE_URL) -> dict[str, Any]:
    """A Navigator 4.5 layer of ``cov``: one entry per technique and tactic, scored 2 verified,
    1 tagged only, 0 gap, with a comment saying why and links to the rules' pages
    (``rule_url`` with ``{id}``)."""
    entries = []
    for tech in cov.techniques:
        comment = {"verified": "verified by a simulated scenario", "tagged": tech.note,
                   "gap": tech.note or "no loaded rule is tagged with it"}[tech.status]
        links = [{"label": cov.rule_titles.get(rid, rid), "url": rule_url.format(id=rid)} for rid in tech.rules]
        for tactic in tech.tactics:
            entries.append({
                "techniqueID": tech.id, "tactic": tactic, "score": SCORES[tech.status],
                "color": COLORS[tech.status], "comment": f"{tech.status}: {comment}", "enabled": True,
                "metadata": [{"name": "scenario", "value": s} for s in tech.scenarios],
                "links": links, "showSubtechniques": "." not in tech.id and any(
                    t.id.startswith(tech.id + ".") and t.status != "gap" for t in cov.techniques),
            })
    major = cov.attack_version.split(".")[0]
    return {
        "name": name,
        "versions": {"attack": major, "navigator": NAVIGATOR_VERSION, "layer": LAYER_VERSION},
        "domain": "enterprise-attack",
        "description": f"TokenTrail coverage for {', '.join(cov.platforms)} (ATT&CK {cov.attack_version}): "
                       "2 verified by simulation, 1 tagged only, 0 gap.",
        "filters": {"platforms": list(cov.platforms)},
        "sorting": 3,
        "layout": {"layout": "side", "aggregateFunction": "max", "showID": True, "showName": True,
                   "showAggregateScores": False, "countUnscored": False, "expandedSubtechniques": "annotated"},
        "hideDisabled": False,
        "techniques": entries,
        "gradient": {"colors": [COLORS["gap"], COLORS["tagged"], COLORS["verified"]], "minValue": 0,
                     "maxValue": 2},
        "legendItems": [{"label": status, "color": color} for status, color in COLORS.items()],
        "metadata": [],
        "links": [],
        "showTacticRowBackground": False,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": True,
        "selectSubtechniquesWithParent": False,
        "selectVisibleTechniques": False,
    }


def read_layer_techniques(path: Path) -> list[str]:
    """Technique ids a threat layer marks: enabled entries that are not scored 0, upper-cased."""
    try:
        layer = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise LayerError(f"cannot read Navigator layer: {exc}", file=str(path)) from exc
    entries = layer.get("techniques") if isinstance(layer, dict) else None
    if not isinstance(entries, list):
        raise LayerError("not a Navigator layer: no 'techniques' list", file=str(path))
    found: dict[str, None] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("techniqueID"), str):
            raise LayerError(f"techniques[{i}] has no techniqueID", file=str(path))
        if entry.get("enabled", True) is False or entry.get("score") == 0:
            continue
        found[entry["techniqueID"].strip().upper()] = None
    return list(found)


@dataclass(frozen=True, slots=True)
class ThreatTechnique:
    """A technique of a threat layer and its coverage (``unknown``: not in the ATT&CK data)."""

    id: str
    name: str
    status: Status | str
    rules: tuple[str, ...] = ()
    note: str = ""


def against(layer: Path, rules: list[Rule], attack: AttackData,
            verification: Verification | None) -> list[ThreatTechnique]:
    """The threat layer's techniques with their coverage: gaps, then tagged only, then verified."""
    order = {"unknown": 0, "gap": 1, "tagged": 2, "verified": 3}
    runnable = [r for r in rules if r.runnable]
    out = []
    for tid in read_layer_techniques(layer):
        tech = attack.techniques.get(tid)
        if tech is None:
            out.append(ThreatTechnique(tid, "", "unknown", note="not in the ATT&CK data"))
            continue
        cov = assess(tech, runnable, verification)
        out.append(ThreatTechnique(tid, tech.name, cov.status, cov.verified_by or cov.rules, cov.note))
    return sorted(out, key=lambda t: (order[t.status], t.id))

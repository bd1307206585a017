"""ATT&CK Navigator layers (format 4.5): export a coverage matrix, read a threat's layer, and list
the threat's techniques with their coverage (the gaps first).

The export is shaped by how the Navigator (5.1) renders a layer, checked in the real app
(tools/navigator_check.py, docs/navigator.md): its platform filter hides a technique none of
whose platforms is selected, and a sub-technique whose parent is hidden; its "annotated"
sub-technique expansion opens every parent with any annotated sub-technique (gaps included).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tokentrail.catalog.attack import AttackData, Technique, load_attack
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
                    rule_url: str = DEFAULT_RULE_URL, attack: AttackData | None = None) -> dict[str, Any]:
    """A Navigator 4.5 layer of ``cov``: one entry per technique and tactic, scored 2 verified,
    1 tagged only, 0 gap, with a comment saying why and links to the rules' pages
    (``rule_url`` with ``{id}``).

    The Navigator shows only techniques on the layer's filter platforms. When an entry (or its
    parent) lies off ``cov.platforms`` -- a tagged technique of another platform, or an on-platform
    sub-technique of an off-platform parent -- the filter gets the fewest extra platforms that
    show it, and every technique those platforms bring in that is not in ``cov`` is listed
    disabled with ``hideDisabled`` on, so the matrix still shows just the coverage. ``attack``
    (default: the shipped data when its version is ``cov``'s) gives the platforms; without it the
    filter is ``cov.platforms`` alone."""
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
    attack = attack if attack is not None else _shipped_attack(cov.attack_version)
    platforms: list[str] = list(cov.platforms)
    hidden: list[dict[str, Any]] = []
    if attack is not None:
        platforms += extra_platforms(cov, attack)
        if len(platforms) > len(cov.platforms):
            hidden = _disabled_entries(cov, attack, platforms)
    description = (f"TokenTrail coverage for {', '.join(cov.platforms)} (ATT&CK {cov.attack_version}): "
                   "2 verified by simulation, 1 tagged only, 0 gap.")
    if hidden:
        description += (f" The filter adds {', '.join(platforms[len(cov.platforms):])} so that techniques off those "
                        "platforms (or under an off-platform parent) show; the other techniques it brings in are "
                        "disabled and hidden.")
    major = cov.attack_version.split(".")[0]
    return {
        "name": name,
        "versions": {"attack": major, "navigator": NAVIGATOR_VERSION, "layer": LAYER_VERSION},
        "domain": "enterprise-attack",
        "description": description,
        "filters": {"platforms": platforms},
        "sorting": 3,
        # "none" keeps each entry's showSubtechniques: "annotated" would open every parent, since
        # gap sub-techniques carry a score and colour too.
        "layout": {"layout": "side", "aggregateFunction": "max", "showID": True, "showName": True,
                   "showAggregateScores": False, "countUnscored": False, "expandedSubtechniques": "none"},
        "hideDisabled": bool(hidden),
        "techniques": entries + hidden,
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


def _shipped_attack(version: str) -> AttackData | None:
    shipped = load_attack()
    return shipped if shipped.version == version else None


def shown_by(tech: Technique, attack: AttackData, platforms: set[str]) -> bool:
    """Whether the Navigator's platform filter shows ``tech``: one of its platforms is selected,
    and for a sub-technique one of its parent's too (names compared exactly, as it does)."""
    if not platforms & set(tech.platforms):
        return False
    parent = attack.techniques.get(tech.parent) if tech.parent else None
    return parent is None or bool(platforms & set(parent.platforms))


def extra_platforms(cov: Coverage, attack: AttackData) -> list[str]:
    """The platforms to add to ``cov.platforms`` so the Navigator shows every technique of
    ``cov``: greedily the one bringing in the fewest other techniques per still-hidden entry
    it shows (then the one showing more, then by name)."""
    selected = set(cov.platforms)
    # Each hidden entry needs one platform of its own and, for a sub-technique, one of its parent's.
    needs: list[frozenset[str]] = []
    for t in cov.techniques:
        tech = attack.techniques.get(t.id)
        if tech is None:
            continue
        needs.append(frozenset(tech.platforms))
        if tech.parent and tech.parent in attack.techniques:
            needs.append(frozenset(attack.techniques[tech.parent].platforms))
    open_needs = [n for n in needs if n and not n & selected]
    added: list[str] = []
    while open_needs:
        candidates = {p for n in open_needs for p in n}
        best = min(candidates, key=partial(_rank, needs=open_needs, attack=attack, selected=selected))
        added.append(best)
        selected.add(best)
        open_needs = [n for n in open_needs if best not in n]
    return added


def _rank(platform: str, *, needs: list[frozenset[str]], attack: AttackData,
          selected: set[str]) -> tuple[float, int, str]:
    # Weighted set cover, greedily: the fewest techniques brought in per entry it shows.
    brought = sum(1 for tech in attack.techniques.values()
                  if platform in tech.platforms and not selected & set(tech.platforms))
    served = sum(platform in n for n in needs)
    return (brought / served, -served, platform)


def _disabled_entries(cov: Coverage, attack: AttackData, platforms: list[str]) -> list[dict[str, Any]]:
    # The techniques the widened filter shows beyond the coverage, disabled so hideDisabled hides
    # them. A disabled parent of a listed sub-technique stays drawn (greyed); it opens when that
    # sub-technique is covered, as a listed parent does.
    listed = {t.id for t in cov.techniques}
    covered_parents = {t.id.split(".")[0] for t in cov.techniques if "." in t.id and t.status != "gap"}
    selected = set(platforms)
    out: list[dict[str, Any]] = []
    for tech in sorted(attack.techniques.values(), key=lambda t: t.id):
        if tech.id in listed or not shown_by(tech, attack, selected):
            continue
        extra = {"showSubtechniques": True} if tech.id in covered_parents else {}
        out.extend({"techniqueID": tech.id, "tactic": tactic, "enabled": False, **extra} for tactic in tech.tactics)
    return out


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

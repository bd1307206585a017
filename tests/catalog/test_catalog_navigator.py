"""The Navigator layer's fields that the real ATT&CK Navigator 5.1 rendered wrongly before (see
docs/navigator.md): sub-technique expansion per technique, and entries its platform filter hid
(an off-platform tagged technique, an on-platform sub-technique of an off-platform parent).

The visibility rule below is written out here from the Navigator's own filter (view-model.ts
``filterTechniques``: a technique is drawn when one of its platforms is selected; a
sub-technique is drawn under a drawn parent when one of its own is; ``hideDisabled`` drops a
disabled one unless one of its sub-techniques is enabled and on a selected platform), not taken
from the module under test.
"""

from __future__ import annotations

import json

import pytest

from tokentrail.catalog.attack import AttackData, Tactic, Technique, load_attack
from tokentrail.catalog.coverage import Coverage, TechniqueCoverage, coverage
from tokentrail.catalog.navigator import extra_platforms, navigator_layer
from tokentrail.rules.model import Rule

TACTICS = (Tactic("TA0001", "Initial Access", "initial-access"), Tactic("TA0005", "Defense Evasion", "defense-evasion"))


def _tech(tid: str, platforms: tuple[str, ...], tactics: tuple[str, ...] = ("initial-access",)) -> Technique:
    return Technique(tid, f"name of {tid}", tactics, platforms, (), tid.split(".")[0] if "." in tid else None)


def _attack(*techs: Technique, version: str = "18.1") -> AttackData:
    return AttackData(version, TACTICS, {t.id: t for t in techs})


def _cov(attack: AttackData, statuses: dict[str, str], platforms: tuple[str, ...] = ("SaaS",)) -> Coverage:
    rows = tuple(TechniqueCoverage(tid, attack.techniques[tid].name, attack.techniques[tid].tactics, status,
                                   rules=("r1",) if status != "gap" else ())
                 for tid, status in sorted(statuses.items()))
    return Coverage(platforms, attack.version, attack.tactics, rows, {"r1": "Rule One"})


def drawn(layer: dict, attack: AttackData) -> set[tuple[str, str]]:
    """(technique, tactic) cells the Navigator draws for ``layer`` over ``attack``."""
    selected = set(layer["filters"]["platforms"])
    enabled = {(e["techniqueID"], e["tactic"]): e.get("enabled", True) for e in layer["techniques"]}
    cells = set()
    for tech in attack.techniques.values():
        if tech.parent:
            continue
        for tactic in tech.tactics:
            subs = [s for s in attack.techniques.values() if s.parent == tech.id]
            any_sub_on = any(enabled.get((s.id, tactic), True) and selected & set(s.platforms) for s in subs)
            if layer["hideDisabled"] and not enabled.get((tech.id, tactic), True) and not any_sub_on:
                continue
            if not selected & set(tech.platforms):
                continue
            cells.add((tech.id, tactic))
            for sub in subs:
                if layer["hideDisabled"] and not enabled.get((sub.id, tactic), True):
                    continue
                if selected & set(sub.platforms):
                    cells.add((sub.id, tactic))
    return cells


def _enabled(layer: dict) -> set[tuple[str, str]]:
    return {(e["techniqueID"], e["tactic"]) for e in layer["techniques"] if e["enabled"]}


def test_layout_leaves_expansion_to_each_technique():
    attack = _attack(_tech("T1098", ("SaaS",)), _tech("T1098.001", ("SaaS",)), _tech("T1098.002", ("SaaS",)),
                     _tech("T1136", ("SaaS",)), _tech("T1136.003", ("SaaS",)))
    layer = navigator_layer(_cov(attack, {"T1098": "gap", "T1098.001": "tagged", "T1098.002": "gap",
                                          "T1136": "tagged", "T1136.003": "gap"}), attack=attack)
    # "annotated" would make the Navigator open T1136 too: its gap sub-technique has a score and colour.
    assert layer["layout"]["expandedSubtechniques"] == "none"
    show = {e["techniqueID"]: e["showSubtechniques"] for e in layer["techniques"]}
    assert show == {"T1098": True, "T1098.001": False, "T1098.002": False, "T1136": False, "T1136.003": False}


def test_everything_on_the_platforms_keeps_the_filter_and_hides_nothing():
    attack = _attack(_tech("T1528", ("SaaS",)), _tech("T1110", ("Linux",)))
    layer = navigator_layer(_cov(attack, {"T1528": "verified"}), attack=attack)
    assert layer["filters"]["platforms"] == ["SaaS"]
    assert layer["hideDisabled"] is False and "filter adds" not in layer["description"]
    assert all(e["enabled"] for e in layer["techniques"])
    assert drawn(layer, attack) == _enabled(layer) == {("T1528", "initial-access")}


def test_an_off_platform_tagged_technique_is_drawn_and_nothing_else_comes_with_it():
    attack = _attack(_tech("T1528", ("SaaS",)), _tech("T1090", ("Linux", "Network Devices")),
                     _tech("T1090.003", ("Network Devices",)), _tech("T1090.001", ("Linux",)),
                     _tech("T1200", ("Network Devices",), ("initial-access", "defense-evasion")),
                     _tech("T1003", ("Linux",)), _tech("T1004", ("Linux",)))
    layer = navigator_layer(_cov(attack, {"T1528": "gap", "T1090.003": "verified"}), attack=attack)
    # Network Devices shows the sub-technique and its parent and brings in one technique; Linux
    # would show the parent only and bring in three.
    assert layer["filters"]["platforms"] == ["SaaS", "Network Devices"]
    assert layer["hideDisabled"] is True
    assert "The filter adds Network Devices" in layer["description"]
    disabled = {(e["techniqueID"], e["tactic"]): e.get("showSubtechniques") for e in layer["techniques"]
                if not e["enabled"]}
    # The greyed parent opens to show its verified sub-technique.
    assert disabled == {("T1090", "initial-access"): True, ("T1200", "initial-access"): None,
                        ("T1200", "defense-evasion"): None}
    # What the Navigator draws: our entries, plus the disabled parent greyed out above its enabled sub.
    assert drawn(layer, attack) == _enabled(layer) | {("T1090", "initial-access")}


def test_an_on_platform_sub_technique_of_an_off_platform_parent_is_drawn():
    # T1036.010 (Masquerade Account Name) lists SaaS, its parent T1036 does not.
    attack = _attack(_tech("T1036", ("Containers", "Linux"), ("defense-evasion",)),
                     _tech("T1036.010", ("SaaS", "Containers"), ("defense-evasion",)),
                     _tech("T1036.005", ("Containers",), ("defense-evasion",)),
                     _tech("T1036.001", ("Linux",), ("defense-evasion",)),
                     _tech("T1610", ("Containers",), ("defense-evasion",)),
                     _tech("T1611", ("Linux",), ("defense-evasion",)), _tech("T1612", ("Linux",), ("defense-evasion",)))
    layer = navigator_layer(_cov(attack, {"T1036.010": "gap"}), attack=attack)
    assert layer["filters"]["platforms"] == ["SaaS", "Containers"]
    assert ("T1036.010", "defense-evasion") in drawn(layer, attack)
    assert drawn(layer, attack) == _enabled(layer) | {("T1036", "defense-evasion")}
    assert {e["techniqueID"] for e in layer["techniques"] if not e["enabled"]} == {"T1036", "T1036.005", "T1610"}
    # Its only listed sub-technique is a gap: the greyed parent stays closed.
    assert not any(e.get("showSubtechniques") for e in layer["techniques"])


def test_greedy_prefers_platforms_that_bring_in_less():
    big = [_tech(f"T30{i:02d}", ("Big",)) for i in range(10)]
    attack = _attack(_tech("T2001", ("A", "Big")), _tech("T2002", ("B", "Big")), *big)
    assert extra_platforms(_cov(attack, {"T2001": "tagged", "T2002": "tagged"}), attack) == ["A", "B"]
    # Once Big is the only way, it is taken, whatever it brings.
    attack = _attack(_tech("T2001", ("Big",)), *big)
    assert extra_platforms(_cov(attack, {"T2001": "tagged"}), attack) == ["Big"]


def test_without_matching_attack_data_the_filter_is_left_alone():
    attack = _attack(_tech("T1090", ("Linux",)), version="1.0")
    layer = navigator_layer(_cov(attack, {"T1090": "tagged"}))  # shipped data is another version
    assert layer["filters"]["platforms"] == ["SaaS"] and layer["hideDisabled"] is False


def _rule(tmp_path, techniques: list[str]) -> Rule:
    from tokentrail import load_rules

    path = tmp_path / "r.yml"
    path.write_text("title: Tagged\nid: 00000000-0000-4000-8000-0000000000b1\nstatus: test\nlevel: low\n"
                    f"tags: [{', '.join('attack.' + t.lower() for t in techniques)}]\n"
                    "logsource: {product: okta, service: okta}\n"
                    "detection:\n  sel:\n    eventType: user.never.happens\n  condition: sel\n")
    result = load_rules([path])
    assert not result.errors
    return result.runnable[0]


@pytest.mark.parametrize("tagged", [["T1090.003", "T1020"], []])
def test_shipped_attack_data_every_entry_drawn_nothing_else(tmp_path, tagged):
    attack = load_attack()
    cov = coverage([_rule(tmp_path, tagged or ["T1528"])], attack, None)
    layer = json.loads(json.dumps(navigator_layer(cov)))
    cells = drawn(layer, attack)
    assert _enabled(layer) <= cells
    # Beyond our entries only greyed parents of our sub-techniques (e.g. T1036 above T1036.010).
    extra = {tid for tid, _ in cells - _enabled(layer)}
    assert all(any(e["techniqueID"].startswith(tid + ".") for e in layer["techniques"] if e["enabled"])
               for tid in extra), extra
    platforms = layer["filters"]["platforms"]
    assert platforms[:4] == ["SaaS", "Identity Provider", "IaaS", "Office Suite"]
    if tagged:
        assert "Network Devices" in platforms
        assert {("T1090.003", "command-and-control"), ("T1020", "exfiltration")} <= cells

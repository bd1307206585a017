"""Coverage: verified / tagged only / gap on small rule sets run against real simulator scenarios,
the Navigator 4.5 layer's keys, and a threat layer's gaps (--against)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokentrail import load_rules
from tokentrail.catalog.attack import load_attack
from tokentrail.catalog.coverage import coverage
from tokentrail.catalog.coverage_report import coverage_json, coverage_markdown
from tokentrail.catalog.navigator import LayerError, against, navigator_layer, read_layer_techniques
from tokentrail.catalog.verify import verify_rules
from tokentrail.cli import app
from tokentrail.content import RULES_DIR
from tokentrail.simulate import SCENARIOS

WIDE = {"COLUMNS": "300", "NO_COLOR": "1", "TERM": "dumb"}
REVOKED_RULE = RULES_DIR / "sigma" / "okta_api_token_revoked.yml"
SCENARIO_NAMES = ("okta-api-token-revoked", "okta-api-token-created")


def _sigma(rule_id: str, title: str, tags: list[str], detection: str) -> str:
    return textwrap.dedent(f"""\
        title: {title}
        id: {rule_id}
        status: test
        level: low
        tags: [{", ".join(tags)}]
        logsource: {{product: okta, service: okta}}
        detection:
        """) + textwrap.indent(textwrap.dedent(detection), "    ")


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("rules")
    (d / "revoked.yml").write_text(REVOKED_RULE.read_text())
    # Tagged with a technique okta-api-token-created enacts, but looks for an event it never logs.
    (d / "silent.yml").write_text(_sigma("00000000-0000-4000-8000-0000000000a1", "Never Fires",
                                         ["attack.t1136"], "sel:\n  eventType: user.never.happens\n"
                                         "condition: sel\n"))
    # Tagged with another technique that scenario enacts, but fires on every sign-in: noisy.
    (d / "noisy.yml").write_text(_sigma("00000000-0000-4000-8000-0000000000a2", "Every Session",
                                        ["attack.t1098.001"], "sel:\n  eventType: user.session.start\n"
                                        "condition: sel\n"))
    # Tagged with a technique no scenario enacts.
    (d / "unsimulated.yml").write_text(_sigma("00000000-0000-4000-8000-0000000000a3", "Unsimulated",
                                              ["attack.t1539"], "sel:\n  eventType: user.never.happens\n"
                                              "condition: sel\n"))
    return d


@pytest.fixture(scope="module")
def loaded(rules_dir):
    result = load_rules([rules_dir])
    assert not result.errors, [str(e) for e in result.errors]
    return result.runnable


@pytest.fixture(scope="module")
def verification(loaded):
    return verify_rules(loaded, events=600, seed=3, scenarios=[SCENARIOS[n] for n in SCENARIO_NAMES])


def test_every_scenario_declares_known_techniques_its_rule_shares():
    attack = load_attack()
    bundled = {r.id: r for r in load_rules([RULES_DIR]).rules}
    for scenario in SCENARIOS.values():
        assert scenario.techniques, scenario.name
        assert set(scenario.techniques) <= set(attack.techniques), scenario.name
        assert set(scenario.techniques) & set(bundled[scenario.rule_id].techniques), scenario.name


def test_verified_tagged_and_gap(loaded, verification):
    assert "00000000-0000-4000-8000-0000000000a2" in verification.noisy
    cov = coverage(loaded, load_attack(), verification)
    t1528 = cov.get("T1528")
    assert t1528.status == "verified"
    assert t1528.verified_by == ("6e94fd3d-76d2-4f8a-a24e-0e8f12c7908f",)
    assert t1528.scenarios == ("okta-api-token-revoked",)
    assert cov.get("T1531").status == "verified"
    silent = cov.get("T1136")
    assert (silent.status, silent.note) == ("tagged", "no tagged rule alerted on okta-api-token-created")
    noisy = cov.get("T1098.001")
    assert noisy.status == "tagged" and "benign traffic" in noisy.note
    assert cov.get("T1539").note == "no simulator scenario enacts it"
    assert cov.get("T1550.001").status == "gap"
    assert cov.get("T1550.001").note == ""
    assert cov.counts()["verified"] == 2
    # The matrix lists techniques by tactic in ATT&CK's order, each under every tactic it serves.
    tactics = [t.shortname for t, _ in cov.by_tactic()]
    assert tactics.index("persistence") < tactics.index("credential-access") < tactics.index("impact")
    impact = dict((t.shortname, techs) for t, techs in cov.by_tactic())["impact"]
    assert "T1531" in [t.id for t in impact]


def test_platform_filter_and_off_platform_tags(loaded):
    cov = coverage(loaded, load_attack(), None, platforms=["Identity Provider"])
    assert all(t.status in ("tagged", "gap") for t in cov.techniques)
    on = {t.id for t in load_attack().on_platforms(["Identity Provider"])}
    # T1136 (Create Account) is not an Identity Provider technique, yet a rule tags it: listed, marked off.
    listed = {t.id: t for t in cov.techniques}
    assert set(listed) == on | {"T1136", "T1531", "T1539", "T1098.001"}
    assert listed["T1528"].on_platforms
    for tid, t in listed.items():
        assert t.on_platforms == (tid in on)


def test_json_and_markdown_views(loaded, verification):
    cov = coverage(loaded, load_attack(), verification)
    data = coverage_json(cov)
    assert data["counts"] == cov.counts()
    cred = next(t for t in data["tactics"] if t["shortname"] == "credential-access")
    assert {"id": "T1528", "status": "verified"}.items() <= next(
        t for t in cred["techniques"] if t["id"] == "T1528").items()
    assert data["noisy_rules"] == [{"id": "00000000-0000-4000-8000-0000000000a2", "title": "Every Session"}]
    text = coverage_markdown(cov, include_gaps=False)
    assert "## Rules that alert on benign traffic\n\n- Every Session" in text
    assert "| T1528 | Steal Application Access Token | ✅ verified | Okta API Token Revoked |" in text
    assert "T1550.001" not in text and "T1550.001" in coverage_markdown(cov)


def test_navigator_layer_has_the_required_keys(loaded, verification):
    attack = load_attack()
    cov = coverage(loaded, attack, verification)
    layer = json.loads(json.dumps(navigator_layer(cov, rule_url="https://example.test/{id}")))
    assert layer["domain"] == "enterprise-attack"
    assert layer["versions"]["layer"] == "4.5"
    assert layer["versions"]["attack"] == attack.version.split(".")[0]
    assert layer["versions"]["navigator"].split(".")[0] in ("4", "5")
    assert {"name", "description", "filters", "layout", "gradient", "legendItems"} <= set(layer)
    shortnames = {t.shortname for t in attack.tactics}
    for entry in layer["techniques"]:
        if entry["enabled"] is False:  # listed only to hide it (tests/catalog/test_catalog_navigator.py)
            assert set(entry) - {"showSubtechniques"} == {"techniqueID", "tactic", "enabled"}
            assert layer["hideDisabled"] is True
            continue
        assert {"techniqueID", "tactic", "score", "color", "comment", "links"} <= set(entry)
        assert entry["techniqueID"] in attack.techniques
        assert entry["tactic"] in shortnames and entry["tactic"] in attack.techniques[entry["techniqueID"]].tactics
        assert entry["color"].startswith("#") and len(entry["color"]) == 7
    t1528 = next(e for e in layer["techniques"] if e["techniqueID"] == "T1528")
    assert t1528["score"] == 2 and t1528["comment"].startswith("verified")
    assert t1528["links"] == [{"label": "Okta API Token Revoked",
                               "url": "https://example.test/6e94fd3d-76d2-4f8a-a24e-0e8f12c7908f"}]
    assert next(e for e in layer["techniques"] if e["techniqueID"] == "T1550.001")["score"] == 0


def _threat_layer(tmp_path: Path) -> Path:
    path = tmp_path / "threat.json"
    path.write_text(json.dumps({"name": "threat", "domain": "enterprise-attack", "techniques": [
        {"techniqueID": "T1528", "score": 5}, {"techniqueID": "t1550.001"},
        {"techniqueID": "T1136", "color": "#ff0000"}, {"techniqueID": "T9999"},
        {"techniqueID": "T1078", "score": 0}, {"techniqueID": "T1110", "enabled": False},
    ]}))
    return path


def test_against_a_threat_layer_lists_gaps_first(tmp_path, loaded, verification):
    layer = _threat_layer(tmp_path)
    assert read_layer_techniques(layer) == ["T1528", "T1550.001", "T1136", "T9999"]
    found = [(t.id, t.status) for t in against(layer, loaded, load_attack(), verification)]
    assert found == [("T9999", "unknown"), ("T1550.001", "gap"), ("T1136", "tagged"), ("T1528", "verified")]


def test_cli_against_exits_1_on_gaps_and_bad_layer_is_one_error(tmp_path, rules_dir):
    runner = CliRunner()
    result = runner.invoke(app, ["coverage", "-r", str(rules_dir), "--no-verify", "--against",
                                 str(_threat_layer(tmp_path)), "--format", "json"], env=WIDE)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["gaps"] == ["T9999", "T1550.001"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"techniques": [{"score": 1}]}')
    with pytest.raises(LayerError, match="techniques\\[0\\]"):
        read_layer_techniques(bad)
    result = runner.invoke(app, ["coverage", "-r", str(rules_dir), "--no-verify", "--against", str(bad)], env=WIDE)
    assert result.exit_code == 2 and "bad.json" in result.output


def test_cli_navigator_file_and_table(tmp_path, rules_dir):
    out = tmp_path / "layer.json"
    result = CliRunner().invoke(app, ["coverage", "-r", str(rules_dir), "--events", "400", "--format",
                                      "navigator", "-o", str(out), "--rule-url", "https://c.test/r/{id}"], env=WIDE)
    assert result.exit_code == 0, result.output
    layer = json.loads(out.read_text())
    assert layer["versions"]["layer"] == "4.5"
    t1528 = next(e for e in layer["techniques"] if e["techniqueID"] == "T1528")
    assert t1528["links"][0]["url"] == "https://c.test/r/6e94fd3d-76d2-4f8a-a24e-0e8f12c7908f"
    bad = CliRunner().invoke(app, ["coverage", "--no-verify", "--rule-url", "https://c.test/"], env=WIDE)
    assert bad.exit_code == 2 and "must contain {id}" in bad.output
    scores = {e["techniqueID"]: e["score"] for e in layer["techniques"] if e["enabled"]}
    assert scores["T1528"] == 2 and scores["T1539"] == 1
    table = CliRunner().invoke(app, ["coverage", "-r", str(rules_dir), "--no-verify"], env=WIDE)
    assert table.exit_code == 0
    assert "T1528" in table.stdout and "tagged only" in table.stdout and "T1550.001" not in table.stdout


def test_bundled_pack_each_scenario_rule_verifies_what_it_shares_with_its_scenario():
    pack = load_rules().runnable
    cov = coverage(pack, load_attack(), verify_rules(pack, events=800, seed=5))
    ids = {r.id for r in pack}
    for scenario in SCENARIOS.values():
        if scenario.rule_id not in ids:
            continue
        rule = next(r for r in pack if r.id == scenario.rule_id)
        for tid in set(scenario.techniques) & set(rule.techniques):
            assert scenario.rule_id in cov.get(tid).verified_by, (scenario.name, tid)


def test_rule_errors_during_verification_are_counted_and_reported(tmp_path):
    (tmp_path / "broken.yml").write_text(textwrap.dedent("""\
        AnalysisType: rule
        RuleID: Test.Broken
        DisplayName: Broken On Every Event
        Enabled: true
        Filename: broken.py
        LogTypes: [Okta.SystemLog]
        Severity: Low
        Reports:
          MITRE ATT&CK: ["TA0006:T1528"]
        """))
    (tmp_path / "broken.py").write_text("def rule(event):\n    return event['no_such_key'] == 1\n")
    loaded = load_rules([tmp_path])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    verification = verify_rules(loaded.runnable, events=300, seed=2, scenarios=[SCENARIOS["okta-api-token-revoked"]])
    assert verification.rule_errors["Test.Broken"] > 0
    cov = coverage(loaded.runnable, load_attack(), verification)
    assert cov.get("T1528").status == "tagged"
    result = CliRunner().invoke(app, ["coverage", "-r", str(tmp_path), "--events", "300"], env=WIDE)
    assert "warning: rule Test.Broken raised errors on" in result.output


def test_a_gap_a_scenario_enacts_says_so():
    pack = load_rules().runnable
    scenario, untagged = next((s, u) for s in SCENARIOS.values()
                              if (u := [t for t in s.techniques if not any(t in r.techniques for r in pack)]))
    verification = verify_rules(pack, events=300, seed=4, scenarios=[scenario])
    gap = coverage(pack, load_attack(), verification).get(untagged[0])
    assert gap.status == "gap" and gap.scenarios == (scenario.name,)
    assert gap.note == f"no loaded rule is tagged with it; enacted by {scenario.name}"


def test_platform_names_ignore_case_and_unknown_ones_are_one_error(loaded, rules_dir):
    cov = coverage(loaded, load_attack(), None, platforms=["saas"])
    assert cov.platforms == ("SaaS",) and cov.get("T1528").on_platforms
    result = CliRunner().invoke(app, ["coverage", "-r", str(rules_dir), "--no-verify", "--platform", "Mainframe"],
                                env=WIDE)
    assert result.exit_code == 2
    assert "unknown ATT&CK platform(s) Mainframe; known:" in result.output and "Identity Provider" in result.output

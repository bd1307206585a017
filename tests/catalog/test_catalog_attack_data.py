"""ATT&CK data derived from STIX: a hand-made bundle gives the expected compact data, the shipped
file is small and names every technique the bundled rules tag, and `attack update` rebuilds it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tokentrail import load_rules
from tokentrail.catalog.attack import ATTACK_FILE, AttackDataError, derive, load_attack, read_stix
from tokentrail.cli import app

MARK = "marking-definition--0"


def _ref(attack_id: str) -> list[dict]:
    return [{"source_name": "mitre-attack", "external_id": attack_id}]


def _pattern(uid: str, attack_id: str, name: str, **extra) -> dict:
    return {"type": "attack-pattern", "id": f"attack-pattern--{uid}", "name": name,
            "external_references": _ref(attack_id), "x_mitre_domains": ["enterprise-attack"],
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "credential-access"}],
            "x_mitre_platforms": ["SaaS", "Identity Provider"], **extra}


def _bundle() -> dict:
    objects = [
        {"type": "x-mitre-collection", "id": "x-mitre-collection--1", "x_mitre_version": "99.1"},
        {"type": "x-mitre-tactic", "id": "x-mitre-tactic--p", "name": "Persistence",
         "x_mitre_shortname": "persistence", "external_references": _ref("TA0003")},
        {"type": "x-mitre-tactic", "id": "x-mitre-tactic--c", "name": "Credential Access",
         "x_mitre_shortname": "credential-access", "external_references": _ref("TA0006")},
        {"type": "x-mitre-tactic", "id": "x-mitre-tactic--old", "name": "Gone", "x_mitre_deprecated": True,
         "x_mitre_shortname": "gone", "external_references": _ref("TA0999")},
        # Matrix order puts credential access first: the derived tactics must follow it.
        {"type": "x-mitre-matrix", "id": "x-mitre-matrix--1",
         "tactic_refs": ["x-mitre-tactic--c", "x-mitre-tactic--p", "x-mitre-tactic--old"]},
        _pattern("a", "T9001", "Parent Technique"),
        _pattern("b", "T9001.002", "Second Sub", x_mitre_is_subtechnique=True,
                 x_mitre_platforms=["IaaS"]),
        _pattern("c", "T9001.001", "First Sub", x_mitre_is_subtechnique=True),
        _pattern("d", "T9001.003", "Deprecated Sub", x_mitre_is_subtechnique=True, x_mitre_deprecated=True),
        _pattern("e", "T9002", "Revoked Technique", revoked=True),
        _pattern("f", "T9003", "Mobile Only", x_mitre_domains=["mobile-attack"]),
        {"type": "relationship", "id": "relationship--1", "relationship_type": "subtechnique-of",
         "source_ref": "attack-pattern--b", "target_ref": "attack-pattern--a"},
        {"type": "relationship", "id": "relationship--2", "relationship_type": "subtechnique-of",
         "source_ref": "attack-pattern--c", "target_ref": "attack-pattern--a"},
        # v18 shape: a detection strategy's analytic names a data component in its log sources.
        {"type": "x-mitre-data-source", "id": "x-mitre-data-source--1", "name": "Application Log"},
        {"type": "x-mitre-data-component", "id": "x-mitre-data-component--1", "name": "Log Content",
         "x_mitre_data_source_ref": "x-mitre-data-source--1"},
        {"type": "x-mitre-data-component", "id": "x-mitre-data-component--2", "name": "Token Use"},
        {"type": "x-mitre-analytic", "id": "x-mitre-analytic--1", "x_mitre_log_source_references": [
            {"x_mitre_data_component_ref": "x-mitre-data-component--2", "name": "okta:system"}]},
        {"type": "x-mitre-detection-strategy", "id": "x-mitre-detection-strategy--1",
         "x_mitre_analytic_refs": ["x-mitre-analytic--1"]},
        {"type": "relationship", "id": "relationship--3", "relationship_type": "detects",
         "source_ref": "x-mitre-detection-strategy--1", "target_ref": "attack-pattern--c"},
        # Older shape: the data component itself detects the technique.
        {"type": "relationship", "id": "relationship--4", "relationship_type": "detects",
         "source_ref": "x-mitre-data-component--1", "target_ref": "attack-pattern--a"},
    ]
    return {"type": "bundle", "id": "bundle--1", "objects": objects}


def test_derive_drops_revoked_and_deprecated_and_nests_subtechniques():
    data = derive(_bundle()["objects"])
    assert data["attack_version"] == "99.1"
    assert [t["shortname"] for t in data["tactics"]] == ["credential-access", "persistence"]
    assert [t["id"] for t in data["techniques"]] == ["T9001"]
    parent = data["techniques"][0]
    assert parent["name"] == "Parent Technique"
    assert parent["data_sources"] == ["Application Log: Log Content"]
    subs = parent["subtechniques"]
    assert [s["id"] for s in subs] == ["T9001.001", "T9001.002"]
    assert subs[0]["data_sources"] == ["Token Use"]
    assert subs[1]["platforms"] == ["IaaS"]
    assert subs[0]["tactics"] == ["credential-access"]


def test_update_writes_a_file_load_attack_reads(tmp_path):
    stix = tmp_path / "bundle.json"
    stix.write_text(json.dumps(_bundle()))
    out = tmp_path / "attack.json"
    result = CliRunner().invoke(app, ["attack", "update", str(stix), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 techniques, 2 sub-techniques" in result.output
    data = load_attack(out)
    assert data.techniques["T9001.002"].parent == "T9001"
    bundle = _bundle()
    bundle["objects"][6]["name"] = "Renamed Sub"  # T9001.002: a rebuild is seen at once
    stix.write_text(json.dumps(bundle))
    assert CliRunner().invoke(app, ["attack", "update", str(stix), "-o", str(out)]).exit_code == 0
    assert load_attack(out).techniques["T9001.002"].name == "Renamed Sub"
    data = load_attack(out)
    assert [t.id for t in data.subtechniques("T9001")] == ["T9001.001", "T9001.002"]
    assert {t.id for t in data.on_platforms(["iaas"])} == {"T9001.002"}
    assert data.techniques["T9001.001"].url == "https://attack.mitre.org/techniques/T9001/001/"


def test_a_directory_of_object_files_reads_like_a_bundle(tmp_path):
    for i, obj in enumerate(_bundle()["objects"]):
        (tmp_path / f"{i}.json").write_text(json.dumps({"type": "bundle", "objects": [obj]}))
    assert derive(read_stix(tmp_path)) == derive(_bundle()["objects"])


def test_bad_stix_input_is_one_error_naming_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(AttackDataError, match="bad.json"):
        read_stix(bad)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"type": "bundle", "objects": []}))
    result = CliRunner().invoke(app, ["attack", "update", str(empty), "-o", str(tmp_path / "o.json")])
    assert result.exit_code == 2
    assert "no ATT&CK techniques" in result.output
    assert not (tmp_path / "o.json").exists()


def test_shipped_data_is_small_and_names_every_bundled_rule_technique():
    assert ATTACK_FILE.stat().st_size < 1_500_000
    assert (Path(ATTACK_FILE).parent / "NOTICE.txt").read_text().count("The MITRE Corporation") >= 2
    data = load_attack()
    assert {t.shortname for t in data.tactics} >= {"credential-access", "persistence", "defense-evasion"}
    assert data.on_platforms(["Identity Provider"])
    tagged = {t for r in load_rules().rules for t in r.techniques}
    assert tagged, "the bundled pack tags techniques"
    assert tagged <= set(data.techniques), sorted(tagged - set(data.techniques))


def test_the_tool_in_tools_rebuilds_the_same_data_as_the_command(tmp_path):
    import subprocess
    import sys

    tool = Path(__file__).resolve().parents[2] / "tools" / "build_attack_data.py"
    stix = tmp_path / "bundle.json"
    stix.write_text(json.dumps(_bundle()))
    by_tool, by_cli = tmp_path / "tool.json", tmp_path / "cli.json"
    done = subprocess.run([sys.executable, str(tool), str(stix), "-o", str(by_tool)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ATT&CK 99.1, 2 tactics, 1 techniques, 2 sub-techniques" in done.stdout
    assert CliRunner().invoke(app, ["attack", "update", str(stix), "-o", str(by_cli)]).exit_code == 0
    assert by_tool.read_bytes() == by_cli.read_bytes()
    failed = subprocess.run([sys.executable, str(tool), str(tmp_path / "missing.json")], capture_output=True,
                            text=True, timeout=120)
    assert failed.returncode == 1 and "missing.json" in failed.stderr

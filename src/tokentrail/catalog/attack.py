"""ATT&CK Enterprise data: derived from MITRE's STIX bundle, shipped as compact JSON in content/attack/.

``derive`` turns STIX objects into the compact form (tactics in matrix order; techniques with
their sub-techniques, names, tactics, platforms and detection data sources; revoked and deprecated
objects dropped); ``load_attack`` reads the shipped file into frozen models.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tokentrail.catalog.datafile import write_item_per_line
from tokentrail.content import CONTENT_DIR
from tokentrail.errors import TokenTrailError

ATTACK_FILE = CONTENT_DIR / "attack" / "enterprise-attack.json"
_DOMAIN = "enterprise-attack"


class AttackDataError(TokenTrailError):
    """A STIX bundle or the derived ATT&CK file cannot be read."""


@dataclass(frozen=True, slots=True)
class Tactic:
    """An ATT&CK tactic: ``id`` (TA0006), ``name``, ``shortname`` (credential-access)."""

    id: str
    name: str
    shortname: str


@dataclass(frozen=True, slots=True)
class Technique:
    """A technique or sub-technique; ``parent`` is the technique id of a sub-technique."""

    id: str
    name: str
    tactics: tuple[str, ...]
    platforms: tuple[str, ...]
    data_sources: tuple[str, ...]
    parent: str | None = None

    @property
    def url(self) -> str:
        """The technique's page on attack.mitre.org."""
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/") + "/"


@dataclass(frozen=True)
class AttackData:
    """Tactics in matrix order and every technique and sub-technique by id."""

    version: str
    tactics: tuple[Tactic, ...]
    techniques: Mapping[str, Technique]

    def subtechniques(self, technique_id: str) -> list[Technique]:
        """The sub-techniques of one technique, by id."""
        return sorted((t for t in self.techniques.values() if t.parent == technique_id), key=lambda t: t.id)

    def on_platforms(self, platforms: Iterable[str]) -> list[Technique]:
        """Techniques and sub-techniques listing any of ``platforms`` (compared case-insensitively)."""
        wanted = {p.casefold() for p in platforms}
        return [t for t in self.techniques.values() if wanted & {p.casefold() for p in t.platforms}]


def read_stix(path: Path) -> list[dict[str, Any]]:
    """STIX objects of a bundle file, or of every ``*.json`` under a directory (MITRE's cti layout)."""
    files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
    objects: list[dict[str, Any]] = []
    for file in files:
        try:
            data = json.loads(file.read_bytes())
        except (OSError, ValueError) as exc:
            raise AttackDataError(f"cannot read STIX JSON: {exc}", file=str(file)) from exc
        if not isinstance(data, dict):
            raise AttackDataError("not a STIX bundle or object", file=str(file))
        found = data.get("objects", [data]) if data.get("type") == "bundle" else [data]
        objects.extend(o for o in found if isinstance(o, dict))
    return objects


def derive(objects: Iterable[Mapping[str, Any]], *, version: str | None = None) -> dict[str, Any]:
    """The compact ATT&CK data (a JSON-ready dict) from STIX objects of the Enterprise domain."""
    live = [o for o in objects if not o.get("revoked") and not o.get("x_mitre_deprecated")]
    by_id = {o["id"]: o for o in live if "id" in o}
    found_version = version or next(
        (str(o["x_mitre_version"]) for o in live if o.get("type") == "x-mitre-collection"), "unknown")
    tactics = _tactics(live, by_id)
    sources = _data_sources(live, by_id)
    patterns = [o for o in live if o.get("type") == "attack-pattern" and _attack_id(o)
                and _DOMAIN in o.get("x_mitre_domains", [_DOMAIN])]
    parents = {r["source_ref"]: r["target_ref"] for r in live if r.get("type") == "relationship"
               and r.get("relationship_type") == "subtechnique-of"}
    techniques: dict[str, dict[str, Any]] = {}
    for o in sorted(patterns, key=_attack_id):
        tid = _attack_id(o)
        entry = {
            "id": tid,
            "name": o.get("name", ""),
            "tactics": [p["phase_name"] for p in o.get("kill_chain_phases", [])
                        if p.get("kill_chain_name") == "mitre-attack"],
            "platforms": list(o.get("x_mitre_platforms", [])),
            "data_sources": sources.get(o["id"], sorted(o.get("x_mitre_data_sources", []))),
        }
        if o.get("x_mitre_is_subtechnique"):
            parent = by_id.get(parents.get(o["id"], ""))
            parent_id = _attack_id(parent) if parent else tid.split(".")[0]
            techniques.setdefault(parent_id, {}).setdefault("subtechniques", []).append(entry)
        else:
            techniques[tid] = {**entry, "subtechniques": techniques.get(tid, {}).get("subtechniques", [])}
    orphans = [k for k, v in techniques.items() if "name" not in v]
    for k in orphans:  # sub-techniques whose parent is revoked or absent stand on their own
        for sub in techniques.pop(k)["subtechniques"]:
            techniques[sub["id"]] = {**sub, "subtechniques": []}
    return {"domain": _DOMAIN, "attack_version": found_version, "tactics": tactics,
            "techniques": sorted(techniques.values(), key=lambda t: t["id"])}


def write_attack(data: Mapping[str, Any], path: Path = ATTACK_FILE) -> Path:
    """Write derived data as compact JSON (one technique per line, so diffs stay readable)."""
    return write_item_per_line(data, "techniques", path)


def update_from_stix(stix: Path, out: Path = ATTACK_FILE, *, version: str | None = None) -> AttackData:
    """Rebuild the ATT&CK data file from a STIX bundle (or directory); return what was written."""
    data = derive(read_stix(stix), version=version)
    if not data["techniques"]:
        raise AttackDataError("no ATT&CK techniques in the STIX input", file=str(stix))
    write_attack(data, out)
    _load.cache_clear()  # a later load_attack() in this process reads the new file
    return parse_attack(data)


def parse_attack(data: Mapping[str, Any]) -> AttackData:
    """Frozen models from the compact JSON form."""
    techniques: dict[str, Technique] = {}

    def add(entry: Mapping[str, Any], parent: str | None) -> None:
        techniques[entry["id"]] = Technique(entry["id"], entry["name"], tuple(entry["tactics"]),
                                            tuple(entry["platforms"]), tuple(entry["data_sources"]), parent)

    for entry in data["techniques"]:
        add(entry, None)
        for sub in entry.get("subtechniques", []):
            add(sub, entry["id"])
    tactics = tuple(Tactic(t["id"], t["name"], t["shortname"]) for t in data["tactics"])
    return AttackData(str(data.get("attack_version", "unknown")), tactics, techniques)


def load_attack(path: Path | None = None) -> AttackData:
    """The ATT&CK data from ``path`` (default: the shipped file, read once)."""
    return _load(path or ATTACK_FILE)


@cache
def _load(path: Path) -> AttackData:
    try:
        return parse_attack(json.loads(path.read_bytes()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AttackDataError(f"cannot read ATT&CK data: {exc}", file=str(path)) from exc


def _attack_id(obj: Mapping[str, Any]) -> str:
    for ref in obj.get("external_references", []):
        if ref.get("source_name") == "mitre-attack" and ref.get("external_id"):
            return str(ref["external_id"])
    return ""


def _tactics(live: list[Mapping[str, Any]], by_id: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """Tactics in the Enterprise matrix's order (by id when no matrix object is given)."""
    matrix = next((o for o in live if o.get("type") == "x-mitre-matrix"), None)
    if matrix is not None:
        found = [by_id[r] for r in matrix.get("tactic_refs", []) if r in by_id]
    else:
        found = sorted((o for o in live if o.get("type") == "x-mitre-tactic"), key=_attack_id)
    return [{"id": _attack_id(o), "name": o.get("name", ""), "shortname": o.get("x_mitre_shortname", "")}
            for o in found]


def _data_sources(live: list[Mapping[str, Any]], by_id: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """STIX id of a technique -> names of the data components that detect it.

    Two shapes: ``detects`` from a data component (ATT&CK up to v17), or from a detection
    strategy whose analytics name data components in their log sources (v18 on).
    """
    out: dict[str, set[str]] = {}
    for rel in live:
        if rel.get("type") != "relationship" or rel.get("relationship_type") != "detects":
            continue
        source = by_id.get(rel.get("source_ref", ""))
        if source is None:
            continue
        components: list[Mapping[str, Any]] = []
        if source.get("type") == "x-mitre-data-component":
            components = [source]
        elif source.get("type") == "x-mitre-detection-strategy":
            for ref in source.get("x_mitre_analytic_refs", []):
                analytic = by_id.get(ref, {})
                for log in analytic.get("x_mitre_log_source_references", []):
                    component = by_id.get(log.get("x_mitre_data_component_ref", ""))
                    if component is not None:
                        components.append(component)
        for component in components:
            out.setdefault(rel.get("target_ref", ""), set()).add(_component_name(component, by_id))
    return {k: sorted(v) for k, v in out.items()}


def _component_name(component: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> str:
    """``Data Source: Component`` when the component names its source, else the component's name."""
    source = by_id.get(component.get("x_mitre_data_source_ref", ""))
    name = str(component.get("name", ""))
    return f"{source['name']}: {name}" if source and source.get("name") else name

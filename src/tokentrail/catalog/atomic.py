"""Atomic Red Team tests for the cloud, SaaS and identity platforms, and the rules that catch them.

The facts (each test's GUID, name, technique, platforms and executor) are derived from Red Canary's
``atomics/T*/T*.yaml`` files by ``derive_atomic`` (``tools/build_atomic_data.py``) into
``content/atomic/atomic-tests.json``. What TokenTrail adds is kept apart, in
``content/atomic/evidence.yml``: which log source a test leaves its evidence in, the simulator
scenario that enacts that evidence, and a short summary in our own words.

``atomic_coverage`` runs the evidence scenarios through a rule set: a test is *covered* when a
rule alerts on its evidence (and not on benign traffic), a *gap* when TokenTrail reads the
source of its evidence but no rule alerts, and *no evidence we read* when its evidence lands in a
source TokenTrail does not read (Entra ID sign-in logs, CloudTrail, ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from tokentrail.catalog.datafile import write_item_per_line
from tokentrail.content import CONTENT_DIR
from tokentrail.errors import TokenTrailError
from tokentrail.rules.model import Rule

if TYPE_CHECKING:
    from tokentrail.catalog.verify import Verification

ATOMIC_DIR = CONTENT_DIR / "atomic"
ATOMIC_FILE = ATOMIC_DIR / "atomic-tests.json"
EVIDENCE_FILE = ATOMIC_DIR / "evidence.yml"
SOURCE_REPO = "redcanaryco/atomic-red-team"
# Atomic Red Team's platform names for cloud, SaaS and identity services ("iaas:*" covers the rest).
CLOUD_PLATFORMS: tuple[str, ...] = (
    "iaas", "iaas:aws", "iaas:azure", "iaas:gcp", "azure-ad", "office-365", "google-workspace", "saas",
)

AtomicStatus = Literal["covered", "gap", "no-evidence"]
STATUSES: tuple[AtomicStatus, ...] = ("covered", "gap", "no-evidence")


class AtomicDataError(TokenTrailError):
    """An atomics file, the derived Atomic data or its evidence file cannot be read."""


@dataclass(frozen=True, slots=True)
class AtomicTest:
    """One Atomic Red Team test.

    ``technique`` is where Atomic Red Team files the test now; ``earlier_techniques`` where it was
    filed before (seed 004 shows the Microburst Key Vault dump under T1528, since moved to
    T1555.006). ``evidence_source`` names the TokenTrail log family holding the test's evidence
    (None: a source TokenTrail does not read); ``evidence_scenario`` the simulator scenario
    enacting that evidence.
    """

    guid: str
    name: str
    technique: str
    platforms: tuple[str, ...]
    description_summary: str | None
    executor: str
    evidence_scenario: str | None
    evidence_source: str | None = None
    earlier_techniques: tuple[str, ...] = ()

    @property
    def techniques(self) -> tuple[str, ...]:
        """Every technique the test is or was filed under, the current one first."""
        return (self.technique, *self.earlier_techniques)

    @property
    def url(self) -> str:
        """The test's technique page in the Atomic Red Team repository."""
        return f"https://github.com/{SOURCE_REPO}/blob/master/atomics/{self.technique}/{self.technique}.md"


@dataclass(frozen=True, slots=True)
class AtomicResult:
    """The rules that alert on one test's simulated evidence (and stay quiet on benign traffic).

    ``evidence`` False: TokenTrail does not read the source the test leaves evidence in, so no rule
    here could see it — distinct from a gap.
    """

    test: AtomicTest
    firing_rule_ids: tuple[str, ...]
    evidence: bool

    @property
    def status(self) -> AtomicStatus:
        """``covered``, ``gap`` (evidence we read, no rule fires) or ``no-evidence``."""
        if not self.evidence:
            return "no-evidence"
        return "covered" if self.firing_rule_ids else "gap"


@dataclass(frozen=True)
class AtomicBuild:
    """What ``derive_atomic`` made: the JSON-ready data and one line per file it could not read."""

    data: Mapping[str, Any]
    problems: tuple[str, ...]


def is_cloud(platforms: Iterable[str]) -> bool:
    """Whether any of a test's platforms is a cloud, SaaS or identity one."""
    return any(p in CLOUD_PLATFORMS or p.startswith("iaas:") for p in platforms)


def derive_atomic(atomics_dir: Path, *, earlier: Sequence[Path] = (), commit: str | None = None) -> AtomicBuild:
    """The cloud/SaaS/identity tests of an ``atomics/`` directory (``T*/T*.yaml``).

    ``earlier`` names older checkouts of the same directory: a test (by GUID) they file under
    another technique gets that technique in ``earlier_techniques``. A file that cannot be read is
    reported in ``problems`` and skipped.
    """
    problems: list[str] = []
    tests = _read_tests(atomics_dir, problems)
    filed_before: dict[str, list[str]] = {}
    for old_dir in earlier:
        for entry in _read_tests(old_dir, problems):
            filed_before.setdefault(entry["guid"], []).append(entry["technique"])
    for entry in tests:
        before = [t for t in filed_before.get(entry["guid"], []) if t != entry["technique"]]
        entry["earlier_techniques"] = sorted(set(before))
    data = {"source": SOURCE_REPO, "commit": commit, "platforms": list(CLOUD_PLATFORMS),
            "tests": sorted(tests, key=lambda t: (technique_key(t["technique"]), t["name"], t["guid"]))}
    return AtomicBuild(data, tuple(problems))


def _read_tests(atomics_dir: Path, problems: list[str]) -> list[dict[str, Any]]:
    root = atomics_dir / "atomics" if (atomics_dir / "atomics").is_dir() else atomics_dir
    out: list[dict[str, Any]] = []
    for path in sorted(root.glob("T*/T*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            problems.append(f"{path}: cannot read: {' '.join(str(exc).split())}")
            continue
        if not isinstance(doc, Mapping) or not isinstance(doc.get("atomic_tests"), list):
            problems.append(f"{path}: no atomic_tests list")
            continue
        technique = str(doc.get("attack_technique") or path.parent.name).strip()
        for i, test in enumerate(doc["atomic_tests"]):
            entry = _test_entry(test, technique)
            if entry is None:
                problems.append(f"{path}: test {i + 1} lacks a name, GUID or platforms")
            elif is_cloud(entry["platforms"]):
                out.append(entry)
    return out


def _test_entry(test: Any, technique: str) -> dict[str, Any] | None:
    if not isinstance(test, Mapping):
        return None
    name, guid = test.get("name"), test.get("auto_generated_guid")
    platforms = test.get("supported_platforms")
    if not isinstance(name, str) or not isinstance(guid, str) or not isinstance(platforms, list):
        return None
    executor = test.get("executor")
    return {"guid": guid.strip(), "name": name.strip(), "technique": technique,
            "platforms": [str(p) for p in platforms],
            "executor": str(executor.get("name", "")) if isinstance(executor, Mapping) else ""}


def technique_key(tid: str) -> tuple[int, int]:
    """Sort key putting ATT&CK ids in numeric order (T1098 < T1528 < T1555.006)."""
    base, _, sub = tid.lstrip("T").partition(".")
    return (int(base) if base.isdigit() else 0, int(sub) if sub.isdigit() else 0)


def write_atomic(data: Mapping[str, Any], path: Path = ATOMIC_FILE) -> Path:
    """Write derived data as JSON, one test per line (so diffs stay readable)."""
    return write_item_per_line(data, "tests", path)


def parse_atomic(data: Mapping[str, Any], evidence: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> tuple[AtomicTest, ...]:
    """Frozen models from the derived JSON and the evidence entries (GUID -> source, scenario,
    summary)."""
    notes = evidence or {}
    tests = []
    for entry in data["tests"]:
        note = notes.get(entry["guid"], {})
        tests.append(AtomicTest(
            guid=entry["guid"], name=entry["name"], technique=entry["technique"],
            platforms=tuple(entry["platforms"]), description_summary=note.get("summary"),
            executor=entry.get("executor", ""), evidence_scenario=note.get("scenario"),
            evidence_source=note.get("source"),
            earlier_techniques=tuple(entry.get("earlier_techniques", ()))))
    return tuple(tests)


def load_atomic_tests(path: Path | None = None, evidence_path: Path | None = None) -> tuple[AtomicTest, ...]:
    """The Atomic tests (default: the shipped data and evidence files, read once)."""
    return _load(path or ATOMIC_FILE, evidence_path or EVIDENCE_FILE)


@cache
def _load(path: Path, evidence_path: Path) -> tuple[AtomicTest, ...]:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise AtomicDataError(f"cannot read Atomic data: {exc}", file=str(path)) from exc
    evidence = read_evidence(evidence_path)
    try:
        tests = parse_atomic(data, evidence)
    except (KeyError, TypeError) as exc:
        raise AtomicDataError(f"malformed Atomic data: {exc!r}", file=str(path)) from exc
    unknown = sorted(set(evidence) - {t.guid for t in tests})
    if unknown:
        raise AtomicDataError(f"evidence for tests not in the Atomic data: {', '.join(unknown)}",
                              file=str(evidence_path))
    return tests


def read_evidence(path: Path) -> dict[str, dict[str, Any]]:
    """GUID -> {source, scenario, summary} from an evidence file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AtomicDataError(f"cannot read Atomic evidence: {' '.join(str(exc).split())}", file=str(path)) from exc
    entries = doc.get("tests") if isinstance(doc, Mapping) else None
    if not isinstance(entries, Mapping):
        raise AtomicDataError("evidence file needs a `tests` mapping of GUIDs", file=str(path))
    out: dict[str, dict[str, Any]] = {}
    for guid, entry in entries.items():
        if not isinstance(entry, Mapping) or not set(entry) <= {"source", "scenario", "summary"}:
            raise AtomicDataError(f"{guid}: expected source, scenario and summary keys", file=str(path))
        if entry.get("scenario") and not entry.get("source"):
            raise AtomicDataError(f"{guid}: a scenario needs the source it writes", file=str(path))
        out[str(guid)] = {k: str(v) for k, v in entry.items() if v is not None}
    return out


def atomic_tests_for(technique_id: str, tests: Iterable[AtomicTest] | None = None) -> tuple[AtomicTest, ...]:
    """The tests filed (now or before) under ``technique_id``; ``T1555`` does not include ``T1555.006``."""
    wanted = technique_id.upper()
    return tuple(t for t in (load_atomic_tests() if tests is None else tests) if wanted in t.techniques)


def atomic_coverage(rules: Sequence[Rule], verification: Verification | None = None, *,
                    tests: Iterable[AtomicTest] | None = None,
                    events: int | None = None, seed: int | None = None) -> tuple[AtomicResult, ...]:
    """Each test with the rules of ``rules`` that alert on its evidence scenario and on no benign
    control.

    ``verification`` (a ``catalog.verify.Verification``) is reused where it ran a test's scenario;
    scenarios it lacks (or all, when it is None) are simulated here with ``events`` and ``seed``
    (default: the verification's, else ``verify``'s defaults).
    """
    from tokentrail.catalog.verify import DEFAULT_EVENTS, DEFAULT_SEED, verify_rules
    from tokentrail.simulate import SCENARIOS

    chosen = tuple(load_atomic_tests() if tests is None else tests)
    wanted = sorted({t.evidence_scenario for t in chosen if t.evidence_scenario})
    unknown = [name for name in wanted if name not in SCENARIOS]
    if unknown:
        raise AtomicDataError(f"evidence scenario(s) not in the simulator: {', '.join(unknown)}",
                              file=str(EVIDENCE_FILE))
    fired: dict[str, frozenset[str]] = {}
    noisy: frozenset[str] = frozenset()
    if verification is not None:
        fired = {run.scenario: run.fired for run in verification.runs}
        noisy = verification.noisy
    missing = [name for name in wanted if name not in fired]
    if missing:
        extra = verify_rules(
            rules, scenarios=[SCENARIOS[name] for name in missing],
            events=events or (verification.events if verification else DEFAULT_EVENTS),
            seed=seed if seed is not None else (verification.seed if verification else DEFAULT_SEED))
        fired.update((run.scenario, run.fired) for run in extra.runs)
        noisy = noisy | extra.noisy
    ids = {r.id for r in rules}
    return tuple(
        AtomicResult(t, tuple(sorted((fired.get(t.evidence_scenario or "", frozenset()) & ids) - noisy)),
                     t.evidence_source is not None)
        for t in chosen)


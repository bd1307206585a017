"""ATT&CK coverage of a rule set: each technique verified, tagged only, or a gap.

*verified*: a loaded rule tagged with the technique alerted on a simulator scenario that enacts
it and on none of the benign controls. *tagged*: a rule carries the tag but no such run shows
it working (the note says why). *gap*: no loaded rule is tagged with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tokentrail.catalog.attack import AttackData, Tactic, Technique
from tokentrail.catalog.verify import Verification
from tokentrail.errors import ConfigError
from tokentrail.rules.model import Rule

Status = Literal["verified", "tagged", "gap"]
STATUSES: tuple[Status, ...] = ("verified", "tagged", "gap")
DEFAULT_PLATFORMS: tuple[str, ...] = ("SaaS", "Identity Provider", "IaaS", "Office Suite")


@dataclass(frozen=True, slots=True)
class TechniqueCoverage:
    """One technique's status, the rules tagged with it and the rules a scenario verified."""

    id: str
    name: str
    tactics: tuple[str, ...]
    status: Status
    rules: tuple[str, ...] = ()
    verified_by: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    note: str = ""
    on_platforms: bool = True


@dataclass(frozen=True)
class Coverage:
    """The matrix for ``platforms``: tactics in matrix order and every technique's coverage."""

    platforms: tuple[str, ...]
    attack_version: str
    tactics: tuple[Tactic, ...]
    techniques: tuple[TechniqueCoverage, ...]
    rule_titles: Mapping[str, str]
    unknown_tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    noisy: tuple[str, ...] = ()  # rules that alerted on benign traffic

    def by_tactic(self) -> list[tuple[Tactic, list[TechniqueCoverage]]]:
        """(tactic, its techniques by id) for every tactic that has any."""
        rows = []
        for tactic in self.tactics:
            found = sorted((t for t in self.techniques if tactic.shortname in t.tactics), key=lambda t: t.id)
            if found:
                rows.append((tactic, found))
        return rows

    def counts(self) -> dict[str, int]:
        """How many techniques have each status."""
        return {s: sum(1 for t in self.techniques if t.status == s) for s in STATUSES}

    def get(self, technique_id: str) -> TechniqueCoverage | None:
        """The coverage of one technique in the matrix, if it is there."""
        return next((t for t in self.techniques if t.id == technique_id.upper()), None)


def assess(technique: Technique, rules: Sequence[Rule], verification: Verification | None,
           *, on_platforms: bool = True) -> TechniqueCoverage:
    """One technique's coverage by ``rules`` given the scenario runs (None: nothing was run)."""
    tagged = tuple(sorted(r.id for r in rules if technique.id in r.techniques))
    common = {"id": technique.id, "name": technique.name, "tactics": technique.tactics,
              "rules": tagged, "on_platforms": on_platforms}
    if not tagged:
        enacted = tuple(r.scenario for r in verification.runs_for(technique.id)) if verification else ()
        note = f"no loaded rule is tagged with it; enacted by {', '.join(enacted)}" if enacted else ""
        return TechniqueCoverage(status="gap", scenarios=enacted, note=note, **common)
    if verification is None:
        return TechniqueCoverage(status="tagged", note="not verified: no simulation was run", **common)
    runs = verification.runs_for(technique.id)
    scenarios = tuple(r.scenario for r in runs)
    if not runs:
        return TechniqueCoverage(status="tagged", note="no simulator scenario enacts it", **common)
    noisy = verification.noisy
    fired = {rid for run in runs for rid in run.fired} & set(tagged)
    verified = tuple(sorted(fired - noisy))
    if verified:
        return TechniqueCoverage(status="verified", verified_by=verified, scenarios=scenarios, **common)
    if fired:
        note = "tagged rules also alert on benign traffic: " + ", ".join(sorted(fired))
    else:
        note = "no tagged rule alerted on " + ", ".join(scenarios)
    return TechniqueCoverage(status="tagged", scenarios=scenarios, note=note, **common)


def coverage(rules: Sequence[Rule], attack: AttackData, verification: Verification | None, *,
             platforms: Iterable[str] = DEFAULT_PLATFORMS) -> Coverage:
    """The coverage matrix of ``rules`` for ``platforms``; techniques the rules tag that lie off
    those platforms are listed too (``on_platforms`` False), so no tagged rule goes unseen.
    Platform names match regardless of case; an unknown one raises ``ConfigError``."""
    chosen = tuple(platforms)
    known = {p.casefold(): p for t in attack.techniques.values() for p in t.platforms}
    unknown = [p for p in chosen if p.casefold() not in known]
    if unknown:
        raise ConfigError(f"unknown ATT&CK platform(s) {', '.join(unknown)}; known: {', '.join(sorted(known.values()))}")
    chosen = tuple(known[p.casefold()] for p in chosen)
    runnable = [r for r in rules if r.runnable]
    on = {t.id for t in attack.on_platforms(chosen)}
    tagged = {t for r in runnable for t in r.techniques if t in attack.techniques}
    rows = tuple(assess(attack.techniques[tid], runnable, verification, on_platforms=tid in on)
                 for tid in sorted(on | tagged))
    unknown: dict[str, list[str]] = {}
    for r in runnable:
        for t in r.techniques:
            if t not in attack.techniques:
                unknown.setdefault(t, []).append(r.id)
    return Coverage(chosen, attack.version, attack.tactics, rows, {r.id: r.title for r in runnable},
                    {t: tuple(ids) for t, ids in sorted(unknown.items())},
                    tuple(sorted(verification.noisy)) if verification else ())

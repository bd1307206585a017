"""Run each simulator scenario and its matched benign control through the rules, in process.

A scenario's run is ``events`` events of its source's benign traffic with the attack mixed in;
the control is the same source's benign traffic alone (same size and seed). Which rules alerted
on each is what coverage verification reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tokentrail.engine import StreamingEngine
from tokentrail.rules.model import Rule
from tokentrail.simulate import BENIGN, SCENARIOS, Scenario, generate

DEFAULT_EVENTS = 2_000
DEFAULT_SEED = 11


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    """The rules that alerted on one scenario's run, and the techniques it enacts."""

    scenario: str
    source: str
    techniques: tuple[str, ...]
    fired: frozenset[str]


@dataclass(frozen=True)
class Verification:
    """Rule ids alerting on each source's benign control, and each scenario's run."""

    events: int
    seed: int
    benign: Mapping[str, frozenset[str]]
    runs: tuple[ScenarioRun, ...]

    @property
    def noisy(self) -> frozenset[str]:
        """Rules that alerted on benign traffic of any source."""
        return frozenset().union(*self.benign.values())

    def runs_for(self, technique: str) -> list[ScenarioRun]:
        """The scenario runs that enact ``technique``."""
        return [r for r in self.runs if technique in r.techniques]


def verify_rules(rules: Sequence[Rule], *, events: int = DEFAULT_EVENTS, seed: int = DEFAULT_SEED,
                 scenarios: Iterable[Scenario] | None = None) -> Verification:
    """Simulate every scenario (default: all) and its benign control; scan each with ``rules``."""
    runnable = [r for r in rules if r.runnable]
    chosen = list(SCENARIOS.values() if scenarios is None else scenarios)
    benign = {source: _fired(runnable, generate([BENIGN], events=events, seed=seed, sources=(source,)))
              for source in sorted({s.source for s in chosen})}
    runs = tuple(
        ScenarioRun(s.name, s.source, s.techniques,
                    _fired(runnable, generate([s.name], events=events, seed=seed, sources=(s.source,))))
        for s in chosen
    )
    return Verification(events, seed, benign, runs)


def _fired(rules: Sequence[Rule], events: Iterable[Mapping]) -> frozenset[str]:
    engine = StreamingEngine(rules)
    return frozenset(Counter(a.rule_id for a in engine.run(events)))

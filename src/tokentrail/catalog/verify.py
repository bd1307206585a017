"""Run each simulator scenario and its matched benign control through the rules, in process.

A scenario's run is ``events`` events of its source's benign traffic with the attack mixed in;
the control is the same source's benign traffic alone (same size and seed). Which rules alerted
on each is what coverage verification reads.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tokentrail.engine import StreamingEngine
from tokentrail.engine.plan import build_plan
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
    """Rule ids alerting on each source's benign control, and each scenario's run; ``rule_errors``
    counts, per rule id, the events a rule raised an error on (such a rule may miss its scenario)."""

    events: int
    seed: int
    benign: Mapping[str, frozenset[str]]
    runs: tuple[ScenarioRun, ...]
    rule_errors: Mapping[str, int] = field(default_factory=dict)

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
    errors: Counter[str] = Counter()
    plan = build_plan(runnable)  # compiled once for all the runs, which take turns

    def fired(names: list[str], source: str) -> frozenset[str]:
        engine = StreamingEngine(runnable, plan=plan)
        alerts = engine.run(generate(names, events=events, seed=seed, sources=(source,)))
        errors.update(e.rule_id for e in engine.rule_errors)
        return frozenset(a.rule_id for a in alerts)

    benign = {source: fired([BENIGN], source) for source in sorted({s.source for s in chosen})}
    runs = tuple(ScenarioRun(s.name, s.source, s.techniques, fired([s.name], s.source)) for s in chosen)
    return Verification(events, seed, benign, runs, dict(errors))

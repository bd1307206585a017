"""Generated Panther Python rules that lift into the IR, events that probe where the IR and the
Python read values differently, and a counter of the events a Python rule is asked about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from tokentrail.rules.model import PythonLogic

WORDS = ["user.session.start", "app.oauth2.token.grant", "User.Session.Start", "Service", "SUCCESS", "oauth"]
# (how the Python reads the field, the value at the end of the path in generated events)
READS = {
    "eventType": 'event.get("eventType")',
    "actor.type": 'event.deep_get("actor", "type")',
    "outcome.result": 'event.deep_get("outcome", "result")',
    "flag": 'event.get("flag")',
}
# Values on which the IR and the Python disagree by design, or where the Python raises.
ODD = [True, False, 0, 5, None, {}, {"type": "Service"}, [], ["Service"], [{"type": "Service"}],
       "true", "false", "0", ""]


@st.composite
def condition(draw, depth: int = 2) -> str:
    """A Python boolean expression over ``event`` that the lifter reads."""
    if depth > 0 and draw(st.integers(0, 2)) == 0:
        op = draw(st.sampled_from(["and", "or"]))
        return f"({draw(condition(depth - 1))} {op} {draw(condition(depth - 1))})"
    if depth > 0 and draw(st.integers(0, 5)) == 0:
        return f"not ({draw(condition(depth - 1))})"
    name = draw(st.sampled_from(sorted(READS)))
    read = READS[name]
    word = draw(st.sampled_from(WORDS))
    form = draw(st.integers(0, 6))
    if form == 0:
        return f'{read} == "{word}"'
    if form == 1:
        return f'{read} != "{word}"'
    if form == 2:
        return f'{read} in ("{word}", "{draw(st.sampled_from(WORDS))}")'
    if form == 3:
        return f'({read} or "").startswith("{word[:4]}")'
    if form == 4:
        return f'({read} or "").lower() == "{word.lower()}"'
    if form == 5:
        return f'"{word[:5]}" in ({read} or "")'
    return f"bool({read})" if draw(st.booleans()) else f"not {read}"


@st.composite
def python_rules(draw, n: int) -> list[tuple[str, str]]:
    """``n`` Panther rules as (YAML, Python source); each has a title, so alerts group by it."""
    out = []
    for i in range(n):
        yml = (f"AnalysisType: rule\nRuleID: Gen.Lift.{i}\nDisplayName: generated {i}\nEnabled: true\n"
               f"Filename: gen_{i}.py\nLogTypes: [Okta.SystemLog]\nSeverity: Low\n")
        title = draw(st.sampled_from(['return "one group"', 'return f"{event.deep_get(\'actor\', \'type\')}"']))
        py = f"def rule(event):\n    return {draw(condition())}\n\n\ndef title(event):\n    {title}\n"
        out.append((yml, py))
    return out


def write_rules(folder: Path, rules: list[tuple[str, str]]) -> list[Path]:
    """Write generated rules to ``folder``; their YAML files."""
    paths = []
    for i, (yml, py) in enumerate(rules):
        (folder / f"gen_{i}.yml").write_text(yml, encoding="utf-8")
        (folder / f"gen_{i}.py").write_text(py, encoding="utf-8")
        paths.append(folder / f"gen_{i}.yml")
    return paths


value = st.one_of(st.sampled_from(WORDS), st.sampled_from(ODD))


@st.composite
def okta_events(draw, n: int) -> list[dict[str, Any]]:
    """Okta events whose read fields hold text, odd values, case-variant keys or nothing."""
    out = []
    for i in range(n):
        event: dict[str, Any] = {"eventType": draw(st.sampled_from(WORDS[:3])), "uuid": f"e{i}",
                                 "published": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z"}
        for key, inner in (("actor", "type"), ("outcome", "result")):
            shape = draw(st.integers(0, 5))
            if shape == 1:
                event[key] = {inner: draw(value)}
            elif shape == 2:
                event[key] = {inner.upper(): draw(value)}  # Panther's events look keys up in any case
            elif shape == 3:
                event[key] = [{inner: draw(value)}]
            elif shape == 4:
                event[key] = draw(value)
            elif shape == 5:
                event[key.capitalize()] = {inner: draw(value)}
        if draw(st.booleans()):
            event["flag" if draw(st.booleans()) else "FLAG"] = draw(value)
        out.append(event)
    return out


class Counting:
    """A Python detection that counts the events it is asked about (then asks the real one)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked = 0

    def matches(self, event):
        self.asked += 1
        return self.inner.matches(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def count_python(engine) -> list[Counting]:
    """Wrap every Python unit of ``engine`` (a streaming engine) in a ``Counting``."""
    counters = []
    for unit in engine.plan.units:
        if unit.python is not None:
            unit.python = Counting(unit.python)
            counters.append(unit.python)
    return counters


def lifted_ids(rules) -> set[str]:
    return {r.id for r in rules if isinstance(r.logic, PythonLogic) and r.logic.lifted is not None}

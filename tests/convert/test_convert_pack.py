"""Every bundled rule and every rule in tests/data, to every target: a query, or a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokentrail import convert, load_rules
from tokentrail.convert import TARGETS, portability
from tokentrail.convert.registry import LIFTED_CAVEAT
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import PythonLogic

DATA = Path(__file__).resolve().parents[1] / "data"


def _rules():
    pack = load_rules()
    data = load_rules([DATA], context=LoadContext(allow_python=True))
    assert not pack.errors and not data.errors
    return [*pack.rules, *data.rules]


RULES = _rules()


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.format}:{Path(r.path).name}:{r.id[:8]}")
def test_every_rule_converts_to_every_target_or_says_why(rule):
    conversions = [convert(rule, t, rules=RULES) for t in TARGETS]
    for c in conversions:
        assert (c.rule_id, c.path) == (rule.id, rule.path)
        if c.status == "not_convertible":
            assert c.query == "" and len(c.caveats) == 1 and c.caveats[0].strip(), c
            assert not c.caveats[0].startswith("conversion failed"), c.caveats
        else:
            assert c.query.strip(), c
            assert (c.status == "caveats") == bool(c.caveats), c
    by_target = {c.target: c for c in conversions}
    if isinstance(rule.logic, PythonLogic) and rule.logic.lifted is None:
        assert {c.caveats for c in conversions} == {(f"Python logic cannot be converted: {rule.logic.not_lifted}",)}
        assert portability(conversions) == 0
    elif isinstance(rule.logic, PythonLogic):
        # The lifted condition converts (every query saying what of the Python it leaves
        # behind), unless something else stops it, such as a log type TokenTrail does not know.
        converted = [c for c in conversions if c.status != "not_convertible"]
        assert all(c.status == "caveats" and LIFTED_CAVEAT in c.caveats for c in converted)
        assert converted or not any(c.caveats[0].startswith("Python") for c in conversions), conversions
        assert bool(portability(conversions)) == bool(converted)
    else:
        # Every declarative rule of ours can be shared as Sigma and has a query somewhere else.
        assert by_target["sigma"].status != "not_convertible", by_target["sigma"].caveats
        assert any(c.status != "not_convertible" for t, c in by_target.items() if t != "sigma")
        assert portability(conversions) > 0


def test_the_pack_has_each_kind_of_rule_the_converter_handles():
    kinds = {type(r.logic).__name__ for r in RULES}
    assert {"Correlation", "PythonLogic"} <= kinds and kinds & {"All", "Any", "Cmp"}
    assert any(r.grouping.threshold > 1 for r in RULES) and any(r.grouping.new_terms for r in RULES)

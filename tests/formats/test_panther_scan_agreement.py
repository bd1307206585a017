"""The bundled Panther rules in a scan agree with their own tests: each test without Mocks,
written as one JSON line and scanned, gives a match of its rule exactly when ExpectedResult is
true (the same check the Panther-parity report runs over panther-analysis)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokentrail import api
from tokentrail.rules.loader import LoadContext, load_rules
from tokentrail.rules.model import PythonLogic

PACK = Path(__file__).resolve().parents[2] / "src" / "tokentrail" / "content" / "rules" / "panther"
RULES = [
    r
    for r in load_rules([PACK], context=LoadContext(allow_python=True)).rules
    if isinstance(r.logic, PythonLogic) and r.runnable
]
CASES = [(r, t) for r in RULES for t in r.tests if not t.mocks]


def test_the_pack_has_cases_of_both_verdicts() -> None:
    assert {t.expected for _, t in CASES} == {True, False} and len(CASES) >= 10


@pytest.mark.parametrize(("rule", "test"), CASES, ids=[f"{r.id}:{t.name}" for r, t in CASES])
def test_scanning_the_test_log_agrees_with_expected_result(tmp_path: Path, rule, test) -> None:
    line = tmp_path / "event.jsonl"
    line.write_text(json.dumps(test.event) + "\n")
    matched: list[str] = []
    result = api.scan([line], [rule], on_match=lambda m: matched.append(m.rule_id))
    assert result.rule_errors == [] and result.read_errors == []
    assert (rule.id in matched) is test.expected

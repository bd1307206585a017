"""Scan/test parity: every rule test of the bundled pack and of tests/data gives the same verdict
through the rule-test runner as its event written as one log line gives through a real scan.

Covers Sigma ``tests:``, Elastic sidecar tests and Panther ``Tests`` (those without ``Mocks``: a
mock replaces code a scan runs for real). A correlation test's events (or a grouped rule's, such
as an ES|QL STATS) are written one per line and the scan must raise the rule's alert.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from tokentrail import load_rules, scan
from tokentrail.content import RULES_DIR
from tokentrail.engine.testing import run_rule_tests
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import Correlation, Rule, RuleTest

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
# Rules whose tests hold events in real exports' shapes; their scans must also meet the expectation.
SHAPES = TEST_DATA / "parity"


def _scan_verdict(rule: Rule, test: RuleTest, pool: list[Rule], path: Path) -> bool:
    # A correlation's test, or a grouped rule's test of several events, must raise the alert.
    correlation = isinstance(rule.logic, Correlation) or (
        rule.grouping.window is not None and set(test.event) == {"events"})
    events = test.event.get("events") if correlation else [test.event]
    path.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    if correlation:
        return any(alert.rule_id == rule.id for alert in scan([path], pool).alerts)
    matches = []
    scan([path], [rule], on_match=matches.append)
    return any(match.rule_id == rule.id for match in matches)


def test_every_rule_test_gives_the_same_verdict_in_a_scan(tmp_path):
    loaded = load_rules([RULES_DIR, TEST_DATA], context=LoadContext(allow_python=True))
    assert not loaded.errors, [str(e) for e in loaded.errors]
    pool = list(loaded.rules)
    results = {(r.rule_id, r.name): r for r in run_rule_tests(pool)}
    checked, by_format, disagreements = 0, {}, []
    for rule in pool:
        for n, test in enumerate(rule.tests):
            if test.mocks:
                continue
            tested = results[(rule.id, test.name)]
            scanned = _scan_verdict(rule, test, pool, tmp_path / f"{checked}.jsonl")
            checked += 1
            by_format[rule.format] = by_format.get(rule.format, 0) + 1
            if bool(tested.actual) != scanned:
                disagreements.append(f"{rule.path} test {n} {test.name!r}: test {tested.actual}, scan {scanned}")
            elif Path(rule.path).is_relative_to(SHAPES) and scanned != test.expected:
                disagreements.append(f"{rule.path} test {n} {test.name!r}: expected {test.expected}, both {scanned}")
    assert disagreements == []
    # Every kind of test is in the check (not an empty loop passing by default).
    assert by_format.get("sigma", 0) >= 30 and by_format.get("elastic", 0) >= 8 and by_format.get("panther", 0) >= 8
    assert checked >= 80

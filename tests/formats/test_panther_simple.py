"""Panther simple detections (``Detection:`` match expressions) lowered to the IR: each
condition, the key specifiers, the combinators, errors, and the rule's own tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tokentrail.compile.python import compile_expr
from tokentrail.engine.testing import run_rule_tests
from tokentrail.formats.panther.analysis import SIMPLE, SIMPLE_TESTS_SKIPPED
from tokentrail.formats.panther.simple import MAX_ONLY_ONE
from tokentrail.formats.panther.testing import run_panther_tests
from tokentrail.rules.ir import Cmp
from tokentrail.rules.loader import load_rules

HEAD = """\
AnalysisType: rule
RuleID: {rule_id}
Enabled: true
LogTypes: [Okta.SystemLog]
Severity: Medium
DedupPeriodMinutes: 15
Threshold: 2
"""


def _write(tmp_path: Path, detection: list, *, name: str = "r.yml", extra: str = "") -> Path:
    path = tmp_path / name
    body = yaml.safe_dump({"Detection": detection}, sort_keys=False)
    path.write_text(HEAD.format(rule_id=f"Simple.{path.stem}") + extra + body, encoding="utf-8")
    return path


def _matcher(tmp_path: Path, *detection: dict):
    loaded = load_rules([_write(tmp_path, list(detection))])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    (rule,) = loaded.rules
    assert rule.unsupported is None, rule.unsupported
    return compile_expr(rule.logic)


def _error(tmp_path: Path, *detection: object) -> str:
    loaded = load_rules([_write(tmp_path, list(detection))])
    assert not loaded.rules
    (error,) = loaded.errors
    assert error.file == str(tmp_path / "r.yml") and error.line == 8  # the Detection key
    return error.message


# Condition, Value(s), an event value that matches, one that does not.
CASES = [
    ("Equals", "SUCCESS", "SUCCESS", "success"),
    ("DoesNotEqual", "FAILURE", "SUCCESS", "FAILURE"),
    ("Contains", "oauth2", "app.oauth2.token", "app.OAUTH2.token"),
    ("DoesNotContain", "oauth2", "user.session", "app.oauth2.token"),
    ("StartsWith", "app.", "app.oauth2", "App.oauth2"),
    ("DoesNotStartWith", "app.", "user.app.", "app.x"),
    ("EndsWith", ".grant", "token.grant", "token.GRANT"),
    ("DoesNotEndWith", ".grant", "token.revoke", "token.grant"),
    ("IsGreaterThan", 5, 6, 5),
    ("IsGreaterThanOrEquals", 5, 5, 4),
    ("IsLessThan", 5, 4, 5),
    ("IsLessThanOrEquals", 5, 5, 6),
    ("IsIPAddressInCIDR", "10.0.0.0/8", "10.1.2.3", "192.0.2.1"),
    ("IsIPAddressNotInCIDR", "10.0.0.0/8", "192.0.2.1", "10.1.2.3"),
]


@pytest.mark.parametrize(("condition", "value", "hit", "miss"), CASES)
def test_each_scalar_condition(tmp_path, condition, value, hit, miss):
    match = _matcher(tmp_path, {"KeyPath": "outcome.result", "Condition": condition, "Value": value})
    assert match({"outcome": {"result": hit}})
    assert not match({"outcome": {"result": miss}})


@pytest.mark.parametrize(("condition", "hit", "miss"), [
    ("IsIn", "b", "B"), ("IsNotIn", "c", "a"),
])
def test_list_conditions(tmp_path, condition, hit, miss):
    match = _matcher(tmp_path, {"Key": "eventType", "Condition": condition, "Values": ["a", "b"]})
    assert match({"eventType": hit}) and not match({"eventType": miss})


@pytest.mark.parametrize(("condition", "hits", "misses"), [
    ("IsNull", [None, "<missing>"], ["", "x"]),
    ("IsNotNull", ["", "x"], [None, "<missing>"]),
    ("IsNullOrEmpty", [None, "<missing>", ""], ["x"]),
    ("IsNotNullOrEmpty", ["x"], [None, "<missing>", ""]),
    ("IsIPAddressPrivate", ["10.0.0.1", "192.168.1.1"], ["8.8.8.8", "nope"]),
    ("IsIPAddressPublic", ["8.8.8.8"], ["10.0.0.1", "nope"]),
])
def test_conditions_without_a_value(tmp_path, condition, hits, misses):
    match = _matcher(tmp_path, {"DeepKey": ["client", "ipAddress"], "Condition": condition})

    def event(value):
        return {"client": {}} if value == "<missing>" else {"client": {"ipAddress": value}}

    assert all(match(event(v)) for v in hits), hits
    assert not any(match(event(v)) for v in misses), misses


def test_key_specifiers_reach_the_same_field(tmp_path):
    event = {"target": [{"type": "User"}, {"type": "AppInstance"}]}
    for i, spec in enumerate(({"KeyPath": "target[*].type"}, {"DeepKey": ["target", "type"]})):
        folder = tmp_path / str(i)
        folder.mkdir()
        match = _matcher(folder, {**spec, "Condition": "Equals", "Value": "AppInstance"})
        assert match(event) and not match({"target": [{"type": "User"}]})


def test_detection_items_all_hold_and_combinators_nest(tmp_path):
    a = {"Key": "a", "Condition": "Equals", "Value": "1"}
    b = {"Key": "b", "Condition": "Equals", "Value": "1"}
    c = {"Key": "c", "Condition": "Equals", "Value": "1"}
    match = _matcher(tmp_path, a, {"Any": [b, {"None": [c]}]})
    assert match({"a": "1", "b": "1", "c": "1"})
    assert match({"a": "1"})  # c absent: None holds
    assert not match({"a": "1", "c": "1"})
    assert not match({"b": "1"})


@pytest.mark.parametrize(("present", "expected"), [
    ((), False), (("a",), True), (("b",), True), (("c",), True), (("a", "b"), False), (("a", "b", "c"), False),
])
def test_only_one(tmp_path, present, expected):
    items = [{"Key": k, "Condition": "Equals", "Value": "1"} for k in "abc"]
    match = _matcher(tmp_path, {"OnlyOne": items})
    assert match({k: "1" for k in present}) is expected


def test_only_one_over_the_limit_is_a_load_error(tmp_path):
    items = [{"Key": f"k{i}", "Condition": "IsNotNull"} for i in range(MAX_ONLY_ONE + 1)]
    assert "OnlyOne with more than" in _error(tmp_path, {"OnlyOne": items})


@pytest.mark.parametrize(("item", "message"), [
    ({"Key": "a", "Condition": "IsFuzzy", "Value": "x"}, "unknown Condition 'IsFuzzy'"),
    ({"Key": "a", "Condition": "Equals", "Value": "x", "Colour": 1}, "unknown key 'Colour'"),
    ({"Key": "a", "Value": "x"}, "needs a Condition"),
    ({"Condition": "Equals", "Value": "x"}, "exactly one of Key, KeyPath or DeepKey"),
    ({"Key": "a", "KeyPath": "a", "Condition": "IsNull"}, "exactly one of Key, KeyPath or DeepKey"),
    ({"Key": "a", "Condition": "Equals"}, "Equals needs one scalar Value"),
    ({"Key": "a", "Condition": "Equals", "Value": [1, 2]}, "Equals needs one scalar Value"),
    ({"Key": "a", "Condition": "IsIn", "Value": "x"}, "IsIn needs a non-empty list"),
    ({"Key": "a", "Condition": "IsNull", "Value": "x"}, "IsNull takes no Value"),
    ({"All": []}, "All must hold a non-empty list"),
    ("just text", "must be a mapping"),
])
def test_malformed_expressions_are_load_errors_with_file_and_line(tmp_path, item, message):
    assert message in _error(tmp_path, item)


def test_a_bad_file_does_not_stop_the_others(tmp_path):
    _write(tmp_path, [{"Key": "a", "Condition": "Nope", "Value": 1}], name="bad.yml")
    _write(tmp_path, [{"Key": "a", "Condition": "Equals", "Value": "1"}], name="good.yml")
    loaded = load_rules([tmp_path])
    assert [r.id for r in loaded.rules] == ["Simple.good"]
    assert [Path(e.file).name for e in loaded.errors] == ["bad.yml"]


def test_forms_the_ir_cannot_express_load_unsupported_with_tests_skipped(tmp_path):
    extra = "Tests:\n  - {Name: t, ExpectedResult: true, Log: {repos: [{action: x}]}}\n"
    path = _write(tmp_path, [{"DeepKey": ["repos"], "Condition": "AnyElement",
                              "Expressions": [{"Key": "action", "Condition": "Equals", "Value": "x"}]}],
                  extra=extra)
    (rule,) = load_rules([path]).rules
    assert rule.logic is None and rule.unsupported.startswith(SIMPLE)
    assert "list comprehension" in rule.unsupported
    (result,) = run_rule_tests([rule])
    assert result.skipped and result.detail == SIMPLE_TESTS_SKIPPED


def test_other_keys_load_as_for_python_rules(tmp_path):
    (rule,) = load_rules([_write(tmp_path, [{"Key": "eventType", "Condition": "Equals", "Value": "x"}])]).rules
    assert rule.id == "Simple.r" and rule.severity == "medium" and "okta" in rule.log_types
    assert rule.grouping.window == 15 * 60 and rule.grouping.threshold == 2
    assert rule.logic == Cmp("eventType", "eq", ("x",), cased=True)


def test_inline_filters_apply_before_the_detection(tmp_path):
    extra = "InlineFilters:\n  - {KeyPath: outcome.result, Condition: Equals, Value: SUCCESS}\n"
    path = _write(tmp_path, [{"Key": "eventType", "Condition": "StartsWith", "Value": "app."}], extra=extra)
    (rule,) = load_rules([path]).rules
    match = compile_expr(rule.logic)
    assert match({"eventType": "app.x", "outcome": {"result": "SUCCESS"}})
    assert not match({"eventType": "app.x", "outcome": {"result": "FAILURE"}})


RULE_WITH_TESTS = """\
AnalysisType: rule
RuleID: Simple.WithTests
Enabled: true
LogTypes: [Okta.SystemLog]
Severity: High
Detection:
  - KeyPath: eventType
    Condition: IsIn
    Values: [app.oauth2.as.token.grant.access_token, app.oauth2.token.grant.refresh_token]
  - Any:
      - KeyPath: client.ipAddress
        Condition: IsIPAddressNotInCIDR
        Value: 10.0.0.0/8
      - KeyPath: outcome.result
        Condition: DoesNotEqual
        Value: SUCCESS
Tests:
  - Name: token from outside
    ExpectedResult: true
    Log:
      eventType: app.oauth2.token.grant.refresh_token
      client: {ipAddress: 192.0.2.7}
      outcome: {result: SUCCESS}
  - Name: token from inside
    ExpectedResult: false
    Log:
      eventType: app.oauth2.token.grant.refresh_token
      client: {ipAddress: 10.2.3.4}
      outcome: {result: SUCCESS}
  - Name: another event
    ExpectedResult: false
    Log:
      eventType: user.session.start
      client: {ipAddress: 192.0.2.7}
  - Name: wrong expectation
    ExpectedResult: true
    Log:
      eventType: user.session.start
"""


def test_the_rules_own_tests_run(tmp_path):
    path = tmp_path / "t.yml"
    path.write_text(RULE_WITH_TESTS, encoding="utf-8")
    (rule,) = load_rules([path]).rules
    results = {r.name: r for r in run_rule_tests([rule])}
    assert not any(r.skipped for r in results.values())
    assert {name: r.passed for name, r in results.items()} == {
        "token from outside": True, "token from inside": True, "another event": True,
        "wrong expectation": False,
    }


def test_pat_style_runner_skips_simple_detection_tests_as_pat_does(tmp_path):
    path = tmp_path / "t.yml"
    path.write_text(RULE_WITH_TESTS, encoding="utf-8")
    (rule,) = load_rules([path]).rules
    outcomes = run_panther_tests([rule])
    assert len(outcomes) == 4 and all(o.skipped and o.detail == SIMPLE_TESTS_SKIPPED for o in outcomes)

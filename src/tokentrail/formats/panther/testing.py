"""Unit tests of Panther rules with ``pat test``'s verdict rules.

A test passes when ``rule()`` runs without error, returns a bool equal to ``ExpectedResult``
and, when it returned True, every optional function the rule defines runs without error and
returns the right type (``title``/``dedup``/... str, ``severity`` a severity name or DEFAULT,
``alert_context`` a JSON-serialisable dict, ``destinations`` a list of str).
``Mocks`` replace names in the rule module for the test with a ``MagicMock`` returning
``returnValue`` exactly as written (as pat does); every test gets an empty cache, so tests never
see each other's state. Policies alert when ``policy()`` returns False, so their optional
functions are checked then.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import MagicMock

from tokentrail.errors import TokenTrailError, summarize_exception
from tokentrail.formats.panther.shims.panther_detection_helpers import caching
from tokentrail.rules.guard import call_guarded
from tokentrail.rules.model import PythonLogic, Rule, RuleTest

TIME_LIMIT = 1.0  # seconds a rule's import, and each of its tests, may take


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """The verdict on one rule test; ``detail`` says why it failed (empty when it passed)."""

    __test__ = False  # not a pytest test class

    rule_id: str
    name: str
    passed: bool
    expected: bool | None
    actual: bool | None
    detail: str = ""
    outputs: Mapping[str, Any] = field(default_factory=dict)
    skipped: bool = False  # not run, for the reason in ``detail``; not a failure


def run_test(detection: Any, test: RuleTest) -> TestOutcome:
    """Run ``test`` against a ``PantherDetection``."""
    rule_id = detection.spec.rule_id
    module = detection.module

    def outcome(
        passed: bool, actual: bool | None, detail: str = "", outputs: Mapping[str, Any] | None = None
    ) -> TestOutcome:
        return TestOutcome(rule_id, test.name, passed, test.expected, actual, detail, outputs or {})

    patches: dict[str, Any] = {}
    for mock in test.mocks:
        name = mock.get("objectName")
        if not isinstance(name, str) or not name:
            return outcome(False, None, "a mock needs an objectName")
        if not hasattr(module, name):
            return outcome(False, None, f"mock target {name!r} is not defined in the rule module")
        # As pat: a MagicMock (iterable, usable as a context manager) returning the value as
        # written in the YAML, so a string stays a string.
        patches[name] = MagicMock(return_value=mock.get("returnValue"))
    saved = {name: getattr(module, name) for name in patches}
    try:
        for name, replacement in patches.items():
            setattr(module, name, replacement)
        with caching.isolated_state():
            try:
                result = detection.evaluate(test.event)
            except Exception as exc:
                return outcome(False, None, f"{detection.matcher}() raised {summarize_exception(exc)}")
            if result is not test.expected:
                return outcome(
                    False, result, f"expected {test.expected}, {detection.matcher}() returned {result}"
                )
            if result is not detection.alert_value:
                return outcome(True, result)
            outputs, errors = detection.alert_outputs(test.event, module, test=True)
    finally:
        for name, original in saved.items():
            setattr(module, name, original)
    if errors:
        return outcome(False, result, "; ".join(errors), outputs)
    return outcome(True, result, "", outputs)


def matches_filter(rule: Rule, filters: str | Sequence[str] | None) -> bool:
    """Whether ``rule`` is selected by ``filters`` (every filter must select it).

    A filter is ``Key=v1,v2`` (pat's form; keys RuleID, LogTypes, Severity, Tags, AnalysisType)
    or a bare pattern matched against the rule id and its Panther and TokenTrail log types.
    Values are case-insensitive shell patterns (``Okta.*``).
    """
    if not filters:
        return True
    items = [filters] if isinstance(filters, str) else list(filters)
    panther_types = tuple(rule.metadata.get("panther_log_types", ()))
    attributes = {
        "ruleid": (rule.id,),
        "logtypes": panther_types + tuple(rule.log_types),
        "severity": (rule.severity,),
        "tags": tuple(rule.tags),
        "analysistype": (str(rule.metadata.get("analysis_type", "")),),
    }
    for item in items:
        key, sep, value = item.partition("=")
        if sep and key.strip().lower() in attributes:
            candidates = attributes[key.strip().lower()]
            patterns = [v.strip() for v in value.split(",") if v.strip()]
        else:
            candidates = (rule.id, *panther_types, *rule.log_types)
            patterns = [item.strip()]
        if not any(_like(c, p) for c in candidates for p in patterns):
            return False
    return True


def _like(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def run_panther_tests(
    rules: Iterable[Rule], *, filter: str | Sequence[str] | None = None
) -> list[TestOutcome]:
    """Run the tests of every Panther rule (and scheduled rule) in ``rules`` that ``filter`` selects.

    A rule whose module cannot be imported fails each of its tests with the import error.
    """
    outcomes: list[TestOutcome] = []
    for rule in rules:
        if rule.format != "panther" or not rule.tests or not matches_filter(rule, filter):
            continue
        skip = rule.metadata.get("tests_skipped") or rule.metadata.get("pat_tests_skipped")
        if skip:
            outcomes.extend(TestOutcome(rule.id, t.name, True, t.expected, None, skip, skipped=True) for t in rule.tests)
            continue
        if not isinstance(rule.logic, PythonLogic):
            continue
        try:
            detection = call_guarded(rule.logic.load, limit=TIME_LIMIT, what="import")
        except Exception as exc:
            detail = f"rule module did not load: {summarize_exception(exc)}"
            outcomes.extend(TestOutcome(rule.id, t.name, False, t.expected, None, detail) for t in rule.tests)
            continue
        for test in rule.tests:
            try:
                outcomes.append(call_guarded(detection.run_test, test, limit=TIME_LIMIT,
                                             what=f"test {test.name!r}"))
            except TokenTrailError as exc:  # over the time limit, or the rule tried to exit
                outcomes.append(TestOutcome(rule.id, test.name, False, test.expected, None, exc.message))
    return outcomes

"""Run the tests embedded in rules: each test event must (or must not) make its rule match.

Python rules with their own test semantics (Panther mocks and auxiliary-function checks) run
through their detection's ``run_test``; every other rule runs through the streaming engine, so a
test exercises the same routing, field mapping and compiled code as a scan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tokentrail import schemas
from tokentrail.alerting.correlation import CorrelationAlerter, Signal
from tokentrail.engine.dedup import SeenEvents
from tokentrail.engine.gcpolicy import scan_gc
from tokentrail.engine.limits import load_guarded
from tokentrail.engine.plan import DEFAULT_PYTHON_TIME_LIMIT, UNKNOWN, log_types_of
from tokentrail.engine.stream import StreamingEngine
from tokentrail.rules.guard import call_guarded
from tokentrail.rules.model import Correlation, PythonLogic, Rule, RuleTest


@dataclass(frozen=True, slots=True)
class TestResult:
    """The verdict of one embedded test."""

    __test__ = False  # not a pytest class

    rule_id: str
    rule_title: str
    path: str
    name: str
    expected: bool
    actual: bool | None
    passed: bool
    detail: str = ""
    # Not run, for the reason in ``detail`` (a test the rule's own tool skips too); not a failure.
    skipped: bool = False


def run_rule_tests(rules: Sequence[Rule], *, context_rules: Sequence[Rule] = ()) -> list[TestResult]:
    """Run every test of every rule in ``rules``; ``context_rules`` are the rules correlations may
    reference (defaults to ``rules``)."""
    pool = list(context_rules) or list(rules)
    results: list[TestResult] = []
    with scan_gc():  # thousands of tests (Panther's repository): collect young objects less often
        for rule in rules:
            for test in rule.tests:
                results.append(_run_one(rule, test, pool))
    return results


def _run_one(rule: Rule, test: RuleTest, pool: Sequence[Rule]) -> TestResult:
    def verdict(actual: bool | None, detail: str = "", passed: bool | None = None) -> TestResult:
        ok = (actual == test.expected) if passed is None else passed
        return TestResult(rule.id, rule.title, rule.path, test.name, test.expected, actual, ok, detail)

    skip = rule.metadata.get("tests_skipped")
    if skip:
        return TestResult(rule.id, rule.title, rule.path, test.name, test.expected, None, True, skip, True)
    # Python rules run their own tests even when a scan cannot run them (Panther scheduled rules).
    # So do correlations tested on their steps' matches (Panther's, often shipped disabled).
    on_outputs = isinstance(test.event, Mapping) and "RuleOutputs" in test.event and rule.unsupported is None
    if not rule.runnable and not isinstance(rule.logic, PythonLogic) and not on_outputs:
        return verdict(None, f"rule cannot run: {rule.unsupported or 'disabled'}", passed=False)
    try:
        if isinstance(rule.logic, PythonLogic):
            detection = load_guarded(rule.logic, DEFAULT_PYTHON_TIME_LIMIT)
            run_test = getattr(detection, "run_test", None)
            if run_test is not None:
                outcome = call_guarded(run_test, test, limit=DEFAULT_PYTHON_TIME_LIMIT,
                                       what=f"test {test.name!r}")
                return verdict(getattr(outcome, "actual", None), getattr(outcome, "detail", ""),
                               passed=bool(outcome.passed))
        if isinstance(rule.logic, Correlation) or _group_test(rule, test):
            return verdict(*_correlation_fires(rule, test, pool))
        return verdict(_fires(rule, test.event))
    except Exception as exc:  # a test that crashes fails; the others still run
        return verdict(None, f"{type(exc).__name__}: {exc}", passed=False)


def _group_test(rule: Rule, test: RuleTest) -> bool:
    """A test of a grouped rule (an ES|QL STATS, a threshold) may give a list of events
    (``events:``): it passes if they raise the rule's alert, as a correlation test does."""
    return rule.grouping.window is not None and isinstance(test.event, Mapping) \
        and set(test.event) == {"events"} and isinstance(test.event["events"], list)


def _fires(rule: Rule, event: Mapping[str, Any]) -> bool:
    """Whether ``rule`` matches ``event`` as a scan would see it: detected (and reshaped) as the
    scan does. Only a test event whose log type cannot be told is tried under each log type the
    rule runs on; a scan of it finds nothing unless ``--log-type`` names one."""
    matched: list[Any] = []
    engine = StreamingEngine([rule], on_match=matched.append)
    if engine.load_errors:
        raise engine.load_errors[0]
    if schemas.detect_log_type(event) is not None:
        engine.process(event)
    else:
        for log_type in (*log_types_of(rule), UNKNOWN):
            engine.process(event, log_type=log_type)
            if matched or engine.rule_errors:
                break
    if engine.rule_errors:
        raise RuntimeError(engine.rule_errors[0].summary)
    return bool(matched)


def _correlation_fires(rule: Rule, test: RuleTest, pool: Sequence[Rule]) -> tuple[bool, str]:
    """A correlation (or group) test gives a list of events (``events:``), or its steps' matches
    directly (``RuleOutputs``, Panther's form); it passes if an alert is raised."""
    if isinstance(test.event, Mapping) and "RuleOutputs" in test.event:
        return _step_outputs_fire(rule, test.event["RuleOutputs"])
    events = test.event.get("events") if isinstance(test.event, Mapping) else test.event
    if not isinstance(events, list):
        return False, "a correlation test needs a list of events under 'events'"
    # Events taken once each, as in a scan: a test repeating one event id counts it once.
    seen = SeenEvents()
    try:
        engine = StreamingEngine([*pool] if rule in pool else [*pool, rule], seen=seen)
        alerts = [a for a in engine.run(events) if a.rule_id == rule.id]
    finally:
        seen.close()
    return bool(alerts), f"{len(alerts)} alert(s)"


def _step_outputs_fire(rule: Rule, outputs: Sequence[Mapping[str, Any]]) -> tuple[bool, str]:
    """Panther ``RuleOutputs``: per step ``ID``, ``Matches: {field: {value: [when, ...]}}``, one
    match of the step's rule per time listed (minutes from the start, or timestamps). The matches
    are fed, in time order, to the same correlation alerting a scan uses."""
    corr = rule.logic
    assert isinstance(corr, Correlation)
    index = {step.name: i for i, step in enumerate(corr.steps)}
    signals: list[Signal] = []
    for output in outputs:
        step = index.get(output.get("ID"))  # type: ignore[arg-type]
        if step is None:
            return False, f"RuleOutputs names no step of this rule: {output.get('ID')!r}"
        at: dict[float, dict[str, str]] = {}
        for field_name, values in (output.get("Matches") or {}).items():
            for value, minutes in (values or {}).items():
                for when in minutes or ():
                    # A number is minutes from the test's start; text is a timestamp.
                    time = when * 60.0 if isinstance(when, int | float) else schemas.parse_time(when)
                    if time is None:
                        return False, f"RuleOutputs: {when!r} is neither minutes nor a timestamp"
                    at.setdefault(float(time), {})[field_name] = str(value)
        for time, fields in at.items():
            key = tuple(fields.get(f, "") for f in corr.steps[step].by)
            signals.append(Signal(step, key, time, (f"{output.get('ID')}@{time:g}",), None, fields))
    alerter = CorrelationAlerter(rule)
    alerts = [a for s in sorted(signals, key=lambda s: (s.time, s.step)) for a in alerter.add(s)]
    alerts += alerter.flush()
    return bool(alerts), f"{len(alerts)} alert(s)"

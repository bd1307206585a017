"""``pat test`` verdicts: expected results, auxiliary-function checks, mocks and filters."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from tokentrail.formats.panther import TestOutcome, matches_filter, run_panther_tests
from tokentrail.rules.loader import load_rules
from tokentrail.rules.model import RuleTest

BASE_PY = """\
from panther_detection_helpers.caching import add_to_string_set


def lookup_owner(name):
    return "real-owner"


def rule(event):
    return event.get("kind") == "bad"
"""


def make_repo(
    tmp_path: Path, py: str, tests: str, *, rule_id: str = "T.Rule", log_type: str = "Okta.SystemLog"
) -> list:
    (tmp_path / "rule.py").write_text(dedent(py))
    (tmp_path / "rule.yml").write_text(
        f"AnalysisType: rule\nRuleID: {rule_id}\nFilename: rule.py\nLogTypes: [{log_type}]\n"
        f"Severity: Medium\nTests:\n" + dedent(tests)
    )
    result = load_rules([tmp_path / "rule.yml"])
    assert result.errors == ()
    return list(result.rules)


def one(outcomes: list[TestOutcome]) -> TestOutcome:
    [outcome] = outcomes
    return outcome


POSITIVE = """\
  - Name: positive
    ExpectedResult: true
    Log: {kind: bad}
"""


def test_passing_positive_and_negative(tmp_path: Path) -> None:
    rules = make_repo(
        tmp_path,
        BASE_PY,
        POSITIVE
        + """\
  - Name: negative
    ExpectedResult: false
    Log: {kind: good}
""",
    )
    outcomes = run_panther_tests(rules)
    assert [(o.name, o.passed, o.expected, o.actual) for o in outcomes] == [
        ("positive", True, True, True),
        ("negative", True, False, False),
    ]
    assert outcomes[0].outputs["dedup"] == "defaultDedupString:T.Rule"


def test_wrong_expectation_fails(tmp_path: Path) -> None:
    rules = make_repo(tmp_path, BASE_PY, POSITIVE.replace("kind: bad", "kind: good"))
    outcome = one(run_panther_tests(rules))
    assert not outcome.passed and outcome.actual is False
    assert outcome.detail == "expected True, rule() returned False"


def test_rule_error_fails_even_a_negative_test(tmp_path: Path) -> None:
    py = BASE_PY.replace('return event.get("kind") == "bad"', 'return event["kind"] == "bad"')
    rules = make_repo(
        tmp_path,
        py,
        """\
  - Name: crashes
    ExpectedResult: false
    Log: {other: 1}
""",
    )
    outcome = one(run_panther_tests(rules))
    assert not outcome.passed and outcome.actual is None
    assert outcome.detail.startswith("rule() raised KeyError: 'kind'")


def test_non_bool_rule_result_fails(tmp_path: Path) -> None:
    py = BASE_PY.replace('return event.get("kind") == "bad"', 'return event.get("kind")')
    outcome = one(run_panther_tests(make_repo(tmp_path, py, POSITIVE)))
    assert not outcome.passed and "returned str, expected bool" in outcome.detail


@pytest.mark.parametrize(
    ("func", "message"),
    [
        ("def title(event):\n    return 5\n", "title(): RuleReturnTypeError: returned int, expected str"),
        (
            "def dedup(event):\n    return None\n",
            "dedup(): RuleReturnTypeError: returned NoneType, expected str",
        ),
        (
            "def severity(event):\n    return 'urgent'\n",
            "expected one of INFO, LOW, MEDIUM, HIGH, CRITICAL or DEFAULT",
        ),
        ("def alert_context(event):\n    return ['a']\n", "returned list, expected dict"),
        ("def alert_context(event):\n    return {'when': object()}\n", "not JSON-serialisable"),
        ("def destinations(event):\n    return 'pager'\n", "expected a list of str"),
        (
            "def runbook(event):\n    raise RuntimeError('no runbook')\n",
            "runbook(): RuntimeError: no runbook",
        ),
    ],
)
def test_auxiliary_functions_are_checked_on_positive_tests(tmp_path: Path, func: str, message: str) -> None:
    rules = make_repo(
        tmp_path,
        BASE_PY + "\n\n" + func,
        POSITIVE
        + """\
  - Name: negative
    ExpectedResult: false
    Log: {kind: good}
""",
    )
    positive, negative = run_panther_tests(rules)
    assert not positive.passed and message in positive.detail
    assert negative.passed  # auxiliary functions only run when the rule fires


def test_valid_auxiliary_outputs_pass(tmp_path: Path) -> None:
    py = BASE_PY + dedent("""\


        def title(event):
            return "T"


        def severity(event):
            return "Default"


        def alert_context(event):
            return {"list": event.get("l"), "nested": event.get("n")}


        def destinations(event):
            return ["a", "b"]
    """)
    tests = POSITIVE.replace("{kind: bad}", "{kind: bad, l: [1], n: {x: 2}}")
    outcome = one(run_panther_tests(make_repo(tmp_path, py, tests)))
    assert outcome.passed, outcome.detail
    assert outcome.outputs["context"] == {"list": [1], "nested": {"x": 2}}
    assert outcome.outputs["severity"] == "medium"


def test_mocks_replace_module_names_and_are_restored(tmp_path: Path) -> None:
    # As pat: the mock returns returnValue as written; JSON text stays text.
    py = BASE_PY.replace(
        'return event.get("kind") == "bad"',
        'return lookup_owner(event.get("kind")) == \'{"owner": "mallory", "ids": [1, 2]}\'',
    )
    rules = make_repo(
        tmp_path,
        py,
        """\
  - Name: mocked json text
    ExpectedResult: true
    Mocks:
      - objectName: lookup_owner
        returnValue: '{"owner": "mallory", "ids": [1, 2]}'
    Log: {kind: x}
  - Name: unmocked
    ExpectedResult: false
    Log: {kind: x}
""",
    )
    mocked, unmocked = run_panther_tests(rules)
    assert mocked.passed and unmocked.passed
    module = rules[0].logic.load().module
    assert module.lookup_owner("x") == "real-owner"


def test_mock_return_values_that_are_not_json_stay_strings(tmp_path: Path) -> None:
    py = BASE_PY.replace('return event.get("kind") == "bad"', 'return lookup_owner("x") == "plain text"')
    rules = make_repo(
        tmp_path,
        py,
        """\
  - Name: text
    ExpectedResult: true
    Mocks:
      - {objectName: lookup_owner, returnValue: plain text}
    Log: {}
""",
    )
    assert one(run_panther_tests(rules)).passed


def test_mocks_are_magic_mocks_returning_bools_and_numbers_as_written(tmp_path: Path) -> None:
    # pat builds MagicMocks: a mocked module-level object can be iterated (empty) and its
    # returnValue is used untouched (a YAML true is the bool True, "1" the string "1").
    py = BASE_PY.replace(
        'return event.get("kind") == "bad"',
        'return is_admin() is True and count() == "1" and list(ALLOWED) == []',
    ).replace("def rule(event):", "ALLOWED = {'a'}\n\n\ndef is_admin():\n    return False\n\n\n"
              "def count():\n    return 0\n\n\ndef rule(event):")
    rules = make_repo(
        tmp_path,
        py,
        """\
  - Name: mocked
    ExpectedResult: true
    Mocks:
      - {objectName: is_admin, returnValue: true}
      - {objectName: count, returnValue: "1"}
      - {objectName: ALLOWED, returnValue: "ignored"}
    Log: {}
""",
    )
    outcome = one(run_panther_tests(rules))
    assert outcome.passed, outcome.detail


def test_mock_of_an_unknown_name_fails(tmp_path: Path) -> None:
    rules = make_repo(
        tmp_path,
        BASE_PY,
        POSITIVE
        + """\
    Mocks:
      - {objectName: no_such_function, returnValue: "1"}
""",
    )
    outcome = one(run_panther_tests(rules))
    assert not outcome.passed and "'no_such_function' is not defined" in outcome.detail


def test_each_test_starts_with_an_empty_cache(tmp_path: Path) -> None:
    py = BASE_PY.replace(
        'return event.get("kind") == "bad"', 'return len(add_to_string_set("seen", event.get("kind"))) > 1'
    )
    rules = make_repo(
        tmp_path,
        py,
        """\
  - Name: first
    ExpectedResult: false
    Log: {kind: a}
  - Name: second, would see the first's value if the cache leaked
    ExpectedResult: false
    Log: {kind: b}
""",
    )
    assert all(o.passed for o in run_panther_tests(rules))


def test_module_that_fails_to_import_fails_its_tests(tmp_path: Path) -> None:
    rules = make_repo(
        tmp_path,
        "import no_such_module_anywhere\n\ndef rule(event):\n    return True\n",
        POSITIVE + POSITIVE.replace("positive", "again"),
    )
    outcomes = run_panther_tests(rules)
    assert len(outcomes) == 2
    assert all(not o.passed and "did not load: ModuleNotFoundError" in o.detail for o in outcomes)


def test_run_test_is_available_on_the_detection(tmp_path: Path) -> None:
    rules = make_repo(tmp_path, BASE_PY, POSITIVE)
    outcome = rules[0].logic.load().run_test(RuleTest("adhoc", True, {"kind": "bad"}))
    assert outcome.passed and outcome.name == "adhoc" and outcome.rule_id == "T.Rule"


def test_filters(tmp_path: Path) -> None:
    [rule] = make_repo(tmp_path, BASE_PY, POSITIVE, rule_id="Okta.Token.Use", log_type="Okta.SystemLog")
    assert matches_filter(rule, None)
    assert matches_filter(rule, "Okta.Token.Use")
    assert matches_filter(rule, "okta.token.*")
    assert matches_filter(rule, "Okta.SystemLog")
    assert matches_filter(rule, "ecs.okta")
    assert matches_filter(rule, "LogTypes=Auth0.Events,Okta.SystemLog")
    assert matches_filter(rule, ["RuleID=Okta.*", "Severity=medium"])
    assert not matches_filter(rule, ["RuleID=Okta.*", "Severity=high"])
    assert not matches_filter(rule, "Auth0.Events")
    assert run_panther_tests([rule], filter="Auth0.*") == []
    assert len(run_panther_tests([rule], filter="RuleID=Okta.Token.Use")) == 1

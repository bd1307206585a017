"""The Sigma front-end on pySigma 1.5 (pinned for its SIEM backends) keeps TokenTrail's meaning
where pySigma 1.5 differs: RE2 regex syntax, whole-word condition operators, correlations
without a valid condition."""

from __future__ import annotations

import pytest

from tokentrail import load_rules
from tokentrail.compile.python import compile_expr


def _load(tmp_path, detection: str, extra: str = ""):
    path = tmp_path / "r.yml"
    path.write_text("title: t\nid: 11111111-2222-4333-8444-555555555555\nlogsource: {product: okta}\n"
                    f"detection:\n{detection}{extra}", encoding="utf-8")
    return load_rules([path])


def test_a_pattern_re2_runs_but_python_re_rejects_loads_and_runs_on_re2(tmp_path):
    # \z (end of text) is RE2 syntax; Python's re has no such escape.
    loaded = _load(tmp_path, "  sel:\n    eventType|re: 'token\\.create\\z'\n  condition: sel\n")
    assert not loaded.errors, [str(e) for e in loaded.errors]
    match = compile_expr(loaded.rules[0].logic)
    assert match({"eventType": "system.api_token.create"})
    assert not match({"eventType": "system.api_token.create.more"})


def test_a_pattern_no_engine_compiles_is_a_load_error(tmp_path):
    loaded = _load(tmp_path, "  sel:\n    eventType|re: 'a(b'\n  condition: sel\n")
    assert len(loaded.errors) == 1 and "r.yml" in str(loaded.errors[0])


@pytest.mark.parametrize("name", ["not_ok", "andromeda", "origin", "not-ok"])
def test_selection_names_starting_with_an_operator_word_are_names(tmp_path, name):
    loaded = _load(tmp_path, f"  sel:\n    eventType: a\n  {name}:\n    outcome.result: FAILURE\n"
                             f"  condition: sel and not {name}\n")
    assert not loaded.errors, [str(e) for e in loaded.errors]
    match = compile_expr(loaded.rules[0].logic)
    assert match({"eventType": "a", "outcome": {"result": "SUCCESS"}})
    assert not match({"eventType": "a", "outcome": {"result": "FAILURE"}})


def test_a_counting_correlation_without_condition_is_a_load_error(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text("title: base\nname: base\nlogsource: {product: okta}\ndetection:\n  sel: {eventType: a}\n"
                    "  condition: sel\n---\ntitle: c\ncorrelation:\n  type: event_count\n  rules: [base]\n"
                    "  timespan: 1h\n", encoding="utf-8")
    loaded = load_rules([path])
    assert len(loaded.errors) == 1
    assert "condition" in str(loaded.errors[0]) and "UnboundLocalError" not in str(loaded.errors[0])

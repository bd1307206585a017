"""EQL: event queries, operators, functions, sequences, and located errors."""

from __future__ import annotations

import pytest

from tokentrail.compile.python import compile_expr
from tokentrail.errors import RuleLoadError, UnsupportedFeature
from tokentrail.formats.elastic.diagnostics import QueryPosition
from tokentrail.formats.elastic.eql import eql_to_logic, unescape_string
from tokentrail.rules.ir import All, Any, Cmp, FieldRef, Not
from tokentrail.rules.model import Correlation


def cond(query: str):
    return eql_to_logic(f"any where {query}")


def matches(query: str, event: dict) -> bool:
    return compile_expr(cond(query))(event)


def test_category_adds_event_category_test():
    assert eql_to_logic('iam where user.name == "bob"') == All((
        Cmp("event.category", "eq", ("iam",)), Cmp("user.name", "eq", ("bob",), cased=True)))
    assert eql_to_logic('"my-category" where true') == Cmp("event.category", "eq", ("my-category",))


def test_any_category_adds_nothing():
    assert eql_to_logic('any where a == 1') == Cmp("a", "eq", (1,), cased=True)


def test_equality_is_case_sensitive_and_colon_is_not():
    assert matches('user.name == "Bob"', {"user": {"name": "Bob"}})
    assert not matches('user.name == "Bob"', {"user": {"name": "bob"}})
    assert matches('user.name : "Bob"', {"user": {"name": "bOB"}})


def test_colon_takes_wildcards_and_lists():
    expr = cond('a : ("x*", "Y", "?z")')
    assert expr == Any((Cmp("a", "eq", ("Y",)), Cmp("a", "glob", ("x*", "?z"))))
    assert matches('a : ("x*", "Y")', {"a": "XYZ"})
    assert matches('a : "?z"', {"a": "QZ"})
    assert not matches('a : "?z"', {"a": "qqz"})


def test_not_equal_and_null():
    assert cond("a != 1") == Not(Cmp("a", "eq", (1,), cased=True))
    assert matches("a != 1", {})
    assert matches("a == null", {"a": None}) and matches("a == null", {})
    assert matches("a != null", {"a": "x"}) and not matches("a != null", {})


@pytest.mark.parametrize(("op", "value", "expected"), [
    ("<", 4, True), ("<", 5, False), ("<=", 5, True), (">", 6, True), (">=", 4, False),
])
def test_order_comparisons(op, value, expected):
    assert matches(f"n {op} 5", {"n": value}) is expected


def test_constant_on_the_left_is_flipped():
    assert cond("5 < n") == Cmp("n", "gt", (5,))


def test_field_to_field_comparison():
    assert cond("a == b") == FieldRef("a", "b", "eq", cased=True)
    assert matches("a == b", {"a": "x", "b": "x"})
    assert not matches("a != b", {"a": "x", "b": "x"})


def test_in_and_not_in():
    assert cond('a in ("x", "y")') == Cmp("a", "eq", ("x", "y"), cased=True)
    assert cond('a in~ ("x", "y")') == Cmp("a", "eq", ("x", "y"), cased=False)
    assert cond('a not in ("x", "y")') == Not(Cmp("a", "eq", ("x", "y"), cased=True))
    assert matches('a in~ ("x")', {"a": "X"})
    assert not matches('a in ("x")', {"a": "X"})


def test_like_and_regex():
    assert cond('a like "x*"') == Cmp("a", "glob", ("x*",), cased=True)
    assert cond('a like~ ("x*", "y?")') == Cmp("a", "glob", ("x*", "y?"), cased=False)
    assert matches('a like~ "x*"', {"a": "XA"})
    assert not matches('a like "x*"', {"a": "XA"})
    assert matches('a regex "ab+c"', {"a": "abbc"})
    assert not matches('a regex "ab+c"', {"a": "xabbcx"})  # anchored, like Elasticsearch
    assert matches('a regex~ "AB+C"', {"a": "abc"})


def test_boolean_operators_and_precedence():
    a, b, c = (Cmp(f, "eq", (1,), cased=True) for f in "abc")
    assert cond("a == 1 or b == 1 and not c == 1") == Any((a, All((b, Not(c)))))
    assert cond("(a == 1 or b == 1) and c == 1") == All((Any((a, b)), c))


def test_string_functions():
    assert cond('startsWith(a, "ab")') == Cmp("a", "startswith", ("ab",), cased=True)
    assert cond('startsWith~(a, "ab")') == Cmp("a", "startswith", ("ab",), cased=False)
    assert cond('endsWith(a, "z")') == Cmp("a", "endswith", ("z",), cased=True)
    assert cond('stringContains~(a, "mid")') == Cmp("a", "contains", ("mid",), cased=False)
    assert cond('wildcard(a, "x*", "y*")') == Cmp("a", "glob", ("x*", "y*"), cased=True)
    assert cond('cidrMatch(source.ip, "10.0.0.0/8", "192.168.0.0/16")') == Cmp(
        "source.ip", "cidr", ("10.0.0.0/8", "192.168.0.0/16"))
    assert matches('cidrMatch(ip, "10.0.0.0/8")', {"ip": "10.2.3.4"})
    assert matches('stringContains~(a, "MID")', {"a": "in the middle"})


def test_cidr_match_rejects_bad_networks():
    with pytest.raises(RuleLoadError, match="not a network"):
        cond('cidrMatch(ip, "nonsense")')


@pytest.mark.parametrize(("query", "value", "expected"), [
    ("length(a) == 3", "abc", True), ("length(a) == 3", "abcd", False),
    ("length(a) > 3", "abcd", True), ("length(a) > 3", "abc", False),
    ("length(a) < 2", "a", True), ("length(a) <= 2", "abc", False),
    ("length(a) >= 1", "", False), ("length(a) != 2", "ab", False),
    ("number(a) > 10", "11", True), ("number(a) > 10", "9", False),
    ('string(a) == "5"', 5, True),
])
def test_value_functions_compared_with_constants(query, value, expected):
    assert matches(query, {"a": value}) is expected


@pytest.mark.parametrize(("query", "function"), [
    ('between(a, "x", "y") == "z"', "between"),
    ('concat(a, b) : "z"', "concat"),
    ('substring(a, 1) == "z"', "substring"),
    ('indexOf(a, "x") == 1', "indexOf"),
    ('number(a, 16) == 1', "number"),
    ('add(a, 1) == 2', "add"),
    ('mystery(a)', "mystery"),
])
def test_functions_that_cannot_be_lowered_are_named_with_position(query, function):
    with pytest.raises(UnsupportedFeature) as err:
        eql_to_logic(f"any where\n  x == 1 and {query}", position=QueryPosition("r.toml", 20))
    assert f"EQL function {function}" in str(err.value)
    assert err.value.line == 21
    assert "column 14" in str(err.value)


def test_arithmetic_pipes_samples_and_missing_events_are_unsupported():
    for query, feature in [
        ("any where a + 1 == 2", "arithmetic"),
        ("any where a == 1 | head 5", "pipe 'head'"),
        ("sample by x [any where a == 1] [any where b == 1]", "sample"),
        ("sequence [any where a == 1] ![any where b == 1]", "missing events"),
        ("any where a[0] == 1", "array index"),
    ]:
        with pytest.raises(UnsupportedFeature, match=feature):
            eql_to_logic(query)


def test_field_forms():
    assert cond("?opt.field == 1") == Cmp("opt.field", "eq", (1,), cased=True)
    assert cond("`odd name`.x == 1") == Cmp("odd name.x", "eq", (1,), cased=True)
    assert cond("@timestamp > 5") == Cmp("@timestamp", "gt", (5,))
    assert cond("flag") == Cmp("flag", "eq", (True,), cased=True)


def test_strings_and_comments():
    assert unescape_string(r'"a\"b\\c\n"') == 'a"b\\c\n'
    assert unescape_string(r'"C:\Windows"') == "C:\\Windows"
    assert unescape_string('"""raw \\n"""') == "raw \\n"
    assert unescape_string(r'"\u{41}"') == "A"
    assert cond('a == "x" // trailing comment\n and /* inline */ b == "y"') == All((
        Cmp("a", "eq", ("x",), cased=True), Cmp("b", "eq", ("y",), cased=True)))


def test_sequence_becomes_correlation():
    logic = eql_to_logic("""
        sequence by user.id with maxspan=5m
          [authentication where event.outcome == "failure"] with runs=3
          [authentication where event.outcome == "success"]
          until [iam where event.action == "user.delete"]
    """)
    assert isinstance(logic, Correlation)
    assert logic.kind == "sequence" and logic.timespan == 300
    first, second = logic.steps
    assert (first.name, first.runs, first.by) == ("step1", 3, ("user.id",))
    assert (second.name, second.runs, second.by) == ("step2", 1, ("user.id",))
    assert first.expr == All((Cmp("event.category", "eq", ("authentication",)),
                              Cmp("event.outcome", "eq", ("failure",), cased=True)))
    assert logic.until == All((Cmp("event.category", "eq", ("iam",)),
                               Cmp("event.action", "eq", ("user.delete",), cased=True)))


def test_sequence_keys_per_step_and_option_order():
    logic = eql_to_logic("sequence with maxspan=2h by host.id [any where a == 1] by x [any where b == 1] by y")
    assert logic.timespan == 7200
    assert [s.by for s in logic.steps] == [("host.id", "x"), ("host.id", "y")]
    assert eql_to_logic("sequence [any where a == 1] [any where b == 1]").timespan is None


def test_sequence_errors():
    with pytest.raises(RuleLoadError, match="same number of join keys"):
        eql_to_logic("sequence [any where a == 1] by x [any where b == 1]")
    with pytest.raises(RuleLoadError, match="at least two steps"):
        eql_to_logic("sequence [any where a == 1]")
    with pytest.raises(RuleLoadError, match="runs must be"):
        eql_to_logic("sequence [any where a == 1] with runs=0 [any where b == 1]")


@pytest.mark.parametrize(("query", "line", "column", "found"), [
    ("process where x ==", None, None, "end of query"),
    ("process where\n  x === 1", 2, 7, "'='"),
    ("process x == 1", 1, 9, "'x'"),
    ("sequence by a\n  [any where a == 1]\n  [any where b == 1", None, None, "end of query"),
    ('any where a == "unterminated', 1, 16, "character"),
])
def test_syntax_errors_name_line_and_column(query, line, column, found):
    with pytest.raises(RuleLoadError) as err:
        eql_to_logic(query, position=QueryPosition("rule.toml", 5))
    message = str(err.value)
    assert "EQL syntax error" in message and found in message
    if line is not None:
        assert err.value.line == 5 + line - 1
        assert f"column {column}" in message

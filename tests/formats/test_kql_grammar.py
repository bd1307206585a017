"""KQL: every construct of the grammar, its lowering to the IR, and located syntax errors."""

from __future__ import annotations

import pytest

from tokentrail.compile.python import compile_expr
from tokentrail.errors import RuleLoadError, UnsupportedFeature
from tokentrail.formats.elastic.diagnostics import QueryPosition
from tokentrail.formats.elastic.kql import TextFields, kql_to_ir
from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, Keywords, Not


def matches(query: str, event: dict, **kw) -> bool:
    return compile_expr(kql_to_ir(query, **kw))(event)


def test_field_value_is_exact_and_case_sensitive():
    assert kql_to_ir("event.action:system.api_token.create") == Cmp(
        "event.action", "eq", ("system.api_token.create",), cased=True)
    assert matches("user.name:Alice", {"user": {"name": "Alice"}})
    assert not matches("user.name:Alice", {"user": {"name": "alice"}})
    assert not matches("user.name:Ali", {"user": {"name": "Alice"}})


def test_quoted_phrase_keeps_spaces_and_has_no_wildcards():
    assert kql_to_ir('a:"hello *world"') == Cmp("a", "eq", ("hello *world",), cased=True)
    assert matches('a:"x*"', {"a": "x*"})
    assert not matches('a:"x*"', {"a": "xyz"})


def test_unquoted_words_form_one_value():
    assert kql_to_ir("a:hello   big world") == Cmp("a", "eq", ("hello big world",), cased=True)


def test_wildcards_in_values():
    assert kql_to_ir("a:sys*.create") == Cmp("a", "glob", ("sys*.create",), cased=True)
    assert matches("a:sys*create", {"a": "system.api_token.create"})
    assert not matches("a:sys*create", {"a": "SYSTEM.create"})
    # ``?`` is not a KQL wildcard: it must stay a literal character.
    assert matches("a:x?*", {"a": "x?yz"})
    assert not matches("a:x?*", {"a": "xyz"})


def test_exists():
    expr = kql_to_ir("a.b:*")
    assert expr == Exists("a.b", non_null=True)
    assert matches("a.b:*", {"a": {"b": 0}})
    assert matches("a.b:*", {"a": {"b": ["alice", None]}})  # one non-null value is enough
    assert not matches("a.b:*", {"a": {"b": [None]}})
    assert not matches("a.b:*", {"a": {"b": None}})
    assert not matches("a.b:*", {"a": {}})


@pytest.mark.parametrize(("query", "value", "expected"), [
    ("n > 5", 6, True), ("n > 5", 5, False), ("n >= 5", 5, True), ("n < 5", 4, True),
    ("n <= 5", "5", True), ("n < 5", 10, False), ("n > 1.5", 2, True),
    ('t >= "2024-01-01"', "2024-02-01T00:00:00Z", True), ("t < 2024-01-01", "2023-12-31", True),
])
def test_ranges(query, value, expected):
    assert matches(query, {"n": value, "t": value}) is expected


def test_range_date_math_is_unsupported():
    with pytest.raises(UnsupportedFeature, match="date math"):
        kql_to_ir("@timestamp > now-1d")


def test_precedence_not_binds_tighter_than_and_than_or():
    a, b, c = (Cmp(f, "eq", ("1",), cased=True) for f in "abc")
    assert kql_to_ir("a:1 or b:1 and c:1") == Any((a, All((b, c))))
    assert kql_to_ir("not a:1 and b:1") == All((Not(a), b))
    assert kql_to_ir("(a:1 or b:1) and c:1") == All((Any((a, b)), c))
    assert kql_to_ir("NOT a:1 AnD b:1 OR c:1") == Any((All((Not(a), b)), c))


def test_value_lists_apply_the_field_to_each_value():
    expr = kql_to_ir("a:(x or y and not z)")
    x, y, z = (Cmp("a", "eq", (v,), cased=True) for v in "xyz")
    assert expr == Any((x, All((y, Not(z)))))
    assert matches("a:(x or y)", {"a": "y"})
    assert matches("a:(x and y)", {"a": ["x", "y"]})
    assert not matches("a:(x and y)", {"a": "x"})


def test_nested_field_prefix():
    assert kql_to_ir("user:{ name:bob and id:7 }") == All((
        Cmp("user.name", "eq", ("bob",), cased=True), Cmp("user.id", "eq", ("7",), cased=True)))
    assert matches("okta.target:{ type:User }", {"okta": {"target": [{"type": "App"}, {"type": "User"}]}})


def test_escaped_special_characters():
    assert kql_to_ir(r"a:foo\:bar\(1\)") == Cmp("a", "eq", ("foo:bar(1)",), cased=True)
    assert kql_to_ir(r"a:foo\*") == Cmp("a", "eq", ("foo*",), cased=True)
    assert kql_to_ir(r"a:\*x*") == Cmp("a", "glob", (r"\*x*",), cased=True)
    assert kql_to_ir(r"a:\and") == Cmp("a", "eq", ("and",), cased=True)
    assert kql_to_ir(r'a:"say \"hi\""') == Cmp("a", "eq", ('say "hi"',), cased=True)
    assert kql_to_ir(r"a:back\\slash") == Cmp("a", "eq", ("back\\slash",), cased=True)


def test_keywords_need_word_boundaries():
    assert kql_to_ir("android:orange") == Cmp("android", "eq", ("orange",), cased=True)
    assert kql_to_ir("notes:x") == Cmp("notes", "eq", ("x",), cased=True)


def test_quoted_field_names():
    assert kql_to_ir('"odd field":1') == Cmp("odd field", "eq", ("1",), cased=True)


def test_wildcard_field_names_are_unsupported():
    with pytest.raises(UnsupportedFeature, match="wildcard in a field name"):
        kql_to_ir("user.*:bob")


def test_free_text_searches_every_value_exactly():
    assert kql_to_ir("bob") == Keywords(("bob",), op="glob", cased=True)
    assert matches("bob", {"x": {"y": ["bob"]}})
    assert not matches("bob", {"x": "bobby"})
    assert matches("bob*", {"x": "bobby"})
    assert matches('"two words"', {"x": "two words"})
    assert kql_to_ir("*") == Const(True)


def test_empty_query_matches_everything():
    assert kql_to_ir("") == Const(True)
    assert kql_to_ir("   \n ") == Const(True)


def test_text_fields_compare_by_words():
    assert matches("message:denied", {"message": "Access DENIED for user"})
    assert not matches("message:deni", {"message": "Access DENIED for user"})
    assert matches("message:deni*", {"message": "Access DENIED for user"})
    assert matches("message:nothing denied", {"message": "access denied"})  # any word
    assert matches('message:"access denied"', {"message": "ACCESS, denied!"})
    assert not matches('message:"denied access"', {"message": "access denied"})
    assert matches("error.message:timeout", {"error": {"message": "read timeout"}})
    assert matches("user.name.text:smith", {"user": {"name": {"text": "John Smith"}}})


def test_custom_text_field_table():
    fields = TextFields(frozenset({"note"}))
    assert matches("note:b", {"note": "a b c"}, text_fields=fields)
    assert not matches("message:b", {"message": "a b c"}, text_fields=fields)


@pytest.mark.parametrize(("query", "line", "column", "found"), [
    ("a:", None, None, "end of query"),
    ("a:b c:d", 1, 6, "':'"),
    ("a:b and\n  (c:d or", None, None, "end of query"),
    ("a:b\n  and c:(d", None, None, "end of query"),
    ("a:b )", 1, 5, "')'"),
    ("a:b\n  and c:}", 2, 9, "'}'"),
    ('a:"open', 1, 3, "character"),
])
def test_syntax_errors_name_line_and_column(query, line, column, found):
    with pytest.raises(RuleLoadError) as err:
        kql_to_ir(query, position=QueryPosition("rule.toml", 10))
    message = str(err.value)
    assert message.startswith("rule.toml:")
    assert "KQL syntax error" in message and found in message
    if line is not None:
        assert err.value.line == 10 + line - 1
        assert f"column {column}" in message


def test_unsupported_features_are_located():
    with pytest.raises(UnsupportedFeature) as err:
        kql_to_ir("a:1 and\n   b > now-5m", position=QueryPosition("r.toml", 40))
    assert err.value.line == 41
    assert "column 8" in str(err.value)

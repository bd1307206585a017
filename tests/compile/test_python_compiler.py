"""The IR compiler: every comparison semantic stated in rules/ir.py, on real event shapes."""

import pytest

from tokentrail.compile.python import compile_expr
from tokentrail.errors import UnsupportedFeature
from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, FieldRef, Keywords, Not

OKTA = {
    "uuid": "u-1",
    "eventType": "system.api_token.create",
    "actor": {"alternateId": "Admin@Example.com", "type": "User"},
    "client": {"ipAddress": "203.0.113.7", "geographicalContext": {"country": "Norway"}},
    "target": [{"type": "User", "alternateId": "bob"}, {"type": "Token", "displayName": "ci-token"}],
    "outcome": {"result": "SUCCESS"},
    "debugContext": {"debugData": {"requestUri": "/api/v1/tokens", "threatSuspected": "false"}},
    "count": "15000",
    "flag": True,
    "nothing": None,
    "event.action": "flat-key",
    "data": {"details": {"accessedSecrets": ["client_secret", "other"]}},
    "v6": "2001:db8::42",
}


def fires(expr, event=OKTA, **kw):
    return compile_expr(expr, **kw)(event)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (Cmp("eventType", "eq", ("SYSTEM.API_TOKEN.CREATE",)), True),
        (Cmp("eventType", "eq", ("SYSTEM.API_TOKEN.CREATE",), cased=True), False),
        (Cmp("eventType", "eq", ("system.api_token.revoke",)), False),
        (Cmp("actor.alternateId", "endswith", ("@example.com",)), True),
        (Cmp("actor.alternateId", "startswith", ("admin@",)), True),
        (Cmp("actor.alternateId", "contains", ("EXAMPLE",), cased=True), False),
        (Cmp("target.type", "eq", ("token",)), True),
        (Cmp("target.displayName", "eq", ("ci-token",)), True),
        (Cmp("target.type", "eq", ("Group",)), False),
        (Cmp("data.details.accessedSecrets{}", "eq", ("client_secret",)), True),
        (Cmp("data.details.accessedSecrets", "eq", ("other",)), True),
        (Cmp("event.action", "eq", ("flat-key",)), True),
        (Cmp("flag", "eq", ("true",)), True),
        (Cmp("debugContext.debugData.threatSuspected", "eq", (False,)), True),
        (Cmp("count", "gt", (10000,)), True),
        (Cmp("count", "lt", (10000,)), False),
        (Cmp("count", "ge", ("15000",)), True),
        (Cmp("count", "eq", (15000,)), True),
        (Cmp("nothing", "eq", (None,)), True),
        (Cmp("missing", "eq", (None,)), True),
        (Cmp("eventType", "eq", (None,)), False),
        (Cmp("client.ipAddress", "cidr", ("203.0.113.0/24",)), True),
        (Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",)), False),
        (Cmp("v6", "cidr", ("2001:db8::/32",)), True),
        (Cmp("v6", "cidr", ("203.0.113.0/24",)), False),
        (Cmp("eventType", "glob", ("system.*.cre?te",)), True),
        (Cmp("eventType", "glob", ("system.\\*",)), False),
        (Cmp("eventType", "regex", ("^system\\.api_token\\.(create|revoke)$",)), True),
        (Cmp("eventType", "regex", ("API_TOKEN",)), False),
        (Cmp("eventType", "regex", ("(?i)API_TOKEN",)), True),
        (Cmp("actor.alternateId", "contains", ("admin", "example"), all_values=True), True),
        (Cmp("actor.alternateId", "contains", ("admin", "zzz"), all_values=True), False),
        (Exists("nothing"), True),
        (Exists("target.displayName"), True),
        (Exists("target.missing"), False),
        (FieldRef("eventType", "eventType"), True),
        (FieldRef("eventType", "outcome.result"), False),
        (Keywords(("ci-token",)), True),
        (Keywords(("ci-token", "absent"), all_values=True), False),
        (Keywords(("*tokens",), op="glob"), True),
        (Not(Cmp("missing", "eq", ("x",))), True),
        (All((Cmp("eventType", "contains", ("api_token",)), Not(Cmp("outcome.result", "eq", ("FAILURE",))))), True),
        (Any((Cmp("eventType", "eq", ("a",)), Cmp("eventType", "eq", ("b",)))), False),
        (All(()), True),
        (Any(()), False),
        (Const(False), False),
    ],
)
def test_semantics(expr, expected):
    assert fires(expr) is expected


def test_case_insensitive_field_names_only_when_asked():
    event = {"EVENT_TYPE": "OAuthTokenRevoked"}
    expr = Cmp("event_type", "eq", ("oauthtokenrevoked",))
    assert fires(expr, event) is False
    assert fires(expr, event, ci_fields=True) is True


def test_field_names_are_case_sensitive_by_default():
    assert fires(Cmp("eventtype", "eq", ("system.api_token.create",))) is False


def test_regex_backreference_runs_on_guarded_fallback():
    assert fires(Cmp("eventType", "regex", (r"(api)_token.*\1?",))) is True


def test_regex_backtracking_pattern_runs_guarded_and_invalid_one_is_refused():
    # Nested quantifiers with a back-reference: the fallback runs it under a time limit.
    assert fires(Cmp("eventType", "regex", (r"(a+)+\1",)), {"eventType": "aa"})
    with pytest.raises(UnsupportedFeature):
        compile_expr(Cmp("eventType", "regex", (r"(unclosed",)))


def test_list_fan_out_matches_any_element():
    event = {"target": [{"type": "User"}, [{"type": "AppInstance"}]]}
    assert fires(Cmp("target.type", "eq", ("appinstance",)), event)


def test_review_findings_on_comparison_semantics():
    from tokentrail.compile.batch import compile_batch

    # Ordering: strings against strings, numbers against numbers, never a number against a string.
    assert fires(Cmp("t", "gt", ("2023-06-01",)), {"t": "2024-01-01T00:00:00Z"})
    assert not fires(Cmp("year", "gt", ("2023-06-01",)), {"year": "2024"})
    assert not fires(Cmp("year", "lt", ("2023-06-01",)), {"year": "2024"})
    # Boolean glob/regex values mean their text, as for eq; batch and single compile agree.
    for expr in (Cmp("f", "glob", (True,), cased=True), Cmp("f", "regex", (True,))):
        assert fires(expr, {"f": "true"})
        assert compile_batch([expr])({"f": "true"}) == [0]
    # Case-insensitive field names reach inside arrays of objects for eq too.
    event = {"target": [{"Type": "User"}]}
    expr = Cmp("target.type", "eq", ("user",))
    assert fires(expr, event, ci_fields=True)
    assert compile_batch([expr], ci_fields=True)(event) == [0]

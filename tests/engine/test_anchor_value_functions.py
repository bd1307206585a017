"""The index's per-anchor-value functions are an optimisation: whatever path an event takes (its
anchor a plain string, a list, missing, nested, of any case), the units found are exactly the
rules whose whole expression holds for it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokentrail.compile.python import compile_expr
from tokentrail.engine.plan import build_plan
from tokentrail.rules.ir import All, Any, Cmp, Exists, Not
from tokentrail.rules.model import LogSource, Rule

TYPES = ["user.session.start", "app.oauth2.as.token.grant.access_token", "app.oauth2.as.consent.grant",
         "system.api_token.create"]
TYPE_VALUES = [*TYPES, "User.Session.START", "APP.OAUTH2.AS.TOKEN.GRANT.REFRESH_TOKEN", "other.event", ""]


@st.composite
def type_tests(draw, field="eventType"):
    op = draw(st.sampled_from(["eq", "eq", "startswith", "contains", "endswith", "glob", "regex"]))
    if op == "eq":
        values = tuple(draw(st.lists(st.sampled_from(TYPE_VALUES), min_size=1, max_size=2)))
    elif op == "glob":
        values = (draw(st.sampled_from(["app.oauth2.*", "*.START", "user.?ession*"])),)
    elif op == "regex":
        values = (draw(st.sampled_from(["^app\\.oauth2", "(?i)SESSION", "token$"])),)
    else:
        values = (draw(st.sampled_from(["app.oauth2", "token", "START", "grant.refresh"])),)
    return Cmp(field, op, values, cased=draw(st.booleans()))


other_tests = st.one_of(
    st.builds(lambda v, c: Cmp("outcome.result", "eq", (v,), cased=c), st.sampled_from(["SUCCESS", "failure"]),
              st.booleans()),
    st.builds(lambda v: Cmp("actor.alternateId", "endswith", (v,)), st.sampled_from(["@example.com", "@evil.test"])),
    st.just(Exists("client.ipAddress")),
)

def exprs(field):
    return st.recursive(
        st.one_of(type_tests(field), other_tests, st.just(Exists(field))),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: All(tuple(xs))),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: Any(tuple(xs))),
            inner.map(Not),
        ),
        max_leaves=5,
    )


event_types = st.one_of(st.sampled_from(TYPE_VALUES), st.lists(st.sampled_from(TYPE_VALUES), max_size=2),
                        st.none(), st.just(True))


@st.composite
def events(draw, field="eventType"):
    event = {"uuid": "e1", "log_id": "e1", "published": "2024-05-01T10:00:00Z",
             "actor": {"alternateId": draw(st.sampled_from(["a@example.com", "b@evil.test"]))},
             "outcome": {"result": draw(st.sampled_from(["SUCCESS", "FAILURE"]))}}
    kind = draw(st.sampled_from(["plain", "plain", "other", "missing", "dotted", "both"]))
    value = draw(st.sampled_from(TYPE_VALUES)) if kind in ("plain", "dotted", "both") else draw(event_types)
    if kind in ("dotted", "both"):
        event[field] = value  # a literal dotted key ("data.type") where the path has nothing
        event["client.ipAddress"] = "10.0.0.2"
    if kind == "both" and "." in field:
        # ...and the nested path's head too, holding a list or a non-object: both routes count.
        head, _, rest = field.partition(".")
        event[head] = draw(st.sampled_from([[{rest: "other.event"}], [{rest: value}], "text", None, []]))
    elif kind != "missing":
        head, _, rest = field.partition(".")
        event[head] = {rest: value, "date": "2024-05-01T10:00:00Z"} if rest else value
    if draw(st.booleans()):
        event["client"] = {"ipAddress": "10.0.0.1"}
    return event


# Okta anchors on a top-level key; the Auth0 log stream on a nested one.
CASES = [("okta", "eventType"), ("auth0", "data.type")]


@pytest.mark.parametrize(("product", "field"), CASES)
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_units_found_are_the_rules_that_hold(product, field, data):
    expr_list = data.draw(st.lists(exprs(field), min_size=1, max_size=6))
    event_list = data.draw(st.lists(events(field), min_size=1, max_size=6))
    rules = [Rule(id=f"r{i}", title=f"r{i}", format="sigma", logic=e, logsource=LogSource(product=product))
             for i, e in enumerate(expr_list)]
    index = build_plan(rules).indexes[product]
    assert index.key_path == tuple(field.split("."))
    truth = [(r.id, compile_expr(r.logic)) for r in rules]
    for event in event_list:
        found = sorted(u.rule.id for u in index.matching(event) or [])
        assert found == [rid for rid, holds in truth if holds(event)], event


def test_a_value_no_rule_can_match_costs_nothing_and_values_share_functions():
    starts = Cmp("eventType", "startswith", ("app.oauth2.as.token.grant",))
    rules = [Rule(id="grant", title="g", format="sigma", logic=All((starts, Cmp("outcome.result", "eq", ("FAILURE",)))),
                  logsource=LogSource(product="okta")),
             Rule(id="created", title="c", format="sigma", logic=Cmp("eventType", "eq", ("system.api_token.create",)),
                  logsource=LogSource(product="okta"))]
    index = build_plan(rules).indexes["okta"]
    failed = {"outcome": {"result": "FAILURE"}}
    assert index.matching({"eventType": "user.session.start", **failed}) is None
    assert index.by_value["user.session.start"] is None  # the startswith rule was decided false
    grants = ["app.oauth2.as.token.grant.access_token", "APP.OAUTH2.AS.TOKEN.GRANT.ID_TOKEN"]
    assert [u.rule.id for g in grants for u in index.matching({"eventType": g, **failed})] == ["grant", "grant"]
    # Both grant types reduce to the same test (outcome only): one generated function serves both.
    assert index.by_value[grants[0]] is index.by_value[grants[1].lower()]
    assert "eventType" not in index.by_value[grants[0]].source


def test_values_beyond_the_cap_take_the_general_path():
    rule = Rule(id="any-oauth", title="o", format="sigma", logic=Cmp("eventType", "contains", ("oauth",)),
                logsource=LogSource(product="okta"))
    index = build_plan([rule]).indexes["okta"]
    index.MAX_VALUES = 2
    seen = [index.matching({"eventType": f"app.oauth{i}"}) for i in range(5)]
    assert [[u.rule.id for u in s] for s in seen] == [["any-oauth"]] * 5
    assert len(index.by_value) == 2


def _okta_rule(rid, expr):
    return Rule(id=rid, title=rid, format="sigma", logic=expr, logsource=LogSource(product="okta"))


def test_numbers_and_booleans_are_not_confused_by_shared_functions():
    # 1 == True in Python, and equal expressions share a function; the IR tells them apart
    # (``eq true`` matches "true", ``eq 1`` matches 1), so sharing must too.
    one, true = Cmp("n", "eq", (1,)), Cmp("n", "eq", (True,))
    either = Any((All((Cmp("eventType", "eq", ("a.one",)), one)), All((Cmp("eventType", "eq", ("b.true",)), true))))
    rules = [_okta_rule("eq-one", All((Exists("eventType"), one))), _okta_rule("eq-true", All((Exists("eventType"), true))),
             _okta_rule("either", either)]
    index = build_plan(rules).indexes["okta"]

    def found(event):
        return sorted(u.rule.id for u in index.matching(event) or [])

    assert found({"eventType": "x", "n": 1}) == ["eq-one"]
    assert found({"eventType": "x", "n": True}) == ["eq-true"]
    assert found({"eventType": "a.one", "n": 1}) == ["either", "eq-one"]
    assert found({"eventType": "b.true", "n": 1}) == ["eq-one"]
    assert found({"eventType": "b.true", "n": "true"}) == ["either", "eq-true"]


def test_a_glob_on_the_anchor_is_decided_in_advance_only_for_ascii_values():
    # "İ".lower() is two characters; RE2's case-insensitive glob still sees one letter.
    index = build_plan([_okta_rule("glob", Cmp("eventType", "glob", ("user.?",)))]).indexes["okta"]
    assert [u.rule.id for u in index.matching({"eventType": "user.İ"}) or []] == ["glob"]
    assert [u.rule.id for u in index.matching({"eventType": "USER.X"}) or []] == ["glob"]
    assert index.matching({"eventType": "user.xy"}) is None


def test_a_flattened_document_uses_its_literal_dotted_anchor_unless_the_nested_path_may_hold_values():
    rule = Rule(id="read", title="r", format="sigma", logic=Cmp("data.type", "eq", ("mgmt_api_read",)),
                logsource=LogSource(product="auth0"))
    index = build_plan([rule]).indexes["auth0"]
    flat = {"log_id": "1", "data.type": "mgmt_api_read"}
    assert [u.rule.id for u in index.matching(flat) or []] == ["read"]
    assert "mgmt_api_read" in index.by_value  # taken through the per-value table
    # A "data" list may hold more values of the field: the general path reads them all.
    both = {"log_id": "2", "data.type": "other", "data": [{"type": "mgmt_api_read"}]}
    assert [u.rule.id for u in index.matching(both) or []] == ["read"]

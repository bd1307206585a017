"""convert/sql.py's queries, run in DuckDB over a table of events, find exactly the events the
streaming engine matches — for every conversion that says it is exact."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tokentrail.convert.sql import to_sql
from tokentrail.engine.stream import StreamingEngine
from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, Not
from tokentrail.rules.model import Rule

TEXT = pa.string()
TARGET = pa.list_(pa.struct([("type", TEXT), ("alternateId", TEXT)]))
SCHEMA = pa.schema([
    ("uuid", TEXT), ("published", TEXT), ("eventType", TEXT), ("displayMessage", TEXT),
    ("actor", pa.struct([("alternateId", TEXT), ("type", TEXT)])),
    ("client", pa.struct([("ipAddress", TEXT), ("geographicalContext", pa.struct([("country", TEXT)]))])),
    ("target", TARGET),
])
FIELDS = ["eventType", "displayMessage", "actor.alternateId", "actor.type", "client.ipAddress",
          "client.geographicalContext.country", "target.type", "target.alternateId"]
WORDS = ["user.session.start", "app.oauth2.token.grant", "Token", "TOKEN", "tok", "Straße", "ÉCOLE", "école",
         "10.1.2.3", "a%b", "a_b", "x\ny", "", "User", "AppInstance", "🙂"]


def table_of(events: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(events, schema=SCHEMA)


def sql_matches(rule: Rule, events: list[dict]) -> tuple[str, set[str]]:
    conv = to_sql(rule, "duckdb")
    con = duckdb.connect()
    con.register("events", table_of(events))
    return conv.status, {row[0] for row in con.execute(f"SELECT uuid FROM ({conv.query})").fetchall()}


def stream_matches(rule: Rule, events: list[dict]) -> set[str]:
    found: set[str] = set()
    StreamingEngine([rule], on_match=lambda m: found.add(m.event_id)).run(events)
    return found


def rule_of(expr) -> Rule:
    return Rule(id="r", title="r", format="sigma", logic=expr, log_types=("okta",))


texts = st.one_of(st.sampled_from(WORDS), st.text(alphabet="abcTOKé_%\\.", max_size=4))
needles = st.sampled_from(["token", "TOK", "user", "ß", "é", "É", "app.", "a%", "_", ""])


@st.composite
def cmps(draw):
    field = draw(st.sampled_from(FIELDS))
    op = draw(st.sampled_from(["eq", "contains", "startswith", "endswith", "glob", "regex"]))
    if op == "glob":
        values = (draw(st.sampled_from(["tok*", "*EN", "?ser*", "a\\%b", "a_b", "*.*", "a\\*b", "école"])),)
    elif op == "regex":
        values = (draw(st.sampled_from(["^tok", "(?i)USER", "n$", "x.y", "(?s)x.y", "\\d+", "^$"])),)
    else:
        values = tuple(draw(st.lists(needles, min_size=1, max_size=3)))
    return Cmp(field, op, values, cased=draw(st.booleans()), all_values=draw(st.booleans()))


leaves = st.one_of(cmps(), st.sampled_from(FIELDS).map(lambda f: Exists(f, non_null=True)), st.booleans().map(Const))
exprs = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(lambda xs: All(tuple(xs))),
    st.lists(inner, max_size=3).map(lambda xs: Any(tuple(xs))),
    inner.map(Not)), max_leaves=6)
maybe = st.one_of(st.none(), texts)
targets = st.lists(st.fixed_dictionaries({}, optional={"type": maybe, "alternateId": maybe}), max_size=3)


@st.composite
def events(draw):
    n = draw(st.integers(1, 6))
    out = []
    for i in range(n):
        event = {"uuid": f"u{i}", "published": f"2026-01-01T00:00:0{i}Z", "eventType": draw(texts)}
        for key in ("displayMessage",):
            if draw(st.booleans()):
                event[key] = draw(maybe)
        if draw(st.booleans()):
            event["actor"] = draw(st.fixed_dictionaries({}, optional={"alternateId": maybe, "type": maybe}))
        if draw(st.booleans()):
            event["client"] = draw(st.fixed_dictionaries({}, optional={"ipAddress": maybe, "geographicalContext":
                                                                       st.fixed_dictionaries({}, optional={"country": maybe})}))
        if draw(st.booleans()):
            event["target"] = draw(targets)
        out.append(event)
    return out


@settings(max_examples=200, deadline=None)
@given(exprs, events())
@example(Cmp("displayMessage", "eq", ("école",)), [{"uuid": "u0", "published": "2026-01-01T00:00:00Z",
                                                    "eventType": "x", "displayMessage": "ÉCOLE"}])
@example(Not(Cmp("target.type", "eq", ("user",))), [{"uuid": "u0", "published": "2026-01-01T00:00:00Z",
                                                     "eventType": "x", "target": [{"type": "User"}, {}]},
                                                    {"uuid": "u1", "published": "2026-01-01T00:00:00Z",
                                                     "eventType": "x"}])
@example(Cmp("displayMessage", "glob", ("a\\%b",)), [{"uuid": "u0", "published": "2026-01-01T00:00:00Z",
                                                      "eventType": "x", "displayMessage": "a%b"},
                                                     {"uuid": "u1", "published": "2026-01-01T00:00:00Z",
                                                      "eventType": "x", "displayMessage": "axb"}])
def test_exact_conversions_match_as_the_streaming_engine(expr, event_list):
    rule = rule_of(expr)
    status, got = sql_matches(rule, event_list)
    assert status == "exact", to_sql(rule, "duckdb").caveats
    assert got == stream_matches(rule, event_list), to_sql(rule, "duckdb").query


def test_lists_fan_out_and_negation_holds_for_missing_fields():
    evts = [{"uuid": "a", "published": "2026-01-01T00:00:00Z", "eventType": "x",
             "target": [{"type": "User"}, {"type": "AppInstance"}]},
            {"uuid": "b", "published": "2026-01-01T00:00:00Z", "eventType": "x"}]
    rule = rule_of(Cmp("target.type", "eq", ("appinstance",)))
    assert sql_matches(rule, evts) == ("exact", {"a"})
    negated = rule_of(Not(Cmp("target.type", "eq", ("appinstance",))))
    assert sql_matches(negated, evts) == ("exact", {"b"}) and stream_matches(negated, evts) == {"b"}


def test_caveated_parts_still_match_on_plain_values():
    """CIDR and numeric comparisons carry caveats (edge spellings); on plain dotted quads and
    plain numbers they agree with the streaming engine."""
    evts = [{"uuid": str(i), "published": "2026-01-01T00:00:00Z", "eventType": "x", "displayMessage": v,
             "client": {"ipAddress": ip}}
            for i, (v, ip) in enumerate([("5", "10.1.2.3"), ("12", "192.168.0.1"), ("abc", "10.255.0.1"),
                                         ("7.5", "not an ip")])]
    for expr in (Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",)), Cmp("displayMessage", "gt", (6,)),
                 Cmp("displayMessage", "lt", ("b",)), Cmp("displayMessage", "eq", (5,))):
        status, got = sql_matches(rule_of(expr), evts)
        assert status == "caveats"
        assert got == stream_matches(rule_of(expr), evts), expr

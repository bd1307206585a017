"""compile/sql.py against compile/python.py: wherever SQL decides (TRUE/FALSE), it decides as the
Python matcher does; where it cannot, it says NULL (the engine then asks Python)."""

from __future__ import annotations

import duckdb
import orjson
import pytest
import sqlglot.expressions as sx
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tokentrail.compile.python import compile_expr
from tokentrail.compile.sql import FieldTable, compile_sql, enable_arrow_lambdas
from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, FieldRef, Keywords, Not

CON = duckdb.connect()
enable_arrow_lambdas(CON)


def sql_results(exprs, events, *, ci=False):
    """Each expression's SQL verdict (True/False/None) on each event, evaluated by DuckDB."""
    fields = FieldTable()
    preds = [compile_sql(e, fields, ci_fields=ci) for e in exprs]
    fields.type_of("$")
    (dotted, types), (texts, arrays) = fields.columns("v")
    cols = ", ".join(f"{p.sql('duckdb')} AS p{i}" for i, p in enumerate(preds))
    rows = [(i, orjson.dumps(e).decode()) for i, e in enumerate(events)]
    CON.execute("CREATE OR REPLACE TEMP TABLE ev (n INTEGER, v VARCHAR)")
    CON.executemany("INSERT INTO ev VALUES (?, ?)", rows)
    query = (f"WITH r AS (SELECT n, v, {dotted.sql('duckdb')}, {types.sql('duckdb')}, {texts.sql('duckdb')}, "
             f"{arrays.sql('duckdb')} FROM ev), q AS (SELECT *, {fields.lowered_column().sql('duckdb')} FROM r) "
             f"SELECT {cols} FROM q ORDER BY n")
    return [list(row) for row in CON.execute(query).fetchall()]


def check(exprs, events, *, ci=False):
    """SQL agrees with Python wherever it decides; returns how many verdicts SQL decided."""
    got = sql_results(exprs, events, ci=ci)
    decided = 0
    for event, row in zip(events, got, strict=True):
        for expr, verdict in zip(exprs, row, strict=True):
            if verdict is None:
                continue
            decided += 1
            assert verdict == compile_expr(expr, ci_fields=ci)(event), (expr, event)
    return decided


FIELDS = ["a", "b", "b.c", "t.type", "x.y.z", "x.w", "ip", "n", "é.k"]
WORDS = ["Token", "token", "user", "10.1.2.3", "10.1.2.03", "2001:db8::9", "/api/v1/x", "", "TRUE", "5", "5.0",
         " 7", "2024-01-02T03:04:05Z", "inf", "İstanbul", "straße", "STRASSE", "a.b", "x\ny", "1_0", "🙂tok"]

scalars = st.one_of(st.sampled_from(WORDS), st.text(max_size=4), st.integers(-3, 7), st.floats(allow_nan=False,
                    allow_infinity=False, width=32), st.booleans(), st.none())
needles = st.sampled_from(["token", "TOKEN", "user", "/api", "5", "true", "tok", "ß", "İ", "", True, False, 1, 0, 2.5,
                           None])


@st.composite
def cmps(draw):
    field = draw(st.sampled_from(FIELDS))
    op = draw(st.sampled_from(["eq", "contains", "startswith", "endswith", "regex", "glob", "cidr",
                               "lt", "le", "gt", "ge"]))
    if op == "cidr":
        values = tuple(draw(st.lists(st.sampled_from(["10.0.0.0/8", "2001:db8::/32", "10.1.2.3/32", "0.0.0.0/0"]),
                                     min_size=1, max_size=2)))
    elif op == "regex":
        values = (draw(st.sampled_from(["^tok", "(?i)USER", "api/v1", "^$", "x.y", "(?s)x.y", "\\d+", "(a)\\1"])),)
    elif op == "glob":
        values = (draw(st.sampled_from(["tok*", "*ER", "?ser", "/api/*", "a\\*b", "*.b"])),)
    elif op in ("lt", "le", "gt", "ge"):
        values = tuple(draw(st.lists(st.sampled_from([3, "5", "2024-01-01", "m", "", 2.5]), min_size=1, max_size=2)))
    else:
        values = tuple(draw(st.lists(needles, min_size=1, max_size=3)))
    return Cmp(field, op, values, cased=draw(st.booleans()), all_values=draw(st.booleans()))


leaves = st.one_of(
    cmps(),
    st.sampled_from(FIELDS).map(Exists),
    st.builds(FieldRef, st.sampled_from(FIELDS), st.sampled_from(FIELDS)),
    st.builds(Keywords, st.lists(st.sampled_from(["tok", "user"]), min_size=1, max_size=2).map(tuple)),
    st.booleans().map(Const),
)
exprs = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: All(tuple(xs))),
        st.lists(inner, max_size=3).map(lambda xs: Any(tuple(xs))),
        inner.map(Not),
    ),
    max_leaves=6,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["type", "c", "y", "z", "w", "y.z", "k", "C", "Type"]), inner, max_size=3),
    ),
    max_leaves=5,
)
# Nested objects, lists, nulls, mixed types, unicode, keys in another case and literal dotted keys.
events = st.dictionaries(st.sampled_from(["a", "b", "t", "x", "ip", "n", "é", "b.c", "x.y", "t.type", "x.y.z", "A",
                                          "B", "é.k"]), values, max_size=5)


@settings(max_examples=250, deadline=None)
@given(st.lists(exprs, min_size=1, max_size=4), st.lists(events, min_size=1, max_size=4), st.booleans())
@example([Cmp("a", "eq", ("straße",))], [{"a": "STRASSE"}, {"a": "Straße"}], False)
@example([Cmp("ip", "cidr", ("10.0.0.0/8",))], [{"ip": "10.1.2.03"}, {"ip": " 10.1.2.3"}, {"ip": "10.1.2.3"}], False)
@example([Cmp("n", "gt", (3,))], [{"n": "5"}, {"n": " 7"}, {"n": "1_0"}, {"n": "inf"}, {"n": "m"}], False)
@example([Cmp("b.c", "eq", ("x",))], [{"b.c": "x"}, {"b": [{"c": "x"}]}, {"b": {"c": "x"}, "b.c": "y"}], False)
def test_sql_never_contradicts_python(expr_list, event_list, ci):
    check(expr_list, event_list, ci=ci)


def test_plain_events_are_decided_in_sql():
    """The point of the SQL: on ordinary events (strings through objects, fields missing) SQL
    decides every leaf it can; only the unsure ones are left to Python."""
    exprs = [Cmp("eventType", "eq", ("user.session.start",)), Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",)),
             Cmp("debugContext.debugData.requestUri", "contains", ("/token",)), Exists("outcome.reason"),
             Not(Cmp("actor.type", "startswith", ("Service",))), Cmp("published", "ge", ("2026-01-01",)),
             Cmp("eventType", "regex", ("^app\\.oauth2",)), Cmp("eventType", "glob", ("USER.*",))]
    evts = [{"eventType": "user.session.start", "client": {"ipAddress": "10.9.9.9"}, "actor": {"type": "User"},
             "published": "2026-03-01T00:00:00Z"},
            {"eventType": "app.oauth2.token.grant", "client": {"ipAddress": "8.8.8.8"}, "outcome": {"reason": None},
             "debugContext": {"debugData": {"requestUri": "/oauth2/v1/token"}}, "published": "2025-12-01T09:00:00Z"}]
    assert check(exprs, evts) == len(exprs) * len(evts)


def test_arrays_of_objects_are_decided_in_sql():
    exprs = [Cmp("target.type", "eq", ("appinstance",)), Cmp("target.type", "contains", ("user", "group"),
                                                               all_values=True), Not(Cmp("target.id", "eq", ("1",)))]
    evts = [{"target": [{"type": "User"}, {"type": "AppInstance", "id": "1"}]}, {"target": []},
            {"target": [{"id": "2"}, {"type": "UserGroup"}]}]
    assert check(exprs, evts) == len(exprs) * len(evts)
    assert check(exprs, evts, ci=True) >= 6  # an element without the key is no reason to doubt


@pytest.mark.parametrize(("expr", "event"), [
    (Cmp("a", "eq", (5,)), {"a": "5"}),  # numbers compare numerically: Python decides
    (Cmp("t.type", "eq", ("x",)), {"t": [{"type": "x"}, "x"]}),  # a list holding a non-object
    (Cmp("t.type", "eq", ("x",)), {"t": [{"type": ["x"]}]}),  # a list in a list
    (Cmp("b.c", "eq", ("x",)), {"b.c": "x"}),  # a literal dotted key
    (Cmp("a", "eq", ("é",)), {"a": "É"}),  # lower-casing outside ASCII
    (Keywords(("tok",)), {"a": "tok"}),
    (FieldRef("a", "b"), {"a": "x", "b": "x"}),
])
def test_unsure_cases_are_left_to_python(expr, event):
    assert sql_results([expr], [event]) == [[None]]
    assert compile_expr(expr)(event) is True


def test_case_insensitive_keys_leave_missing_fields_unsure():
    expr = Cmp("eventType", "eq", ("x",))
    assert sql_results([expr], [{"EventType": "x"}], ci=True) == [[None]]
    assert sql_results([expr], [{"EventType": "x"}], ci=False) == [[False]]
    assert compile_expr(expr, ci_fields=True)({"EventType": "x"}) is True


def test_sql_is_a_sqlglot_expression():
    fields = FieldTable()
    pred = compile_sql(All((Cmp("a", "eq", ("x",)), Not(Exists("b")))), fields)
    assert isinstance(pred, sx.Expression)
    assert "lx[" in pred.sql("duckdb")  # lower-cased once per event, read by every test

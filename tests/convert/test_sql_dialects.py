"""Golden texts: a handful of IR shapes in every SQL dialect, each fix of compile/dialects.py
pinned (sql_golden.json holds the reviewed text; regenerate it only after reading the diff)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlglot.expressions as sx

from tokentrail.compile.dialects import DIALECTS, render
from tokentrail.convert.sql import to_sql
from tokentrail.rules.ir import All, Cmp, Exists, Not
from tokentrail.rules.model import Grouping, Rule

GOLDEN = json.loads((Path(__file__).parent / "sql_golden.json").read_text(encoding="utf-8"))


def _rule(expr, grouping=Grouping()) -> Rule:
    return Rule(id="r", title="r", format="sigma", logic=expr, log_types=("okta",), grouping=grouping)


SHAPES = {
    # A list of objects (Okta target[]) fanned out by a lambda, case-insensitive.
    "list_any": _rule(All((Cmp("eventType", "eq", ("app.oauth2.token.grant",), cased=True),
                           Cmp("target.type", "eq", ("AppInstance",))))),
    # A searched regex (Snowflake anchors REGEXP_LIKE) and a nested struct path (Snowflake VARIANT).
    "regex_nested": _rule(Cmp("client.geographicalContext.country", "regex", ("^(RU|KP)",))),
    # Case-sensitive substring (BigQuery CONTAINS_SUBSTR ignores case; Trino CONTAINS is for arrays).
    "contains_cased": _rule(Cmp("displayMessage", "contains", ("Token",), cased=True)),
    # IPv4 CIDR through TRY_CAST and SPLIT_PART (Spark/Snowflake CAST would raise; BigQuery lacks SPLIT_PART).
    "cidr": _rule(Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",))),
    # A glob under NOT: LIKE with a backslash escape (BigQuery takes no ESCAPE), leaf made two-valued.
    "glob_not": _rule(Not(Cmp("actor.alternateId", "glob", ("svc\\_*@*",)))),
    # A threshold with a window and a distinct count: GROUP BY ... HAVING over time buckets.
    "threshold": _rule(All((Cmp("eventType", "eq", ("user.session.start",)), Exists("actor.id", non_null=True))),
                       Grouping(group_by=("actor.alternateId",), window=600, threshold=5,
                                distinct_field="client.ipAddress", distinct_threshold=3)),
}


def rendered(name: str, dialect: str) -> str:
    return to_sql(SHAPES[name], dialect).query


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", list(SHAPES))
def test_golden_text(name, dialect):
    assert rendered(name, dialect) == GOLDEN[name][dialect]


def _duckdb_calls() -> sx.Expression:
    """What compile/sql.py writes for DuckDB: plain calls sqlglot does not know as such."""
    def call(name, *args):
        return sx.Anonymous(this=name, expressions=list(args))
    a, s = sx.column("a"), sx.column("s")
    return sx.and_(sx.GT(this=call("len", a), expression=sx.Literal.number(0)),
                   call("list_contains", a.copy(), sx.Literal.string("x")),
                   sx.ArrayOverlaps(this=a.copy(), expression=sx.Array(expressions=[sx.Literal.string("y")])),
                   call("starts_with", s, sx.Literal.string("p")),
                   sx.EQ(this=call("strlen", s.copy()), expression=call("length", s.copy())))


@pytest.mark.parametrize(("dialect", "text"), [
    ("duckdb", "LEN(a) > 0 AND LIST_CONTAINS(a, 'x') AND a && ['y'] AND STARTS_WITH(s, 'p') AND STRLEN(s) = LENGTH(s)"),
    ("spark", "SIZE(a) > 0 AND ARRAY_CONTAINS(a, 'x') AND ARRAYS_OVERLAP(a, ARRAY('y')) AND STARTSWITH(s, 'p') "
              "AND OCTET_LENGTH(s) = LENGTH(s)"),
    ("trino", "CARDINALITY(a) > 0 AND CONTAINS(a, 'x') AND ARRAYS_OVERLAP(a, ARRAY['y']) AND STARTS_WITH(s, 'p') "
              "AND OCTET_LENGTH(s) = LENGTH(s)"),
    ("bigquery", "ARRAY_LENGTH(a) > 0 AND EXISTS(SELECT 1 FROM UNNEST(a) AS _col WHERE _col = 'x') AND "
                 "EXISTS(SELECT 1 FROM UNNEST(a) AS _e "
                 "WHERE _e IN UNNEST(['y'])) AND STARTS_WITH(s, 'p') AND OCTET_LENGTH(s) = LENGTH(s)"),
])
def test_duckdb_function_names_become_each_dialects(dialect, text):
    """``len(list)`` is a list's size, not LENGTH; ``&&`` is ARRAYS_OVERLAP where ``&&`` is refused."""
    assert render(_duckdb_calls(), dialect) == text


def test_unknown_dialect_is_an_error():
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        render(sx.true(), "oracle")

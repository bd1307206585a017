"""The typed query's constant folding (``compile/sql_fold.py``): the folded comparisons give the
unfolded ones' TRUE/FALSE/NULL on every row, and the branches the schema decides are gone."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
import sqlglot.expressions as sx

from tokentrail.compile.sql_fold import fold
from tokentrail.compile.sql_typed import TypedFieldTable, compile_typed
from tokentrail.rules.ir import All, Any, Cmp, Exists, Not

SCHEMA = pa.schema([
    ("eventType", pa.string()),
    ("ok", pa.bool_()),
    ("client", pa.struct([("ipAddress", pa.string()), ("zone", pa.string())])),
    ("target", pa.list_(pa.struct([("type", pa.string())]))),
    ("n", pa.int64()),
])
ROWS = {
    "eventType": ["user.session.start", "USER.Session.Start", None, "app.x", "ünï"],
    "ok": [True, False, None, True, False],
    "client": [{"ipAddress": "10.1.2.3", "zone": "a"}, {"ipAddress": "192.0.2.1", "zone": None}, None,
               {"ipAddress": "::1", "zone": "B"}, {"ipAddress": None, "zone": "b"}],
    "target": [[{"type": "User"}], [], None, [{"type": None}, {"type": "AppInstance"}], [{"type": "user"}]],
    "n": [1, 2, None, 4, 5],
}

CONDITIONS = [
    Cmp("eventType", "eq", ("user.session.start",)),
    Cmp("eventType", "eq", ("user.session.start",), cased=True),
    Cmp("eventType", "startswith", ("user.", "app")),
    Cmp("ok", "eq", (True,)),
    Cmp("ok", "eq", ("true", None)),
    Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",)),
    Cmp("client.zone", "eq", ("a", None)),
    Cmp("client.missing", "eq", ("x",)),
    Cmp("nothere", "contains", ("x", None)),
    Cmp("target.type", "eq", ("user",)),
    Cmp("n", "eq", ("1",)),
    Exists("client.zone"),
    Exists("nothere"),
    Not(Cmp("eventType", "endswith", ("start",))),
    All((Cmp("eventType", "contains", ("session",)), Any((Cmp("client.zone", "eq", ("b",)), Exists("nothere"))))),
]


def _values(conditions: list[sx.Expression]) -> list[tuple]:
    con = duckdb.connect()
    con.register("t", pa.table(ROWS, schema=SCHEMA))
    return con.execute("SELECT " + ", ".join(c.sql("duckdb") for c in conditions) + " FROM t").fetchall()


@pytest.mark.parametrize("ci", [False, True])
def test_folded_conditions_give_the_same_verdicts_on_every_row(ci: bool):
    fields = TypedFieldTable(SCHEMA)
    compiled = [compile_typed(c, fields, ci_fields=ci) for c in CONDITIONS]
    folded = [fold(c) for c in compiled]
    assert _values(folded) == _values(compiled)
    assert sum(len(c.sql("duckdb")) for c in folded) < sum(len(c.sql("duckdb")) for c in compiled) / 2


def test_branches_the_schema_decides_are_gone_and_the_input_is_kept():
    fields = TypedFieldTable(SCHEMA)
    compiled = compile_typed(Cmp("eventType", "eq", ("user.session.start",)), fields)
    before = compiled.sql("duckdb")
    folded = fold(compiled).sql("duckdb")
    assert compiled.sql("duckdb") == before  # folded on a copy
    assert "'BOOLEAN'" in before and "'BOOLEAN'" not in folded and "'OBJECT'" not in folded
    # A field the schema lacks, compared with no null wanted, is FALSE outright.
    assert fold(compile_typed(Cmp("nothere", "eq", ("x",)), fields)).sql("duckdb") == "FALSE"


def test_a_null_stays_null_outside_a_when():
    # NOT (NULL = 'x') is NULL; folding the comparison to FALSE there would make it TRUE.
    expr = sx.not_(sx.paren(sx.EQ(this=sx.null(), expression=sx.Literal.string("x"))))
    assert _values([fold(expr)]) == _values([expr])


def test_shared_per_row_values_give_the_same_verdicts():
    plain = TypedFieldTable(SCHEMA)
    shared = TypedFieldTable(SCHEMA, lowered_prefix="__tt_lw")
    tests = [Cmp("eventType", "eq", ("user.session.start",)), Cmp("eventType", "startswith", ("user.",)),
             Cmp("client.zone", "eq", ("b",)), Cmp("eventType", "regex", ("^user",)),
             Cmp("client.ipAddress", "cidr", ("10.0.0.0/8", "192.0.2.0/24")), Cmp("client.ipAddress", "cidr", ("10.1.0.0/16",))]
    expected = _values([compile_typed(c, plain) for c in tests])
    compiled = [fold(compile_typed(c, shared)) for c in tests]
    lowered = shared.lowered_columns()
    # eventType and client.zone lower-cased, the address's number and plainness: once each (the
    # regex asks for none, the two CIDR tests share theirs).
    assert len(lowered) == 4
    con = duckdb.connect()
    con.register("t", pa.table(ROWS, schema=SCHEMA))
    inner = "SELECT *, " + ", ".join(c.sql("duckdb") for c in lowered) + " FROM t"
    got = con.execute("SELECT " + ", ".join(c.sql("duckdb") for c in compiled) + f" FROM ({inner})").fetchall()
    assert got == expected


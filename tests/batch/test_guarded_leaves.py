"""Comparisons of the typed query shared as columns, each computed only under its readers'
anchors: the columns hold the comparison wherever a reader may need it, and the engine's
verdicts stay the streaming engine's."""

from __future__ import annotations

from functools import partial

import duckdb
import pyarrow as pa

from batch.test_batch_engine import OKTA
from batch.test_typed_parquet import as_parquet, assert_same
from tokentrail.compile.sql_typed import TypedFieldTable, compile_typed
from tokentrail.engine.batch_guard import GuardedLeaves
from tokentrail.rules.ir import All, Any, Cmp
from tokentrail.rules.model import Rule

SCHEMA = pa.schema([("eventType", pa.string()), ("ip", pa.string())])
ROWS = {"eventType": ["a", "b", "a", None, "c"], "ip": ["10.0.0.1", "10.0.0.1", "9.9.9.9", "10.0.0.1", "10.0.0.1"]}


def _values(leaves: GuardedLeaves) -> list[tuple]:
    """The leaf columns over ROWS, the unguarded ones first, as the typed query selects them."""
    plain = ", ".join(c.sql("duckdb") for c in leaves.columns())
    guarded = ", ".join(c.sql("duckdb") for c in leaves.guarded_columns())
    con = duckdb.connect()
    con.register("t", pa.table(ROWS, schema=SCHEMA))
    inner = f"SELECT *, {plain} FROM t"
    query = f"SELECT * EXCLUDE (eventType, ip) FROM (SELECT *, {guarded} FROM ({inner}))" if guarded else inner
    return con.execute(query).fetchall()


def test_a_comparison_read_under_anchors_is_computed_where_one_holds():
    leaves = GuardedLeaves("__tt_l")
    compiled = partial(compile_typed, fields=TypedFieldTable(SCHEMA), leaves=leaves)
    held_a = leaves.read(compiled, Cmp("eventType", "eq", ("a",)), None)
    held_b = leaves.read(compiled, Cmp("eventType", "eq", ("b",)), None)
    shared = Cmp("ip", "startswith", ("10.",))
    leaves.read(compiled, shared, held_a)
    leaves.read(compiled, shared, held_b)
    assert len(leaves.columns()) == 2 and len(leaves.guarded_columns()) == 1
    # Under "a" or "b" the comparison's own value; elsewhere (neither anchor holds) not computed.
    assert [row[-1] for row in _values(leaves)] == [True, True, False, None, None]


def test_an_unanchored_reader_makes_the_column_computed_on_every_row():
    leaves = GuardedLeaves("__tt_l")
    compiled = partial(compile_typed, fields=TypedFieldTable(SCHEMA), leaves=leaves)
    held = leaves.read(compiled, Cmp("eventType", "eq", ("a",)), None)
    shared = Cmp("ip", "startswith", ("10.",))
    leaves.read(compiled, shared, held)
    leaves.read(compiled, shared, None)
    assert len(leaves.columns()) == 2 and leaves.guarded_columns() == []
    assert [row[-1] for row in _values(leaves)] == [True, True, False, True, True]


def _rule(name: str, logic) -> Rule:
    return Rule(id=name, title=name, format="sigma", logsource=OKTA, logic=logic)


def test_rules_sharing_a_comparison_under_different_anchors_match_as_streaming(tmp_path):
    cidr = Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",))
    agent = Cmp("client.userAgent.rawUserAgent", "contains", ("curl/",))
    rules = [
        _rule("start", All((Cmp("eventType", "eq", ("user.session.start",)), cidr))),
        _rule("lock", All((Cmp("eventType", "eq", ("user.account.lock", "user.session.start")), Any((cidr, agent))))),
        _rule("grant", All((Cmp("eventType", "eq", ("user.account.privilege.grant",)), agent))),
        _rule("any", agent),  # unanchored: its comparison is computed on every row
    ]
    kinds = ["user.session.start", "user.account.lock", "user.account.privilege.grant", "policy.evaluate_sign_on"]
    events = [{"eventType": kinds[i % 4], "uuid": f"e{i}", "published": f"2026-01-01T00:00:{i:02d}Z",
               "actor": {"alternateId": "a@x.io"},
               "client": {"ipAddress": "10.1.2.3" if i % 3 else "192.0.2.1",
                          "userAgent": {"rawUserAgent": "curl/8" if i % 5 == 0 else "Mozilla/5.0"}}}
              for i in range(40)]
    parquet, jsonl = as_parquet(tmp_path, events)
    stream, _batch = assert_same(parquet, jsonl, rules)
    assert {a.rule_id for a in stream.alerts} == {"start", "lock", "grant", "any"}
    assert_same(parquet, jsonl, rules, whole_events=False)

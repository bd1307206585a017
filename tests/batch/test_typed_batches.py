"""The typed (Parquet) route queries DuckDB once per TYPED_BATCH_ROWS rows, however small the
file's row groups (each query re-binds its statement): the rows gathered across row groups give
the streaming engine's alerts and matches."""

from __future__ import annotations

import pyarrow.parquet as pq

from batch.test_batch_engine import OKTA
from batch.test_typed_parquet import as_parquet, assert_same
from tokentrail.engine import batch as engine
from tokentrail.engine import batch_parquet
from tokentrail.rules.ir import All, Cmp
from tokentrail.rules.model import Grouping, Rule


def routed_rows(monkeypatch) -> list[int]:
    """The rows of each typed batch the engine routes, appended as it routes them."""
    executed: list[int] = []
    original = engine.BatchEngine._route_typed

    def counted(self, result, table, *args, **kwargs):
        executed.append(table.num_rows)
        return original(self, result, table, *args, **kwargs)

    monkeypatch.setattr(engine.BatchEngine, "_route_typed", counted)
    return executed


def test_row_groups_are_gathered_into_one_query_each_and_match_as_streaming(tmp_path, monkeypatch):
    events = [{"eventType": "user.session.start" if i % 3 else "app.x", "uuid": f"e{i}",
               "published": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "actor": {"alternateId": f"u{i % 4}"},
               "client": {"ipAddress": "10.1.2.3" if i % 2 else "192.0.2.1"}} for i in range(50)]
    parquet, jsonl = as_parquet(tmp_path, events)
    pq.write_table(pq.read_table(parquet), parquet, row_group_size=7)  # the same rows, 8 row groups
    rules = [Rule(id="grouped", title="grouped", format="sigma", logsource=OKTA,
                  logic=All((Cmp("eventType", "eq", ("user.session.start",)), Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",)))),
                  grouping=Grouping(group_by=("actor.alternateId",), window=3600, threshold=2)),
             Rule(id="each", title="each", format="sigma", logsource=OKTA, logic=Cmp("eventType", "eq", ("app.x",)))]
    executed = routed_rows(monkeypatch)
    monkeypatch.setattr(batch_parquet, "TYPED_BATCH_ROWS", 20)
    # Read as Arrow batches: read in the statement, a batch ends at a row group (test_direct_parquet).
    monkeypatch.setattr(batch_parquet, "DIRECT_PARQUET", False)
    stream, _ = assert_same(parquet, jsonl, rules, whole_events=False)
    # Each query but the last holds at least TYPED_BATCH_ROWS rows: fewer queries than row groups.
    assert sum(executed) == 50 and all(n >= 20 for n in executed[:-1]) and len(executed) == 3
    assert {a.rule_id for a in stream.alerts} == {"grouped", "each"}

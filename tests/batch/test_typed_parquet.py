"""Parquet matched over its typed columns gives the streaming engine's alerts and matches on the
same events (as the engine reads a Parquet row: NULL cells missing), and decides plain fields
in SQL without handing rows to Python."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings

from batch.test_batch_engine import OKTA, events, rules
from tokentrail import api
from tokentrail.engine.arrow_events import events_of
from tokentrail.engine.batch import LINE_COLUMN, BatchEngine, scan_batch
from tokentrail.rules.ir import All, Cmp, Exists
from tokentrail.rules.model import Grouping, Rule
from tokentrail.sinks.parquet_dataset import _table


def as_parquet(tmp_path, event_list):
    """The events as a Parquet file, and the same events as the engine reads them back, as
    JSON lines (fields whose events disagree on a type are text in Parquet)."""
    table, _texts = _table(event_list)
    parquet = tmp_path / "okta.parquet"
    pq.write_table(table, parquet)
    read_back = events_of(pq.read_table(parquet))
    jsonl = tmp_path / "okta.jsonl"
    jsonl.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in read_back))
    return parquet, jsonl


def assert_same(parquet, jsonl, rule_list, *, whole_events=True):
    seen_stream: list = []
    seen_batch: list = []
    stream = api.scan([str(jsonl)], rule_list, workers=1, on_match=seen_stream.append)
    batch = scan_batch([str(parquet)], rule_list, on_match=seen_batch.append if whole_events else None)
    assert [(a.id, a.rule_id, a.event_ids, a.count, a.fields) for a in batch.alerts] == \
        [(a.id, a.rule_id, a.event_ids, a.count, a.fields) for a in stream.alerts]
    if whole_events:
        assert [(m.rule_id, m.event_id, m.line, dict(m.event)) for m in seen_batch] == \
            [(m.rule_id, m.event_id, m.line, dict(m.event)) for m in seen_stream]
    assert batch.stats.matches == stream.stats.matches
    assert batch.stats.events == stream.stats.events
    return stream, batch


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(rules(4), events(40))
@example([Rule(id="r0", title="r0", format="sigma", logsource=OKTA,
               logic=Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",)),
               grouping=Grouping(group_by=("actor.alternateId",), window=600, threshold=2))],
         [{"eventType": "user.session.start", "uuid": f"e{i}", "published": f"2026-01-01T00:00:0{i}Z",
           "actor": {"alternateId": "a@x.io"}, "client": {"ipAddress": ["10.1.2.3"] if i % 2 else 5}}
          for i in range(4)])
# A list of structs fanned out over in SQL: a NULL element, a NULL or absent key, a match.
@example([Rule(id="r0", title="r0", format="sigma", logsource=OKTA, logic=Cmp("target.type", "eq", ("appinstance",)),
               grouping=Grouping(group_by=("actor.alternateId",), window=600, threshold=2))],
         [{"eventType": "user.session.start", "uuid": f"e{i}", "published": f"2026-01-01T00:00:0{i}Z",
           "actor": {"alternateId": "a@x.io"}, "target": target}
          for i, target in enumerate([[{"type": "AppInstance"}, None], [{"type": None}, {"type": "AppInstance"}],
                                      [{"id": "1"}, {"type": "User"}], [{"type": "User"}, {"type": "AppInstance"}],
                                      [], [{"type": "APPINSTANCE"}]])])
def test_generated_rules_and_events(tmp_path_factory, rule_list, event_list):
    parquet, jsonl = as_parquet(tmp_path_factory.mktemp("typed"), event_list)
    assert_same(parquet, jsonl, rule_list)
    # Without on_match, rows that only feed alerting are read in their digests' fields alone.
    assert_same(parquet, jsonl, rule_list, whole_events=False)


def test_plain_typed_fields_are_decided_in_sql():
    rule = Rule(id="r", title="r", format="sigma", logsource=OKTA,
                logic=All((Cmp("eventType", "eq", ("user.session.start",)),
                           Cmp("actor.alternateId", "endswith", ("@x.io",)),
                           Exists("client.ipAddress"),
                           Cmp("target.type", "eq", ("AppInstance",)))))
    rows = [{"eventType": t, "uuid": str(i), "published": "2026-01-01T00:00:00Z",
             "actor": {"alternateId": who}, "client": {"ipAddress": ip},
             "target": [{"type": "AppInstance"}, {"type": "User"}]}
            for i, (t, who, ip) in enumerate([("user.session.start", "a@x.io", "10.0.0.1"),
                                              ("user.session.start", "a@y.io", "10.0.0.1"),
                                              ("user.session.start", "A@X.IO", None),
                                              ("app.other", "a@x.io", "10.0.0.1")])]
    table = pa.Table.from_pylist(rows)
    for on_match in (None, print):
        engine = BatchEngine([rule], on_match=on_match)
        plan = engine._typed_statement(table.schema)
        digests = plan.digests
        numbered = table.append_column(LINE_COLUMN, pa.array(range(len(rows)), pa.int64()))
        result = [tuple(r.values()) for r in engine._run_typed(plan, numbered).to_pylist()]
        # Row 0 matched; rows 1 and 2 are decided "no" in SQL (counted, not returned); row 3 (an
        # event type no rule anchors on) likewise: only the match comes back, and it is certain.
        # Without on_match it comes back digested (the unit's index, its time and id fields);
        # with on_match the whole event is needed, so its codes come back instead.
        returned = [(line, codes, unit, times, ids) for line, _lt, codes, _n, unit, times, ids, _x, _o in result
                    if line is not None]
        if on_match is None:
            assert set(digests) == {u.index for u in engine.units}
            assert returned == [(0, None, 0, ["2026-01-01T00:00:00Z"], ["0"])]
        else:
            assert digests == {}
            assert returned == [(0, [1], None, None, None)]
        assert sum(row[3] for row in result if row[0] is None) == 3


def test_timestamps_and_other_non_json_types_reach_rules_as_text(tmp_path):
    table = pa.table({"eventType": ["user.session.start"], "uuid": ["u1"],
                      "published": pa.array([1767225600000000], pa.timestamp("us", tz="UTC")),
                      "actor": [{"alternateId": "a@x.io"}]})
    pq.write_table(table, tmp_path / "okta.parquet")
    rule = Rule(id="r", title="r", format="sigma", logsource=OKTA,
                logic=Cmp("published", "startswith", ("2026-01-01",)))
    seen: list = []
    result = scan_batch([str(tmp_path / "okta.parquet")], [rule], on_match=seen.append)
    assert result.stats.matches == 1 and seen[0].event["published"] == "2026-01-01T00:00:00+00:00"

"""A Parquet dataset whose files have differing schemas (struct fields in other orders, keys only
some files hold, columns of nulls, types that disagree between files) is planned once per group
of files whose types agree, and gives the streaming engine's alerts and matches on the same
events, file by file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from batch.test_batch_engine import OKTA, events, rules
from batch.test_typed_plan import KEYWORDS, PYTHON, START
from tokentrail import api
from tokentrail.alerting.delivery import AlertGate
from tokentrail.engine.arrow_events import events_of
from tokentrail.engine.batch import BatchEngine
from tokentrail.engine.batch_schema import dataset_schemas, merged_type, padded
from tokentrail.rules.ir import Cmp
from tokentrail.rules.model import Grouping, Rule
from tokentrail.simulate import generate
from tokentrail.sinks.parquet_dataset import ParquetDatasetWriter, _table
from tokentrail.sources.files import LogReader


def as_dataset(folder, chunks):
    """Each chunk of events as a Parquet file of its own inferred schema, and the same events as
    the engine reads each file back, as JSON lines: both lists in file order."""
    return written(folder, [_table(chunk)[0] for chunk in chunks])


def written(folder, tables):
    """Each table as a Parquet file, and its events as the engine reads the file back, as JSON
    lines: both lists in file order."""
    parquets, jsonls = [], []
    for k, table in enumerate(tables):
        parquet = folder / f"part-{k:02d}.parquet"
        pq.write_table(table, parquet)
        jsonl = folder / f"part-{k:02d}.jsonl"
        jsonl.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events_of(pq.read_table(parquet))))
        parquets.append(str(parquet))
        jsonls.append(str(jsonl))
    return parquets, jsonls


def batch_scan(paths, rule_list, on_match=None):
    """The batch engine over ``paths`` as ``scan_batch`` runs it; the engine too (its plans)."""
    alerts: list = []
    engine = BatchEngine(rule_list, on_match=on_match)
    AlertGate(alerts.append)(engine.scan_paths(paths, LogReader()))
    alerts.sort(key=lambda a: (a.first_time or 0.0, a.rule_id, a.id))  # as ``scan_result`` keeps them
    return alerts, engine


def assert_same(parquets, jsonls, rule_list):
    """Alerts, counts and (with ``on_match``) matches of both engines; the batch engine's plans."""
    seen_stream: list = []
    stream = api.scan(jsonls, rule_list, workers=1, on_match=seen_stream.append)
    want = [(a.id, a.rule_id, a.event_ids, a.count, a.fields) for a in stream.alerts]
    plans = []
    for whole in (True, False):
        seen_batch: list = []
        alerts, engine = batch_scan(parquets, rule_list, seen_batch.append if whole else None)
        assert [(a.id, a.rule_id, a.event_ids, a.count, a.fields) for a in alerts] == want
        assert engine.stream.stats.matches == stream.stats.matches
        assert engine.stream.stats.events == stream.stats.events
        if whole:
            assert [(m.rule_id, m.event_id, m.line, dict(m.event)) for m in seen_batch] == \
                [(m.rule_id, m.event_id, m.line, dict(m.event)) for m in seen_stream]
        plans.append(engine._typed)
    return plans


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(rules(4), events(40), st.integers(3, 20), st.booleans())
@example([START], [{"eventType": "user.session.start", "uuid": f"e{i}", "published": f"2026-01-01T00:00:0{i}Z",
                    "actor": {"alternateId": "a@x.io"} if i < 2 else {"alternateId": 5},
                    "client": None if i < 2 else {"ipAddress": "10.0.0.1"}} for i in range(4)], 2, False)
def test_files_of_differing_schemas_give_the_streaming_engines_alerts(tmp_path_factory, rule_list, event_list,
                                                                        size, python):
    rule_list = [*rule_list, PYTHON, KEYWORDS] if python else rule_list
    chunks = [event_list[k:k + size] for k in range(0, len(event_list), size)]
    parquets, jsonls = as_dataset(tmp_path_factory.mktemp("dataset"), chunks)
    for plans in assert_same(parquets, jsonls, rule_list):
        assert 1 <= len(plans) <= len(chunks)


def _okta(i, **fields):
    return {"eventType": "user.session.start", "uuid": f"e{i}", "published": f"2026-01-01T00:00:{i:02d}Z", **fields}


ALTERNATE = Rule(id="alt", title="alt", format="sigma", logsource=OKTA,
                 logic=Cmp("debugContext.debugData.privilegeGranted", "eq", ("super",)),
                 grouping=Grouping(group_by=("actor.alternateId",), window=600, threshold=1))


def test_a_dataset_whose_files_agree_on_types_is_planned_once(tmp_path):
    chunks = [
        # debugData's fields in one order ...
        [_okta(i, actor={"alternateId": "a@x.io"}, debugContext={"debugData": {"requestId": "r", "dtHash": "h"}})
         for i in range(3)],
        # ... in another, a key no other file holds, and a column of nulls.
        [_okta(i, actor={"alternateId": "b@x.io"}, client=None,
               debugContext={"debugData": {"dtHash": "h", "privilegeGranted": "super", "requestId": "r"}})
         for i in range(3, 6)],
        # Without debugContext at all; client's field only here.
        [_okta(i, actor={"alternateId": "a@x.io"}, client={"ipAddress": "10.0.0.1"}) for i in range(6, 9)],
    ]
    parquets, jsonls = as_dataset(tmp_path, chunks)
    assert len({pq.read_schema(p).to_string() for p in parquets}) == 3
    for plans in assert_same(parquets, jsonls, [START, ALTERNATE, KEYWORDS]):
        assert len(plans) == 1
    # A file whose field is a number where the others hold text is planned apart.
    more = [*chunks, [_okta(i, actor={"alternateId": 7}) for i in range(9, 12)]]
    folder = tmp_path / "more"
    folder.mkdir()
    parquets, jsonls = as_dataset(folder, more)
    for plans in assert_same(parquets, jsonls, [START, ALTERNATE, KEYWORDS]):
        assert len(plans) == 2


def test_merged_and_padded_types():
    a = pa.struct([("x", pa.string()), ("y", pa.null())])
    b = pa.struct([("z", pa.list_(pa.int64())), ("y", pa.string())])
    both = merged_type(a, b)
    assert both == pa.struct([("x", pa.string()), ("y", pa.string()), ("z", pa.list_(pa.int64()))])
    assert merged_type(pa.struct([("x", pa.int64())]), pa.struct([("x", pa.string())])) is None
    assert merged_type(pa.list_(a), pa.list_(b)) == pa.list_(both)
    schemas = [pa.schema([("s", a)]), pa.schema([("s", pa.string())]), pa.schema([("s", b), ("t", pa.bool_())])]
    planned = dataset_schemas(schemas)
    assert planned[0] is planned[2] and planned[0].names == ["s", "t"] and planned[1] == schemas[1]
    # Padded: the file's own fields first, in their order; what it lacks is NULL.
    table = pa.table({"s": pa.array([{"y": None, "x": "v"}], pa.struct([("y", pa.null()), ("x", pa.string())]))})
    out = padded(table, planned[0])
    assert out.schema == pa.schema([("s", pa.struct([("y", pa.string()), ("x", pa.string()),
                                                       ("z", pa.list_(pa.int64()))])), ("t", pa.bool_())])
    assert out.to_pylist() == [{"s": {"y": None, "x": "v", "z": None}, "t": None}]
    assert padded(out, planned[0]) is out


def test_padding_a_list_of_structs_keeps_every_element_and_slice():
    own = pa.list_(pa.struct([("type", pa.string())]))
    target = pa.schema([("target", pa.list_(pa.struct([("id", pa.string()), ("type", pa.string())])))])
    rows = [[{"type": "a"}, {"type": "b"}], None, [], [{"type": "c"}]]
    table = pa.Table.from_batches([pa.record_batch([pa.array(rows, own)], names=["target"])]).slice(1)
    out = padded(table, target)
    assert out.schema.field("target").type == pa.list_(pa.struct([("type", pa.string()), ("id", pa.string())]))
    assert out.column("target").to_pylist() == [None, [], [{"type": "c", "id": None}]]
    assert padded(pa.table({"target": pa.array(rows, own)}), target).column("target").to_pylist()[0] == \
        [{"type": "a", "id": None}, {"type": "b", "id": None}]


def test_each_log_types_partition_is_planned_apart(tmp_path):
    writer = ParquetDatasetWriter(tmp_path / "lake", rows_per_file=200)
    for event in generate(["all"], events=1500, seed=5, sources=("okta", "salesforce")):
        writer.add(event, "okta" if "eventType" in event else "salesforce", None)
    report = writer.close()
    # The files in one order for both engines (their names are random), each read back.
    parquets = sorted(report.files)
    jsonls = []
    for k, parquet in enumerate(parquets):
        jsonls.append(str(tmp_path / f"{k:02d}.jsonl"))
        Path(jsonls[-1]).write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events_of(pq.read_table(parquet))))
    loaded = api.load_rules()
    stream = api.scan(jsonls, loaded, workers=1)
    alerts, engine = batch_scan(parquets, loaded.rules)
    assert [(a.id, a.event_ids) for a in alerts] == [(a.id, a.event_ids) for a in stream.alerts]
    assert engine.stream.stats.matches == stream.stats.matches > 0
    # Every file is planned as a schema of its own log type's files only, and they share plans.
    partitions: dict[int, set[str]] = {}
    for path, schema in engine.parquet.planned.items():
        partitions.setdefault(id(schema), set()).add(Path(path).parent.parent.name)
    assert len(engine.parquet.planned) == len(report.files) > len(partitions) >= 2
    assert all(len(names) == 1 for names in partitions.values())
    assert set.union(*partitions.values()) == {"tt_log_type=okta", "tt_log_type=salesforce"}

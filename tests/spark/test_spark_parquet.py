"""Parquet read in the Spark executors (``engine/spark_parquet.py``): a Parquet file and a
``logs to-parquet`` dataset give the DuckDB engine's alerts, matches (row numbers for lines),
counts and read errors, and the streaming engine's alerts on the logs they came from; a file
the executors cannot read — Parquet or JSON lines — is read by the driver instead."""

from __future__ import annotations

import datetime
import decimal
import shutil

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from tokentrail import api
from tokentrail.content import RULES_DIR
from tokentrail.engine.batch import scan_batch
from tokentrail.engine.spark import SparkEngine, scan_spark
from tokentrail.rules.ir import Cmp, Exists
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import LogSource, Rule
from tokentrail.simulate import write_logs
from tokentrail.sources.files import LogReader

GRANT = Rule(id="grant", title="grant", format="sigma", logsource=LogSource(product="okta"),
             logic=Cmp("eventType", "eq", ("app.oauth2.token.grant",)))
DOTTED = Rule(id="dotted", title="dotted", format="sigma", logsource=LogSource(product="okta"),
              logic=Exists("actor.alternateId"))


def _matches(seen: list) -> list[tuple]:
    return [(m.rule_id, m.event_id, m.source, m.line) for m in seen]


def assert_as_duckdb(paths, rules, spark, **spark_kwargs):
    """Scan ``paths`` with the DuckDB engine and with Spark and assert the same alerts,
    matches, counts and read errors."""
    seen_batch: list = []
    seen_spark: list = []
    batch = scan_batch(paths, rules, on_match=seen_batch.append)
    result = scan_spark(paths, rules, session=spark, on_match=seen_spark.append, **spark_kwargs)
    assert [(a.id, a.rule_id, a.event_ids, a.count) for a in result.alerts] == \
        [(a.id, a.rule_id, a.event_ids, a.count) for a in batch.alerts]
    assert _matches(seen_spark) == _matches(seen_batch)
    assert result.stats == batch.stats
    assert [str(e) for e in result.read_errors] == [str(e) for e in batch.read_errors]
    assert result.events_skipped == batch.events_skipped
    return batch, result, seen_spark


def _okta(i: int) -> dict:
    return {"eventType": "app.oauth2.token.grant" if i % 4 == 0 else "user.session.start", "uuid": f"u{i}",
            "published": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "actor": {"alternateId": f"a{i % 3}@x.io"}}


def test_a_simulated_day_as_a_parquet_file_and_as_a_dataset(spark, tmp_path):
    """The bundled pack over a simulated day: the Okta log as one Parquet file (row groups of
    50 rows, Spark's splits of 4 kB, so a file is read by several tasks) gives the streaming
    engine's alerts and matches on the JSON lines, row number for line number; the whole day as
    a ``logs to-parquet`` dataset gives the DuckDB engine's results on it and the streaming
    engine's alerts on the logs."""
    from sinks.test_parquet_dataset import same_alerts

    logs = write_logs(tmp_path / "logs", ["all"], 800, 11)
    loaded = api.load_rules([RULES_DIR], context=LoadContext(allow_python=True))
    events = [orjson.loads(line) for line in logs["okta"].read_bytes().splitlines()]
    okta = tmp_path / "okta.parquet"
    pq.write_table(pa.Table.from_pylist(events), okta, row_group_size=50)
    seen_stream: list = []
    stream = api.scan([str(logs["okta"])], loaded, workers=1, on_match=seen_stream.append)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    try:
        _, result, seen_spark = assert_as_duckdb([str(okta)], loaded, spark)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert [(a.id, a.event_ids) for a in result.alerts] == [(a.id, a.event_ids) for a in stream.alerts]
    assert [(m.rule_id, m.event_id, m.line) for m in seen_spark] == \
        [(m.rule_id, m.event_id, m.line) for m in seen_stream]
    assert len(stream.alerts) >= 3 and len(seen_stream) > 20

    api.logs_to_parquet([str(tmp_path / "logs")], tmp_path / "lake")
    stream = api.scan([str(p) for p in logs.values()], loaded, workers=1)
    _, result, _ = assert_as_duckdb([str(tmp_path / "lake")], loaded, spark)
    assert same_alerts(result.alerts) == same_alerts(stream.alerts)
    assert result.stats.events == stream.stats.events and len(result.alerts) >= 3


def test_odd_rows_unknown_rows_and_unreadable_files_count_as_in_duckdb(spark, tmp_path):
    """Rows of no known log type, all-NULL rows, types JSON lacks (timestamps, decimals, bytes,
    floats with NaN), lists of structs with NULLs and our partition columns in a plain file; a
    literal dotted column and a data column named ``_metadata``; a file that is no Parquet, an
    empty one, and a file named twice: the DuckDB engine's counts, matches and errors."""
    n = 12
    table = pa.table({
        "eventType": ["app.oauth2.token.grant" if i % 3 == 0 else None if i == 4 else "user.session.start"
                      for i in range(n)],
        "uuid": [f"v{i}" if i != 4 else None for i in range(n)],
        "published": [f"2026-01-01T01:00:{i:02d}Z" if i != 4 else None for i in range(n)],
        "actor": [{"alternateId": f"a{i}", "type": None} if i != 4 else None for i in range(n)],
        "target": [[{"id": "t", "kind": None}, None] if i % 5 == 0 else None for i in range(n)],
        "seen": pa.array([datetime.datetime(2026, 1, 1, 2, i, tzinfo=datetime.UTC) for i in range(n)],
                         pa.timestamp("us", tz="UTC")),
        "amount": pa.array([decimal.Decimal(f"{i}.50") for i in range(n)], pa.decimal128(6, 2)),
        "blob": [bytes([i]) for i in range(n)],
        "score": [float("nan") if i == 2 else i / 4 for i in range(n)],
        "tt_log_type": ["okta"] * n,
    })
    odd = tmp_path / "odd.parquet"
    pq.write_table(table, odd)
    unknown = tmp_path / "unknown.parquet"
    pq.write_table(pa.table({"what": ["no log type", None, "again"]}), unknown)
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"uuid": pa.array([], pa.string())}), empty)
    # Columns Spark's read would mistake (its own _metadata, a dotted name): the driver reads them.
    named = tmp_path / "named.parquet"
    pq.write_table(pa.table({"eventType": ["app.oauth2.token.grant"] * 2, "uuid": ["w1", "w2"], "_metadata": ["m", "n"],
                             "actor.alternateId": ["d@x.io", None]}), named)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is no Parquet file")
    paths = [str(odd), str(unknown), str(empty), str(named), str(broken), str(odd)]
    batch, result, _ = assert_as_duckdb(paths, [GRANT, DOTTED], spark)
    assert result.stats.unknown_events == 2 + 3  # odd.parquet's row 4, read twice; unknown.parquet's rows
    assert result.stats.duplicates == 11  # the second read of odd.parquet: its events with an id
    assert result.stats.matches > 8 and result.stats.events == batch.stats.events
    assert len(result.read_errors) == 1 and "broken.parquet" in str(result.read_errors[0])


class _Watched(SparkEngine):
    """The Spark engine, noting the files its driver read itself."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.driver_reads: list[str] = []

    def _driver_read(self, item, reader):
        self.driver_reads.append(str(item))
        return super()._driver_read(item, reader)


def _watched_scan(paths, rules, spark, executor_path):
    seen: list = []
    engine = _Watched(rules, spark, on_match=seen.append, executor_path=executor_path)
    reader = LogReader()
    alerts = engine.scan_paths(paths, reader)
    return engine, alerts, seen, reader


def test_files_the_executors_cannot_open_are_read_by_the_driver(spark, tmp_path):
    """Inputs not at the driver's paths on the executors (``executor_path`` sends them
    elsewhere): a JSON-lines file the executors find missing, a Parquet file Spark cannot list,
    and a Parquet file whose copy there is stale (fewer rows than the footer the driver read)
    are read by the driver, and the results are the streaming engine's; the files the
    executors do find are read there."""
    lines = tmp_path / "okta.jsonl"
    lines.write_bytes(b"\n".join(orjson.dumps(_okta(i)) for i in range(40)) + b"\n")
    gone = tmp_path / "gone.parquet"
    pq.write_table(pa.Table.from_pylist([_okta(i) for i in range(40, 80)]), gone)
    stale = tmp_path / "stale.parquet"
    pq.write_table(pa.Table.from_pylist([_okta(i) for i in range(80, 120)]), stale)
    kept = tmp_path / "kept.parquet"
    pq.write_table(pa.Table.from_pylist([_okta(i) for i in range(120, 160)]), kept)
    elsewhere = tmp_path / "executors"
    elsewhere.mkdir()
    shutil.copy(kept, elsewhere / kept.name)
    pq.write_table(pa.Table.from_pylist([_okta(i) for i in range(80, 90)]), elsewhere / stale.name)

    def executor_path(path: str) -> str:
        return str(elsewhere / path.rsplit("/", 1)[1])

    paths = [str(lines), str(gone), str(stale), str(kept)]
    engine, alerts, seen, reader = _watched_scan(paths, [GRANT], spark, executor_path)
    assert engine.driver_reads == [str(lines), str(gone), str(stale)]
    batch_seen: list = []
    batch = scan_batch(paths, [GRANT], on_match=batch_seen.append)
    assert [(a.id, a.event_ids) for a in alerts] == [(a.id, a.event_ids) for a in batch.alerts]
    assert _matches(seen) == _matches(batch_seen) and len(seen) == 40
    assert reader.stats.files == 4 and engine.stream.stats.events == 160


def test_a_json_lines_file_the_executors_miss_gives_the_streaming_results(spark, tmp_path):
    """The JSON-lines fallback through ``scan_spark``: alerts, matches, counts and the bad
    line's file:line as the streaming engine gives them."""
    from spark.test_spark_engine import assert_same

    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(_okta(i)) for i in range(30)) + b"\n{broken\n")
    stream, _ = assert_same([str(path)], [GRANT], spark, executor_path=lambda p: p + ".missing")
    assert stream.stats.matches == 8 and [str(e).split(": ")[0] for e in stream.read_errors] == [f"{path}:31"]


def test_a_file_whose_names_differ_only_in_case_is_read_by_the_driver(spark, tmp_path):
    """Spark, like DuckDB, reads names regardless of case: a file holding ``actor`` and ``Actor``
    (and ``type`` beside ``Type`` in a struct) is read by the driver, with its names as written,
    and gives the streaming engine's alerts and matches on the same events."""
    from tokentrail.engine.arrow_events import events_of

    rows = [{**_okta(i), "Actor": {"alternateId": "x@x.io"} if i % 2 else None,
             "target": [{"type": "AppInstance" if i % 3 else None, "Type": None if i % 3 else "AppInstance"}]}
            for i in range(24)]
    clash = tmp_path / "clash.parquet"
    pq.write_table(pa.Table.from_pylist(rows), clash)
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.Table.from_pylist([_okta(i) for i in range(24, 48)]), plain)
    jsonl = tmp_path / "same.jsonl"
    jsonl.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events_of(pq.read_table(clash))))
    cased = Rule(id="cased", title="cased", format="sigma", logsource=LogSource(product="okta"),
                 logic=Cmp("target.type", "eq", ("AppInstance",), cased=True))
    upper = Rule(id="upper", title="upper", format="sigma", logsource=LogSource(product="okta"),
                 logic=Exists("Actor.alternateId"))
    rules = [GRANT, DOTTED, cased, upper]
    engine, alerts, seen, _ = _watched_scan([str(clash), str(plain)], rules, spark, lambda p: p)
    assert engine.driver_reads == [str(clash)]
    seen_stream: list = []
    stream = api.scan([str(jsonl)], rules, workers=1, on_match=seen_stream.append)
    assert [(m.rule_id, m.event_id, m.line, dict(m.event)) for m in seen if m.source == str(clash)] == \
        [(m.rule_id, m.event_id, m.line, dict(m.event)) for m in seen_stream]
    ours = {r["uuid"] for r in rows}
    # Sorted (the scans order alerts apart); ids differ: a single match's names its file.
    assert sorted((a.rule_id, a.event_ids) for a in alerts if set(a.event_ids) <= ours) == \
        sorted((a.rule_id, a.event_ids) for a in stream.alerts)
    assert sum(1 for m in seen_stream if m.rule_id == "cased") == 16  # ``type`` only, never ``Type``

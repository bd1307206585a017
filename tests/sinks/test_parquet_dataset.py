"""`tokentrail logs to-parquet`: a dataset partitioned by log type and day that scans to the
alerts of the logs it came from, keeps every event and every key, and says what it stored as text."""

from __future__ import annotations

import duckdb
import orjson
from typer.testing import CliRunner

from tokentrail import api
from tokentrail.cli import app
from tokentrail.content import RULES_DIR
from tokentrail.engine.batch import BatchEngine, scan_batch
from tokentrail.engine.batch_memory import parse_size
from tokentrail.rules.loader import LoadContext
from tokentrail.simulate import write_logs
from tokentrail.sinks.parquet_dataset import ParquetDatasetWriter


def okta(uuid: str, when: str, **extra) -> dict:
    event = {"uuid": uuid, "published": when, "eventType": "user.session.start",
             "actor": {"id": "u1", "type": "User"}, "outcome": {"result": "SUCCESS"}}
    event.update(extra)
    return event


def lines(*events) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def same_alerts(alerts) -> tuple[list, list]:
    """Alerts as comparable across the logs and the lake: by id and event ids where the events
    carry vendor ids; by rule and count where a log type has none (Azure resource logs), since
    their events are named by file and line, which differ between the logs and the lake."""
    named = [(a.id, a.event_ids) for a in alerts if not any("/" in e for e in a.event_ids)]
    by_place = sorted((a.rule_id, a.count) for a in alerts if any("/" in e for e in a.event_ids))
    return named, by_place


def rows(dataset, where: str = "true") -> list[tuple]:
    query = (f"SELECT tt_log_type, tt_day, count(*) FROM read_parquet('{dataset}/**/*.parquet', "
             f"hive_partitioning = true, hive_types_autocast = false, union_by_name = true) WHERE {where} GROUP BY ALL ORDER BY ALL")
    return duckdb.sql(query).fetchall()


def test_a_simulated_day_scans_from_its_dataset_to_the_same_alerts(tmp_path):
    logs = write_logs(tmp_path / "logs", ["all"], 6000, 3, salesforce_csv=True)
    report = api.logs_to_parquet([str(tmp_path / "logs")], tmp_path / "lake")
    loaded = api.load_rules([RULES_DIR], context=LoadContext(allow_python=True))
    stream = api.scan([str(p) for p in logs.values()], loaded, workers=1)
    batch = scan_batch([str(tmp_path / "lake")], loaded)
    assert same_alerts(batch.alerts) == same_alerts(stream.alerts)
    assert len(stream.alerts) >= 10
    # Every event read is in the dataset (the Salesforce CSV repeats the JSON lines' events: both
    # are kept, and the scan takes each event once), in its log type's partition.
    assert report.events == stream.stats.events + stream.stats.duplicates
    assert stream.stats.duplicates > 0 and batch.stats.events == stream.stats.events
    by_type = {}
    for log_type, _day, count in rows(tmp_path / "lake"):
        by_type[log_type] = by_type.get(log_type, 0) + count
    assert set(by_type) == {"okta", "auth0", "salesforce", "azure.activitylogs", "azure.platformlogs"}
    assert sum(by_type.values()) == report.events


def test_partitions_by_day_and_keeps_events_of_no_known_log_type(tmp_path):
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(lines(okta("a", "2026-11-30T23:59:59Z"), okta("b", "2026-12-01T00:00:01Z"),
                          {"what": "no log type"}, okta("c", "not a time")))
    report = api.logs_to_parquet([str(src)], tmp_path / "lake")
    assert rows(tmp_path / "lake") == [("okta", "2026-11-30", 1), ("okta", "2026-12-01", 1),
                                       ("okta", "unknown", 1), ("unknown", "unknown", 1)]
    assert report.partitions == {("okta", "2026-11-30"): 1, ("okta", "2026-12-01"): 1,
                                 ("okta", "unknown"): 1, ("unknown", "unknown"): 1}
    kept = duckdb.sql(f"SELECT what FROM read_parquet('{tmp_path}/lake/tt_log_type=unknown/**/*.parquet')").fetchall()
    assert kept == [("no log type",)]


def test_late_keys_are_kept_and_disagreeing_fields_are_text_by_field(tmp_path):
    first = okta("a", "2026-11-30T10:00:00Z", debugContext={"debugData": {"code": 7, "uri": "/x"}})
    last = okta("b", "2026-11-30T11:00:00Z", debugContext={"debugData": {"code": "seven", "uri": "/y"}},
                lateKey={"deep": [1, 2]}, emptyThing={})
    src = tmp_path / "okta.jsonl"
    src.write_bytes(lines(first, last))
    report = api.logs_to_parquet([str(src)], tmp_path / "lake")
    stored = {(t.column, t.reason.split(",")[0]) for t in report.text_columns}
    # Only the disagreeing leaf is text; its sibling keeps its type; the empty object is named.
    assert stored == {("debugContext.debugData.code", "the events disagree on its type"),
                      ("emptyThing", "it holds only empty objects")}
    got = duckdb.sql(f"SELECT uuid, debugContext.debugData.code, debugContext.debugData.uri, lateKey.deep "
                     f"FROM read_parquet('{tmp_path}/lake/**/*.parquet') ORDER BY uuid").fetchall()
    assert got == [("a", "7", "/x", None), ("b", '"seven"', "/y", [1, 2])]


def test_malformed_lines_are_counted_with_their_place_and_the_rest_is_written(tmp_path):
    src = tmp_path / "okta.jsonl"
    src.write_bytes(lines(okta("a", "2026-11-30T10:00:00Z")) + b"{broken\n" + lines(okta("b", "2026-11-30T10:00:01Z")))
    result = CliRunner().invoke(app, ["logs", "to-parquet", str(src), str(tmp_path / "lake"), "--format", "json"])
    assert result.exit_code == 1
    summary = orjson.loads(result.stdout)
    assert summary["events"] == 2 and summary["malformed"] == 1
    assert summary["errors"][0].startswith(f"{src}:2")
    assert f"{src}:2" in result.stderr


def test_an_existing_dataset_is_only_appended_to_when_asked(tmp_path):
    src = tmp_path / "okta.jsonl"
    src.write_bytes(lines(okta("a", "2026-11-30T10:00:00Z", eventType="system.api_token.revoke")))
    runner = CliRunner()
    assert runner.invoke(app, ["logs", "to-parquet", str(src), str(tmp_path / "lake")]).exit_code == 0
    again = runner.invoke(app, ["logs", "to-parquet", str(src), str(tmp_path / "lake")])
    assert again.exit_code == 1 and "not empty" in again.stderr
    assert runner.invoke(app, ["logs", "to-parquet", "--append", str(src), str(tmp_path / "lake")]).exit_code == 0
    assert rows(tmp_path / "lake") == [("okta", "2026-11-30", 2)]
    # The scan takes the matching event once; the partition columns are not part of the events.
    events: list = []
    result = scan_batch([str(tmp_path / "lake")], api.load_rules(),
                        on_match=lambda m: events.append(m))
    assert result.stats.matched_events == 1 and result.stats.duplicates == 1
    assert len(events) == 1 and not any(key.startswith("tt_") for key in events[0].event)


def test_memory_is_bounded_by_writing_the_largest_partition_early(tmp_path, monkeypatch):
    monkeypatch.setattr("tokentrail.sinks.parquet_dataset.BUFFERED_ROWS", 10)
    writer = ParquetDatasetWriter(tmp_path / "lake", rows_per_file=1000)
    for i in range(25):
        writer.add(okta(str(i), "x"), "okta", 86400.0 * (i % 2))
    # Written while adding: at most 10 events are ever held.
    assert writer.report.files and writer.report.events >= 25 - 10
    report = writer.close()
    assert report.events == 25 and rows(tmp_path / "lake") == [("okta", "1970-01-01", 13), ("okta", "1970-01-02", 12)]


def test_memory_limit_reaches_duckdb_and_a_bad_one_is_one_line(tmp_path):
    engine = BatchEngine([], memory_limit="123MB")
    limit = engine.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    # DuckDB gets its share of the limit (engine/batch_memory.py), printed in its own units.
    assert abs(parse_size(limit.replace(" ", "")) / engine.budget.duckdb - 1) < 0.05
    assert engine.budget.limit == 123 * 10**6 and 0 < engine.budget.duckdb < engine.budget.limit
    src = tmp_path / "okta.jsonl"
    src.write_bytes(lines(okta("a", "2026-11-30T10:00:00Z")))
    bad = CliRunner().invoke(app, ["scan", str(src), "--engine", "duckdb", "--memory-limit", "lots"])
    assert bad.exit_code == 2 and "--memory-limit 'lots'" in bad.stderr


def test_the_output_must_be_a_directory(tmp_path):
    out = tmp_path / "out"
    out.write_text("x")
    result = CliRunner().invoke(app, ["logs", "to-parquet", str(tmp_path), str(out)])
    assert result.exit_code == 1 and "not a directory" in result.stderr


def test_files_sort_by_name_in_the_order_they_were_written(tmp_path):
    """A scan walks a folder in name order: that must be the events' order (windows depend on it)."""
    writer = ParquetDatasetWriter(tmp_path / "lake", rows_per_file=3)
    for i in range(40):
        writer.add(okta(f"{i:02d}", "x"), "okta", 0.0)
    first = writer.close()
    again = ParquetDatasetWriter(tmp_path / "lake", append=True, rows_per_file=3)  # sorts after the others
    for i in range(40, 46):
        again.add(okta(f"{i:02d}", "x"), "okta", 0.0)
    files = first.files + again.close().files
    assert len(files) == 16 and sorted(files) == files
    read = [u for f in sorted(files) for u in duckdb.sql(f"SELECT uuid FROM '{f}'").fetchall()]
    assert [u for (u,) in read] == [okta(f"{i:02d}", "x")["uuid"] for i in range(46)]

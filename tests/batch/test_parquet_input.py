"""Parquet input (files and partitioned directories) gives the alerts the same events give as
JSON lines; a NULL cell is a missing field."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from tokentrail import api
from tokentrail.cli import app
from tokentrail.engine.batch import scan_batch
from tokentrail.engine.batch_input import wants_batch
from tokentrail.simulate import generate


def test_parquet_dataset_gives_the_alerts_of_its_json_lines(tmp_path):
    events = list(generate(["all"], events=3000, seed=5, sources=("salesforce",)))
    jsonl = tmp_path / "salesforce.jsonl"
    jsonl.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    # Split in two partitions, as a data lake lays a day out; every row gets every column.
    dataset = tmp_path / "lake"
    half = len(events) // 2
    columns = sorted({key for e in events for key in e})
    for part, chunk in (("day=1", events[:half]), ("day=2", events[half:])):
        (dataset / part).mkdir(parents=True)
        rows = [{key: e.get(key) for key in columns} for e in chunk]
        pq.write_table(pa.Table.from_pylist(rows), dataset / part / "part-0.parquet")
    loaded = api.load_rules()
    stream = api.scan([str(jsonl)], loaded, workers=1)
    batch = scan_batch([str(dataset)], loaded)
    assert [(a.id, a.event_ids) for a in batch.alerts] == [(a.id, a.event_ids) for a in stream.alerts]
    assert batch.stats.events == len(events) and batch.stats.matches == stream.stats.matches > 0
    assert batch.skipped_files == [] and batch.read_errors == []
    assert wants_batch([dataset]) and not wants_batch([jsonl])


def test_cli_picks_duckdb_for_parquet_and_reports_a_broken_file(tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    result = CliRunner().invoke(app, ["scan", str(broken), "--format", "jsonl"], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "broken.parquet" in result.stderr and "cannot read Parquet" in result.stderr
    assert "0 events read" in result.stderr

"""Hostile input for the DuckDB engine, as a user meets it on the command line: a Parquet file
damaged past its footer among good ones, and option values that are not what they should be.
Each is one line naming the file or option, the rest of the work goes on, never a traceback."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tokentrail import api
from tokentrail.cli import app
from tokentrail.engine.batch import BatchEngine, scan_batch
from tokentrail.simulate import generate, write_logs
from tokentrail.sources.files import LogReader


def scan(*args: str) -> tuple[int, dict | None, str]:
    """``tokentrail scan ARGS --format json``: exit code, parsed output (None if none), stderr."""
    result = CliRunner().invoke(app, ["scan", *args, "--format", "json"], env={"COLUMNS": "200"})
    return result.exit_code, orjson.loads(result.stdout) if result.stdout.strip() else None, result.stderr


def damaged_copy(good: Path, out: Path) -> Path:
    """``good`` with the header of every data page overwritten: its footer reads, its pages do not
    (as a disk or a copy that went wrong in the middle of a file leaves it)."""
    data = bytearray(good.read_bytes())
    meta = pq.ParquetFile(good).metadata
    for group in range(meta.num_row_groups):
        for column in range(meta.num_columns):
            at = meta.row_group(group).column(column).data_page_offset
            data[at:at + 8] = b"\xff" * 8
    out.write_bytes(bytes(data))
    return out


@pytest.fixture(scope="module")
def okta_files(tmp_path_factory) -> tuple[Path, Path]:
    """Two Parquet files of simulated Okta events (a day's first and second half)."""
    events = list(generate(["all"], events=1500, seed=11, sources=("okta",)))
    columns = sorted({key for e in events for key in e})
    rows = [{key: e.get(key) for key in columns} for e in events]
    root = tmp_path_factory.mktemp("okta")
    half = len(rows) // 2
    first, second = root / "a.parquet", root / "b.parquet"
    pq.write_table(pa.Table.from_pylist(rows[:half]), first)
    pq.write_table(pa.Table.from_pylist(rows[half:]), second)
    return first, second


def test_a_damaged_parquet_file_is_one_error_and_the_good_ones_scan(okta_files, tmp_path):
    first, second = okta_files
    lake = tmp_path / "lake"
    lake.mkdir()
    for path in okta_files:
        (lake / path.name).write_bytes(path.read_bytes())
    damaged_copy(first, lake / "a_damaged.parquet")  # between the good ones (names sort a, a_damaged, b)
    code, out, err = scan(str(lake))
    _, alone, _ = scan(str(lake / first.name), str(lake / second.name))
    assert code == 1 and "Traceback" not in err
    assert f"{lake / 'a_damaged.parquet'}: unreadable after 0 rows:" in err
    assert out["summary"]["events_read"] == alone["summary"]["events_read"] == pq.read_metadata(first).num_rows \
        + pq.read_metadata(second).num_rows
    assert out["summary"]["events_skipped"] == 1
    assert [a["id"] for a in out["alerts"]] == [a["id"] for a in alone["alerts"]] != []


def test_a_damaged_file_whose_names_differ_in_case_is_one_error(tmp_path):
    # Such a file is read by pyarrow as events (``ParquetScan.as_json``, the Spark driver's read too).
    good = tmp_path / "clash.parquet"
    pq.write_table(pa.table({"eventType": ["user.session.start"] * 3, "Type": ["a"] * 3, "type": ["b"] * 3}), good)
    damaged = damaged_copy(good, tmp_path / "clash_damaged.parquet")
    result = scan_batch([str(damaged)], api.load_rules())
    assert [str(e).split(": ")[:2] for e in result.read_errors] == [[str(damaged), "unreadable after 0 rows"]]
    assert result.events_skipped == 1 and result.stats.events == 0


def test_strict_stops_at_a_damaged_parquet_file(okta_files, tmp_path):
    damaged = damaged_copy(okta_files[0], tmp_path / "damaged.parquet")
    code, _, err = scan(str(damaged), "--strict")
    assert code == 1 and "Traceback" not in err
    assert "damaged.parquet: unreadable after 0 rows" in err


@pytest.mark.parametrize("size", ["0GB", "0", "lots", "2 parsecs"])
def test_memory_limit_that_is_no_size_is_one_line(okta_files, size):
    code, out, err = scan(str(okta_files[0]), "--memory-limit", size)
    assert code == 2 and out is None and "Traceback" not in err
    assert err.strip().splitlines() == [f"error: --memory-limit {size!r}: give a size such as 2GB or 500MB"]



def test_the_engine_that_matched_is_said(okta_files, tmp_path):
    jsonl = tmp_path / "okta.jsonl"
    jsonl.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in pq.read_table(okta_files[0]).to_pylist()))
    picked = CliRunner().invoke(app, ["scan", str(okta_files[0])], env={"COLUMNS": "200"})
    assert picked.stderr.splitlines()[-1] == "engine: duckdb (picked for Parquet input)"
    said = {engine: scan(str(jsonl), "--engine", engine) for engine in ("stream", "duckdb")}
    assert {engine: out["summary"]["engine"] for engine, (_, out, _) in said.items()} == \
        {"stream": "stream", "duckdb": "duckdb"}
    assert "engine:" not in said["stream"][2] and said["duckdb"][2].splitlines()[-1] == "engine: duckdb"


def test_a_spark_setting_without_equals_is_an_option_error(okta_files):
    code, out, err = scan(str(okta_files[0]), "--engine", "spark", "--spark-conf", "spark.executor.memory")
    assert (code, out) == (2, None)
    assert err.strip().splitlines() == ["error: --spark-conf wants KEY=VALUE, not 'spark.executor.memory'"]


def test_a_damaged_file_read_as_json_text_is_one_error(okta_files, tmp_path):
    # Spark's driver reads a file its executors could not read this way.
    damaged = damaged_copy(okta_files[0], tmp_path / "damaged.parquet")
    reader = LogReader()
    assert list(BatchEngine(api.load_rules().rules).parquet.as_json(reader, damaged, 100)) == []
    assert [str(e).split(": ")[:2] for e in reader.stats.errors] == [[str(damaged), "unreadable after 0 rows"]]
    assert reader.stats.skipped == 1


def test_logs_to_parquet_refuses_a_parquet_file_and_lists_what_it_skips(okta_files, tmp_path):
    runner = CliRunner()
    refused = runner.invoke(app, ["logs", "to-parquet", str(okta_files[0]), str(tmp_path / "lake")],
                            env={"COLUMNS": "200"})
    assert refused.exit_code == 2 and not (tmp_path / "lake").exists()
    assert refused.stderr.splitlines() == [f"error: {okta_files[0]}: already Parquet; logs to-parquet reads JSON "
                                           "and CSV logs (tokentrail scan reads Parquet as it is)"]
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "notes.txt").write_text("not a log\n")
    done = runner.invoke(app, ["logs", "to-parquet", str(logs), str(tmp_path / "lake")], env={"COLUMNS": "200"})
    assert done.exit_code == 0
    assert f"skipped: {logs / 'notes.txt'}: not a log file" in done.stderr.splitlines()


def test_a_json_array_and_a_ragged_csv_give_the_streaming_results(tmp_path):
    paths = write_logs(tmp_path / "day", ["all"], 1200, 5, salesforce_csv=True)
    okta = [orjson.loads(line) for line in paths["okta"].read_bytes().splitlines()]
    array = tmp_path / "okta.json"
    # A bad element and a non-object among them: each one error, the rest read.
    array.write_bytes(b"[" + b", ".join([*map(orjson.dumps, okta[:200]), b"{oops}", b"7",
                                         *map(orjson.dumps, okta[200:])]) + b"]")
    rows = paths["salesforce_csv"].read_text(encoding="utf-8").splitlines()
    ragged = tmp_path / "salesforce.csv"
    ragged.write_text("\n".join([*rows[:5], rows[5] + ',"extra"', *rows[6:]]) + "\n", encoding="utf-8")
    inputs, rules = [str(array), str(ragged)], api.load_rules()
    seen_stream: list = []
    seen_batch: list = []
    stream = api.scan(inputs, rules, workers=1, on_match=seen_stream.append)
    batch = scan_batch(inputs, rules, on_match=seen_batch.append)
    assert [(a.id, a.event_ids) for a in batch.alerts] == [(a.id, a.event_ids) for a in stream.alerts] != []
    assert batch.stats == stream.stats and batch.stats.events == len(okta) + len(rows) - 2
    assert [str(e) for e in batch.read_errors] == [str(e) for e in stream.read_errors]
    assert batch.events_skipped == 3 and {e.file for e in batch.read_errors} == set(inputs)
    # The same matches; the rules of one event come in another order off the JSON-text query.
    assert sorted((m.rule_id, m.source, m.line) for m in seen_batch) == \
        sorted((m.rule_id, m.source, m.line) for m in seen_stream)

"""Hostile Parquet input for the Spark engine: a file damaged past its footer among good ones is
one read error, as in the DuckDB engine, and the good files give its alerts."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from batch.test_review_hostile import damaged_copy, okta_files  # noqa: F401 (a fixture)
from spark.test_spark_parquet import assert_as_duckdb
from tokentrail import api


def test_a_damaged_parquet_file_among_good_ones(spark, okta_files, tmp_path):  # noqa: F811
    damaged = damaged_copy(okta_files[0], tmp_path / "damaged.parquet")
    paths = [str(okta_files[0]), str(damaged), str(okta_files[1])]
    batch, result, _ = assert_as_duckdb(paths, api.load_rules(), spark)
    assert [str(e).split(": ")[:2] for e in result.read_errors] == [[str(damaged), "unreadable after 0 rows"]]
    assert result.stats.events == sum(pq.read_metadata(p).num_rows for p in okta_files)
    assert result.alerts != []


def test_a_master_spark_cannot_start_on_is_one_error_line(tmp_path):
    # A process of its own: in this one, the tests' session would be handed back whatever the master.
    if shutil.which("java") is None:
        pytest.skip("the Spark tests need Java (java not on PATH)")
    pytest.importorskip("pyspark", reason="the Spark tests need PySpark: pip install 'tokentrail[spark]'")
    logs = tmp_path / "okta.jsonl"
    logs.write_text('{"eventType": "user.session.start", "uuid": "u1"}\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "tokentrail.cli", "scan", str(logs), "--engine", "spark",
                           "--spark-master", "nowhere"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].startswith("error: Spark did not start on master nowhere: ")

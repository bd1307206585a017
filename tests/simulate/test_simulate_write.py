"""write_logs: one JSON Lines file per source plus a Salesforce EventLogFile-style CSV."""

from __future__ import annotations

import csv

import orjson

from tokentrail.simulate import write_logs
from tokentrail.simulate.salesforce import COLUMNS


def test_write_logs_writes_each_source(tmp_path):
    paths = write_logs(tmp_path / "out", ["all"], 3000, 21, salesforce_csv=True)
    assert {"okta", "auth0", "salesforce", "azure", "salesforce_csv"} <= paths.keys()
    counts = {}
    for source in ("okta", "auth0", "salesforce", "azure"):
        assert paths[source].name == f"{source}.jsonl"
        lines = paths[source].read_bytes().splitlines()
        events = [orjson.loads(line) for line in lines]
        assert events, source
        counts[source] = len(events)
    assert all(e.get("uuid") for e in map(orjson.loads, paths["okta"].read_bytes().splitlines()))
    assert sum(counts.values()) >= 3000
    with paths["salesforce_csv"].open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        rows = list(reader)
    assert len(rows) == counts["salesforce"]
    assert {r["EVENT_TYPE"] for r in rows} >= {"Login", "RestApi"}


def test_write_logs_is_deterministic(tmp_path):
    a = write_logs(tmp_path / "a", ["benign"], 1500, 5, salesforce_csv=True)
    b = write_logs(tmp_path / "b", ["benign"], 1500, 5, salesforce_csv=True)
    for key in ("okta", "auth0", "salesforce", "salesforce_csv"):
        assert a[key].read_bytes() == b[key].read_bytes()


def test_write_logs_for_one_source(tmp_path):
    paths = write_logs(tmp_path, ["benign"], 800, 1, sources=("okta",))
    assert set(paths) == {"okta"}
    assert not (tmp_path / "auth0.jsonl").exists()

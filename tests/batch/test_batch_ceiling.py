"""``bench/batch_ceiling.py``'s parts, run in this process over a small simulated Okta Parquet
file with the bundled pack: the replayed alerting gives the whole scan's alerts (and another
with one recorded call left out), every part counts the file's events, and the table's
numbers are what the parts' CPU seconds imply."""

from __future__ import annotations

import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import batch_ceiling as C  # noqa: E402
from batch_throughput import parquet_of  # noqa: E402
from scan_throughput import write_events  # noqa: E402

EVENTS = 3_000
SPEC = "bundled"


def in_process(name: str, path: Path, spec: str, run: Path, work: Path, memory_limit: str) -> list[dict[str, Any]]:
    """One stage in this process (the tool runs each in a child process)."""
    return C.STAGE_RUNS[name](path, spec, run, work, memory_limit)


@pytest.fixture(scope="module")
def ceiling(tmp_path_factory) -> dict[str, Any]:
    """One round of every stage over a Parquet file of ``EVENTS`` simulated Okta events, its
    saved batches and calls kept."""
    work = tmp_path_factory.mktemp("ceiling")
    path = parquet_of(write_events(work / "okta.jsonl", EVENTS, 7), EVENTS, work)
    run = work / "run"
    entries = C.one_round(path, SPEC, run, work, "2GB", EVENTS, stage=in_process, keep=True)
    return {"path": path, "work": work, "run": run, "entries": entries,
            "whole": C.read_json(run / "alerts_whole.json")}


def test_the_replayed_alerting_gives_the_whole_scans_alerts(ceiling):
    whole = ceiling["whole"]
    assert whole, "the bundled pack alerts on the simulated events"
    assert C.read_json(ceiling["run"] / "alerts_replay.json") == whole
    assert ceiling["entries"]["alerting"]["matches"] == ceiling["entries"]["whole"]["matches"]


def test_a_recorded_call_left_out_gives_other_alerts(ceiling, tmp_path):
    """The comparison can fail: without the calls that carry the first alert's first event,
    the replay's alerts differ from the whole scan's."""
    whole, run = ceiling["whole"], ceiling["run"]
    event = whole[0][1][0]
    batches = list(C.pickled_batches(run / "calls.pkl"))

    def carries(call: tuple) -> bool:
        return call[2].event_id == event if call[0] == "route" else event in call[4]

    kept = [[call for call in calls if not carries(call)] for calls in batches]
    assert sum(map(len, kept)) < sum(map(len, batches))
    with open(tmp_path / "calls.pkl", "wb") as out:
        for calls in kept:
            pickle.dump(calls, out)
    shutil.copy(run / "ranges.json", tmp_path / "ranges.json")
    entry, = C.stage_alerting(ceiling["path"], SPEC, tmp_path, ceiling["work"], "2GB")
    replayed = C.read_json(tmp_path / "alerts_replay.json")
    assert replayed != whole
    assert all(event not in ids for _id, ids in replayed)
    assert entry["matches"] < ceiling["entries"]["whole"]["matches"]
    with pytest.raises(SystemExit, match="other alerts"):
        C.check(ceiling["entries"], EVENTS, replayed, whole)


def test_every_part_counts_the_files_events(ceiling):
    entries = ceiling["entries"]
    for stage in ("read→DuckDB", "read→Arrow", "statements", "routing", "whole"):
        assert entries[stage]["events"] == EVENTS, stage
    assert entries["routing"]["matches"] == entries["whole"]["matches"] > 0
    # The whole scan's statements read the ranges the parts read (no state grew enough to shrink them).
    assert entries["whole"]["same_ranges"] is True
    assert entries["statements"]["batches"] == entries["whole"]["batches"] == len(C.read_json(ceiling["run"] / "ranges.json"))
    assert entries["statements"]["digested_rows"] + entries["statements"]["taken_rows"] <= entries["statements"]["result_rows"]


def test_a_miscounted_part_stops_the_round(ceiling):
    entries = {name: dict(entry) for name, entry in ceiling["entries"].items()}
    entries["read→Arrow"]["events"] -= 1
    with pytest.raises(SystemExit, match="read→Arrow"):
        C.check(entries, EVENTS, ceiling["whole"], ceiling["whole"])


def test_the_tables_numbers_follow_from_the_cpu_seconds(ceiling):
    entries = ceiling["entries"]
    rows = {row["label"]: row for row in C.table_rows([entries], EVENTS)}
    for row in rows.values():
        cpu = sum(entries[stage]["cpu"] for stage in row["stages"])
        assert row["cpu"] == pytest.approx(cpu)
        assert row["events_per_s"] == pytest.approx(EVENTS * row["threads"] / cpu)
        # Budget: 2 CPU-seconds per 1M events on the two cores, 1 CPU-second on one thread.
        assert row["share"] == pytest.approx(cpu / (EVENTS / 1e6 * row["threads"]))
    main = next(row for label, row in rows.items() if label.startswith("**routing + alerting**"))
    assert main["threads"] == 1
    assert main["cpu"] == pytest.approx(entries["routing"]["cpu"] + entries["alerting"]["cpu"])
    table = C.markdown(SPEC, list(rows.values()), [entries], EVENTS)
    line = next(text for text in table.splitlines() if text.startswith("| **routing + alerting**"))
    assert f"| {main['events_per_s']:,.0f} | {main['share']:.0%} |" in line


def test_the_budget_is_one_cpu_second_per_million_events_a_thread():
    assert C.allowed(2.0, 1_000_000, 2) == pytest.approx((1_000_000, 1.0))
    assert C.allowed(1.0, 1_000_000, 1) == pytest.approx((1_000_000, 1.0))
    assert C.allowed(0.5, 10_000_000, 1) == pytest.approx((20_000_000, 0.05))

"""The memory budget divides --memory-limit so the whole process stays under it: DuckDB's
share and rows per batch scale with the limit, the Parquet scan holds the rows the budget gives,
with the streaming engine's alerts, and a statement past DuckDB's share runs again with more."""

from __future__ import annotations

import duckdb
import pytest
from typer.testing import CliRunner

from batch.test_batch_engine import OKTA
from batch.test_typed_batches import routed_rows
from batch.test_typed_parquet import as_parquet
from tokentrail import api
from tokentrail.cli import app
from tokentrail.engine import batch as engine
from tokentrail.engine import batch_memory, batch_parquet
from tokentrail.engine.batch_memory import MemoryBudget, parse_size, peak_rss
from tokentrail.engine.dedup import STRING_KEY_BYTES, SeenEvents, dedup_key
from tokentrail.rules.ir import Cmp
from tokentrail.rules.model import Grouping, Rule


@pytest.mark.parametrize(("text", "size"), [("2GB", 2 * 10**9), ("500mb", 500 * 10**6), ("1.5GiB", 3 * 2**29),
                                            ("4096", 4096), (" 64 KiB ", 65536), ("1G", 10**9)])
def test_sizes_are_read_as_duckdb_reads_them(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "2 GBs", "", "-1GB"])
def test_a_bad_size_is_refused(text):
    with pytest.raises(ValueError, match="not a memory size"):
        MemoryBudget.of(text)


def test_the_budget_scales_with_the_limit():
    small, default, large = (MemoryBudget.of(limit) for limit in ("1GB", "2GB", "16GB"))
    assert default.duckdb == 2 * small.duckdb and large.duckdb == 8 * default.duckdb
    # The process's own reserve is the same at every limit: the batches get the rest.
    assert (small.batch, default.batch, large.batch) == (250 * 10**6, 900 * 10**6, 10_000 * 10**6)
    for budget in (small, default, large):
        assert budget.duckdb + budget.batch + batch_memory.PROCESS_RESERVE == budget.limit
    # Under a small limit the reserve is half of it (DuckDB's floor is no part of the sum).
    assert MemoryBudget.of("100MB").batch == (100 - 50 - 35) * 10**6


def test_rows_per_batch_follow_the_row_width_and_the_limit():
    default = MemoryBudget.of("2GB")
    assert default.batch_rows(1_000, 0, 10**9) == 300_000
    assert default.batch_rows(3_000, 0, 10**9) == 100_000  # wider rows: fewer
    assert default.batch_rows(1_000, 2_000, 10**9) == 180_000  # many rules' codes: fewer
    assert MemoryBudget.of("1GB").batch_rows(1_000, 0, 10**9) == 83_333
    assert default.batch_rows(2_000, 0, 250_000) == 150_000 and default.batch_rows(100, 0, 250_000) == 250_000
    assert default.batch_rows(10**9, 0, 250_000) == batch_memory.MIN_BATCH_ROWS
    assert default.batch_rows(10**9, 0, 20) == 20  # never more than the most asked for


def test_state_grown_with_the_input_leaves_fewer_rows_per_batch():
    default = MemoryBudget.of("2GB")
    assert default.batch_rows(1_000, 0, 10**9, held=300 * 10**6) == 200_000  # 900 MB less 300 held
    assert default.batch_rows(1_000, 0, 10**9, held=10**10) == batch_memory.MIN_BATCH_ROWS


def test_the_duplicate_filter_says_what_its_keys_take():
    seen = SeenEvents(memory_ids=1_000)
    empty = seen.nbytes
    for i in range(50_000):
        seen.seen_key(dedup_key("okta", f"{i:08d}-0000-4000-8000-{i:012d}"))
    assert seen.spilled > 40_000  # most keys frozen, packed
    assert 20 * 50_000 < seen.nbytes - empty < STRING_KEY_BYTES * 50_000


def test_duckdb_gets_its_share_and_a_floor():
    assert MemoryBudget.of("1MB").duckdb == batch_memory.DUCKDB_FLOOR
    # When a statement needs more, DuckDB may take what the batches would: the limit less the reserve.
    assert MemoryBudget.of("2GB").duckdb_most == 16 * 10**8
    con = engine.BatchEngine([], memory_limit="4GB").con
    setting, spill = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    # DuckDB prints the setting rounded to a tenth of its unit.
    assert abs(parse_size(setting.replace(" ", "")) / (1.4 * 10**9) - 1) < 0.05 and "tokentrail-duckdb-" in spill


def test_duckdb_runs_fewer_threads_when_its_share_is_small():
    assert MemoryBudget.of("2GB").threads(2) == 2 and MemoryBudget.of("16GB").threads(2) == 2
    assert MemoryBudget.of("1GB").threads(2) == 1 and MemoryBudget.of("100MB").threads(2) == 1
    con = engine.BatchEngine([], memory_limit="1GB").con
    assert con.execute("SELECT current_setting('threads')").fetchall()[0][0] == 1
    assert engine.BatchEngine([], memory_limit="1GB", threads=2).con.execute(
        "SELECT current_setting('threads')").fetchall()[0][0] == 2


def test_a_peak_over_the_limit_is_one_line():
    budget = MemoryBudget.of("1GB")
    assert budget.over(None) == "" and budget.over(10**9) == ""
    assert budget.over(1_234_000_000) == ("peak memory 1,234 MB passed --memory-limit 1,000 MB: memory outside DuckDB "
                                          "(Python, alerting's open groups, the rule plans) did not fit the rest of the limit")
    assert peak_rss() is None or peak_rss() > 0


def _okta_events(n: int) -> list[dict]:
    return [{"eventType": "user.session.start" if i % 3 else "app.x", "uuid": f"e{i}",
             "published": f"2026-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
             "actor": {"alternateId": f"u{i % 4}"}, "client": {"ipAddress": "10.1.2.3" if i % 2 else "192.0.2.1"}}
            for i in range(n)]


def test_a_tighter_limit_reads_smaller_batches_with_the_same_alerts(tmp_path, monkeypatch):
    parquet, jsonl = as_parquet(tmp_path, _okta_events(400))
    rules = [Rule(id="grouped", title="grouped", format="sigma", logsource=OKTA,
                  logic=Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",)),
                  grouping=Grouping(group_by=("actor.alternateId",), window=600, threshold=3)),
             Rule(id="each", title="each", format="sigma", logsource=OKTA, logic=Cmp("eventType", "eq", ("app.x",)))]
    stream = api.scan([str(jsonl)], rules, workers=1)
    executed = routed_rows(monkeypatch)
    monkeypatch.setattr(batch_memory, "MIN_BATCH_ROWS", 1)
    # The resident size held still: its real growth would take a share of so small a limit
    # (that is the test below).
    monkeypatch.setattr(batch_memory, "resident_bytes", lambda: 10**8)
    sizes = {}
    for limit in ("100KB", "200KB", "2GB"):
        executed.clear()
        # No duplicate filter: its keys would take a share of so small a limit (tested below).
        batch = engine.scan_batch([str(parquet)], rules, memory_limit=limit, keep_duplicates=True)
        assert [(a.id, a.event_ids, a.count) for a in batch.alerts] == [(a.id, a.event_ids, a.count) for a in stream.alerts]
        assert batch.stats.matches == stream.stats.matches and sum(executed) == 400
        sizes[limit] = list(executed)
    tight, looser = sizes["100KB"], sizes["200KB"]
    # Every batch but the last holds the same rows, and twice the limit holds about twice as many.
    assert len(set(tight[:-1])) == 1 and len(tight) > 4 and sizes["2GB"] == [400]
    assert abs(looser[0] - 2 * tight[0]) <= 2 and len(looser) < len(tight)


@pytest.mark.parametrize("direct", [True, False])
def test_a_statement_past_duckdbs_share_runs_again_with_more(tmp_path, monkeypatch, direct):
    parquet, jsonl = as_parquet(tmp_path, _okta_events(50))
    rules = [Rule(id="each", title="each", format="sigma", logsource=OKTA, logic=Cmp("eventType", "eq", ("app.x",)))]
    stream = api.scan([str(jsonl)], rules, workers=1)
    # The file read in the statement, or as Arrow batches (``ParquetScan._scan_direct``).
    monkeypatch.setattr(batch_parquet, "DIRECT_PARQUET", direct)
    owner, name = (batch_parquet.ParquetScan, "_run_direct") if direct else (engine.BatchEngine, "_run_typed")
    original = getattr(owner, name)
    limits: list[str] = []

    def short_once(self, *args):
        limits.append(self.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
        if len(limits) == 1:
            raise duckdb.OutOfMemoryException("Out of Memory Error: test")
        return original(self, *args)

    monkeypatch.setattr(owner, name, short_once)
    batch = engine.scan_batch([str(parquet)], rules, memory_limit="4GB")
    assert [(a.id, a.event_ids) for a in batch.alerts] == [(a.id, a.event_ids) for a in stream.alerts]
    assert [parse_size(s.replace(" ", "")) / n for s, n in zip(limits, (1.4e9, 3.6e9), strict=True)] == \
        pytest.approx([1, 1], rel=0.05)


def test_scan_says_when_the_peak_passed_the_limit(tmp_path, monkeypatch):
    parquet, _ = as_parquet(tmp_path, _okta_events(20))
    runner = CliRunner()
    args = ["scan", str(parquet), "--format", "jsonl", "--memory-limit", "1GB"]
    # The peak is the whole test process's (earlier tests may have passed 1 GB): set it both ways.
    monkeypatch.setattr(engine, "peak_rss", lambda: 900_000_000)
    assert "passed --memory-limit" not in runner.invoke(app, args).stderr
    monkeypatch.setattr(engine, "peak_rss", lambda: 1_500_000_000)
    err = runner.invoke(app, args).stderr
    assert "peak memory 1,500 MB passed --memory-limit 1,000 MB" in err and err.count("passed --memory-limit") == 1


def test_the_state_grown_is_measured_from_the_first_batch(monkeypatch):
    sizes = iter([500, 650, 560, 900, None])
    monkeypatch.setattr(batch_memory, "resident_bytes", lambda: next(sizes))
    growth = batch_memory.StateGrowth()
    seen = []
    for _ in range(5):
        growth.after_batch()
        seen.append(growth.grown)
    assert seen == [0, 150, 60, 400, 400]  # a process that cannot say keeps the last measure


def test_the_resident_size_is_this_process_s():
    """Both sizes see a block this process writes. (Not ``now <= peak``: the peak is the kernel's
    high-water mark, and other threads left by earlier tests may free memory between the reads.)"""
    before = batch_memory.resident_bytes()
    block = bytearray(64 << 20)
    block[::4096] = b"\x01" * len(range(0, len(block), 4096))  # touch every page
    now = batch_memory.resident_bytes()
    peak = peak_rss()
    assert before is not None and now is not None and peak is not None
    assert now - before >= 32 << 20 and peak >= 64 << 20
    del block


@pytest.mark.parametrize("overlap", [True, False])
@pytest.mark.parametrize("direct", [True, False])
def test_batches_shrink_as_the_scans_state_grows(tmp_path, monkeypatch, direct, overlap):
    """A scan whose resident size grows by batch leaves the next batches less room (the same
    alerts), whether the statement reads the file or Arrow batches; growth past the whole batch
    room leaves the least rows a batch holds. With the next batch's statement run while a batch
    is routed (``OVERLAP``), the next is sized before that routing: the growth it measures
    shrinks the batch after."""
    monkeypatch.setattr(batch_parquet, "DIRECT_PARQUET", direct)
    monkeypatch.setattr(batch_parquet, "OVERLAP", overlap)
    parquet, jsonl = as_parquet(tmp_path, _okta_events(400))
    rules = [Rule(id="each", title="each", format="sigma", logsource=OKTA, logic=Cmp("eventType", "eq", ("app.x",)))]
    stream = api.scan([str(jsonl)], rules, workers=1)
    executed = routed_rows(monkeypatch)
    monkeypatch.setattr(batch_memory, "MIN_BATCH_ROWS", 1)
    monkeypatch.setattr(batch_parquet, "READ_ROWS", 8)  # each batch's rows asked for as pieces arrive
    budget = MemoryBudget.of("100KB")
    resident = iter(range(10**6, 10**9, budget.batch // 4))  # a quarter of the room more each batch
    monkeypatch.setattr(batch_memory, "resident_bytes", lambda: next(resident))
    batch = engine.scan_batch([str(parquet)], rules, memory_limit="100KB", keep_duplicates=True)
    assert [(a.id, a.event_ids) for a in batch.alerts] == [(a.id, a.event_ids) for a in stream.alerts]
    assert sum(executed) == 400
    room = executed[1]  # measured from after the first batch: the second has the whole room
    shrinking = [4, 4, 3, 2, 1] if overlap else [4, 3, 2, 1]
    assert [round(4 * rows / room) for rows in executed[1:1 + len(shrinking)]] == shrinking
    # Then the least: after, at most, the rows an Arrow read had gathered when the room ran out.
    rest = executed[1 + len(shrinking):]
    assert rest[0] <= executed[len(shrinking)] and set(rest[1:]) == {1}

"""The memory budget divides --memory-limit so the whole process stays under it: DuckDB's
share, rows per batch and units per statement part scale with the limit, and the Parquet scan
holds the rows the budget gives, with the streaming engine's alerts."""

from __future__ import annotations

import pytest

from batch.test_batch_engine import OKTA
from batch.test_typed_parquet import as_parquet
from tokentrail import api
from tokentrail.engine import batch as engine
from tokentrail.engine import batch_memory
from tokentrail.engine.batch_memory import MemoryBudget, parse_size, peak_rss
from tokentrail.rules.ir import Cmp
from tokentrail.rules.model import Grouping, Rule


@pytest.mark.parametrize(("text", "size"), [("2GB", 2 * 10**9), ("500mb", 500 * 10**6), ("1.5GiB", 3 * 2**29),
                                            ("4096", 4096), (" 64 KiB ", 65536), ("1G", 10**9)])
def test_sizes_are_read_as_duckdb_reads_them(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "2 GBs", "", "-1GB"])
def test_a_bad_size_is_refused(text):
    with pytest.raises(ValueError, match="not a memory size"):
        MemoryBudget.of(text, 400)


def test_the_budget_scales_with_the_limit():
    small, default, large = (MemoryBudget.of(limit, 400) for limit in ("1GB", "2GB", "16GB"))
    assert default.duckdb == 2 * small.duckdb and large.duckdb == 8 * default.duckdb
    assert default.batch == 2 * small.batch
    # DuckDB's share and a batch's input, with the ~4x a batch costs in flight, leave room for Python.
    for budget in (small, default, large):
        assert budget.duckdb + 5 * budget.batch < budget.limit
    # At the default limit a part keeps its full budget of units; a tighter limit plans smaller parts.
    assert (small.statement_units, default.statement_units, large.statement_units) == (200, 400, 400)
    assert MemoryBudget.of("10MB", 400).statement_units == batch_memory.MIN_STATEMENT_UNITS
    assert MemoryBudget.of("10MB", 1).statement_units == 1


def test_rows_per_batch_follow_the_row_width_and_the_limit():
    default = MemoryBudget.of("2GB", 400)
    assert default.batch_rows(1_000, 10**9) == 200_000
    assert default.batch_rows(3_000, 10**9) == 66_666  # wider rows (many rules' codes): fewer
    assert MemoryBudget.of("1GB", 400).batch_rows(1_000, 10**9) == 100_000
    assert default.batch_rows(1_000, 250_000) == 200_000 and default.batch_rows(100, 250_000) == 250_000
    assert default.batch_rows(10**9, 250_000) == batch_memory.MIN_BATCH_ROWS
    assert default.batch_rows(10**9, 20) == 20  # never more than the most asked for


def test_duckdb_gets_its_share_and_a_floor():
    assert MemoryBudget.of("1MB", 400).duckdb == batch_memory.DUCKDB_FLOOR
    con = engine.BatchEngine([], memory_limit="4GB").con
    setting, spill = con.execute("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchone()
    # DuckDB prints the setting rounded to a tenth of its unit.
    assert abs(parse_size(setting.replace(" ", "")) / (1.2 * 10**9) - 1) < 0.05 and "tokentrail-duckdb-" in spill


def test_a_peak_over_the_limit_is_one_line():
    budget = MemoryBudget.of("1GB", 400)
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
    executed: list[int] = []
    original = engine.BatchEngine._route_typed

    def counted(self, result, table, *args, **kwargs):
        executed.append(table.num_rows)
        return original(self, result, table, *args, **kwargs)

    monkeypatch.setattr(batch_memory, "MIN_BATCH_ROWS", 1)
    monkeypatch.setattr(engine.BatchEngine, "_route_typed", counted)
    sizes = {}
    for limit in ("40KB", "80KB", "2GB"):
        executed.clear()
        batch = engine.scan_batch([str(parquet)], rules, memory_limit=limit)
        assert [(a.id, a.event_ids, a.count) for a in batch.alerts] == [(a.id, a.event_ids, a.count) for a in stream.alerts]
        assert batch.stats.matches == stream.stats.matches and sum(executed) == 400
        sizes[limit] = list(executed)
    tight, looser = sizes["40KB"], sizes["80KB"]
    # Every batch but the last holds the same rows, and twice the limit holds about twice as many.
    assert len(set(tight[:-1])) == 1 and len(tight) > 4 and sizes["2GB"] == [400]
    assert abs(looser[0] - 2 * tight[0]) <= 2 and len(looser) < len(tight)

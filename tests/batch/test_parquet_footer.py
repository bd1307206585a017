"""A Parquet file's footer is read once per scan (schema, row groups and column sizes) and the
direct read's batches are sized from it, with no read of rows to measure them; the alerts stay
the streaming engine's, and an unreadable file is reported once, as before."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch.test_batch_engine import OKTA
from batch.test_dataset_plan import as_dataset, batch_scan
from batch.test_direct_parquet import direct_rows
from batch.test_typed_parquet import as_parquet
from tokentrail import api
from tokentrail.engine import batch_memory, batch_parquet
from tokentrail.engine.batch import BatchEngine, scan_batch
from tokentrail.engine.batch_memory import MemoryBudget
from tokentrail.errors import LogParseError
from tokentrail.rules.ir import Cmp
from tokentrail.rules.model import Grouping, Rule
from tokentrail.sources.files import LogReader

EACH = Rule(id="each", title="each", format="sigma", logsource=OKTA, logic=Cmp("eventType", "eq", ("app.x",)))
GROUPED = Rule(id="grouped", title="grouped", format="sigma", logsource=OKTA,
               logic=Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",)),
               grouping=Grouping(group_by=("actor.alternateId",), window=600, threshold=2))


def _okta(n: int, first: int = 0) -> list[dict]:
    return [{"eventType": "user.session.start" if i % 3 else "app.x", "uuid": f"e{i}",
             "published": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z", "actor": {"alternateId": f"u{i % 4}"},
             "client": {"ipAddress": "10.1.2.3" if i % 2 else "192.0.2.1"}} for i in range(first, first + n)]


@pytest.mark.parametrize("direct", [True, False])
def test_each_files_footer_is_read_once_and_no_rows_are_read_to_size_batches(tmp_path, monkeypatch, direct):
    parquets, jsonls = as_dataset(tmp_path, [_okta(30), _okta(25, 30), _okta(40, 55)])
    monkeypatch.setattr(batch_parquet, "DIRECT_PARQUET", direct)
    footers: Counter[str] = Counter()
    selects: list[list[str]] = []
    read_footer, select = batch_parquet.read_footer, batch_parquet.ParquetScan.select

    def counted_footer(con, path):
        footers[str(path)] += 1
        return read_footer(con, path)

    def counted_select(self, path, columns):
        selects.append(list(columns))
        return select(self, path, columns)

    monkeypatch.setattr(batch_parquet, "read_footer", counted_footer)
    monkeypatch.setattr(batch_parquet.ParquetScan, "select", counted_select)
    alerts, engine = batch_scan(parquets, [EACH, GROUPED])
    stream = api.scan(jsonls, [EACH, GROUPED], workers=1)
    assert [(a.id, a.event_ids, a.count) for a in alerts] == [(a.id, a.event_ids, a.count) for a in stream.alerts]
    assert alerts and footers == Counter(parquets)  # planning and scanning share the one read
    # The direct read reads no rows but the statement's; the Arrow read its columns once per file.
    plan_columns = [[c for c in engine.parquet.footers[p].schema.names if c in engine.parquet.statement(
        engine.parquet.planned[p]).columns] for p in parquets]
    assert selects == ([] if direct else plan_columns)


def test_the_footer_gives_row_groups_and_each_columns_bytes(tmp_path):
    n = 1000
    table = pa.table({"eventType": pa.array(["user.session.start"] * n),  # dictionary-encoded: tiny
                      "text": pa.array([f"{i:0200d}" for i in range(n)]),  # 200 bytes a row
                      "actor": pa.array([{"id": f"{i:030d}", "kind": "User"} for i in range(n)])})
    path = tmp_path / "wide.parquet"
    pq.write_table(table, path, row_group_size=300, compression="zstd")
    footer = batch_parquet.read_footer(BatchEngine([]).con, path)
    assert footer.rows == (300, 300, 300, 100) and footer.schema == pq.read_schema(path)
    meta = pq.read_metadata(path)
    assert footer.sizes[0]["eventType"] == (meta.row_group(0).column(0).total_uncompressed_size, 300)
    assert footer.sizes[0]["actor"][1] == 600  # both leaves' values
    each = batch_parquet.VALUE_BYTES
    # A dictionary-encoded column takes a full value a row in flight, not its few bits in the file.
    assert footer.row_bytes(["eventType"]) == each + batch_parquet.ROW_NUMBER_BYTES
    assert 200 <= footer.row_bytes(["text"]) - batch_parquet.ROW_NUMBER_BYTES < 230
    assert footer.row_bytes(["text", "eventType"]) == pytest.approx(
        footer.row_bytes(["text"]) + each, rel=0.01)
    assert footer.row_bytes([]) == batch_parquet.ROW_NUMBER_BYTES


def test_direct_batches_are_sized_from_the_footer_by_the_limit(tmp_path, monkeypatch):
    parquet, jsonl = as_parquet(tmp_path, _okta(400))
    stream = api.scan([str(jsonl)], [EACH, GROUPED], workers=1)
    sizes = direct_rows(monkeypatch)
    monkeypatch.setattr(batch_memory, "MIN_BATCH_ROWS", 1)
    monkeypatch.setattr(batch_memory, "resident_bytes", lambda: 10**8)  # no state growth
    batch = scan_batch([str(parquet)], [EACH, GROUPED], memory_limit="100KB", keep_duplicates=True)
    assert [(a.id, a.event_ids) for a in batch.alerts] == [(a.id, a.event_ids) for a in stream.alerts]
    engine = BatchEngine([EACH, GROUPED])
    footer = batch_parquet.read_footer(engine.con, parquet)
    plan = engine._typed_statement(footer.schema)
    width = footer.row_bytes(plan.columns or ())
    expected = MemoryBudget.of("100KB").batch_rows(width, engine.parquet.codes, batch_parquet.TYPED_BATCH_ROWS,
                                                   batches=2 if batch_parquet.OVERLAP else 1)
    assert sum(sizes) == 400 and sizes[0] == expected < 400


def test_an_unreadable_file_is_reported_once_and_the_others_scanned(tmp_path):
    parquets, _ = as_dataset(tmp_path, [_okta(30)])
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not parquet")
    reader = LogReader()
    engine = BatchEngine([EACH])
    engine.scan_paths([str(broken), *parquets], reader)
    assert reader.stats.files == 1 and reader.stats.skipped == 1
    assert [e.file for e in reader.stats.errors] == [str(broken)]
    assert reader.stats.errors[0].message.startswith("cannot read Parquet")
    with pytest.raises(LogParseError, match="cannot read Parquet"):
        BatchEngine([EACH]).scan_paths([str(broken)], LogReader(strict=True))

"""A plain Parquet file read by the typed statement itself (``ParquetScan._scan_direct``) gives
what the Arrow batches give and what the streaming engine gives: alerts, matches, stats, with
repeated events, events several rules match, rows read whole for Python and batches cut at row
groups, statements in parts. And the router's column-wise runs (``engine/batch_route.py``) are its per-row ones."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from batch.test_batch_engine import OKTA, events, rules
from batch.test_dataset_plan import ALTERNATE, _okta, as_dataset, batch_scan
from batch.test_typed_batches import routed_rows
from batch.test_typed_parquet import as_parquet
from batch.test_typed_plan import KEYWORDS, PYTHON, START, outcome
from tokentrail import api
from tokentrail.engine import batch as engine
from tokentrail.engine import batch_parquet, batch_parts
from tokentrail.engine.batch_route import bulk_runs, run_log_types
from tokentrail.rules.ir import Cmp
from tokentrail.rules.model import Grouping, Rule


def direct_rows(monkeypatch) -> list[int]:
    """The rows of each batch the statements read from the file, appended as they run."""
    direct: list[int] = []
    run_direct = batch_parquet.ParquetScan._run_direct

    def counted(self, plan, statements, start, stop):
        direct.append(stop - start)
        return run_direct(self, plan, statements, start, stop)

    monkeypatch.setattr(batch_parquet.ParquetScan, "_run_direct", counted)
    return direct


def both_reads(parquet, jsonl, rule_list, monkeypatch):
    """The streaming scan's outcome, then the batch engine's reading the file in its statement,
    then reading it as Arrow batches; and how many statements read the file directly."""
    direct = direct_rows(monkeypatch)
    stream = outcome(api.scan([str(jsonl)], rule_list, workers=1))
    read_direct = outcome(engine.scan_batch([str(parquet)], rule_list))
    monkeypatch.setattr(batch_parquet, "DIRECT_PARQUET", False)
    read_arrow = outcome(engine.scan_batch([str(parquet)], rule_list))
    return stream, read_direct, read_arrow, direct


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(rules(4), events(40), st.sampled_from([(), (PYTHON,), (KEYWORDS,)]), st.integers(0, 10),
       st.sampled_from([batch_parts.STATEMENT_UNITS, 2]))
@example([START, Rule(id="again", title="again", format="sigma", logsource=OKTA,
                      logic=Cmp("eventType", "eq", ("user.session.start",)))],
         [{"eventType": "user.session.start", "uuid": f"e{i % 3}", "published": f"2026-01-01T00:00:0{i}Z",
           "actor": {"alternateId": "a@x.io"}} for i in range(6)], (), 2, 1)
def test_the_file_read_in_the_statement_gives_the_arrow_batches_results(tmp_path_factory, rule_list, event_list,
                                                                        python, repeats, statement_units):
    event_list = event_list + event_list[:repeats]  # read again: duplicates, once matched before
    parquet, jsonl = as_parquet(tmp_path_factory.mktemp("direct"), event_list)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch_parts, "STATEMENT_UNITS", statement_units)  # in parts and merged, or one statement
        stream, read_direct, read_arrow, direct = both_reads(parquet, jsonl, [*rule_list, *python], mp)
    assert read_direct == stream
    assert read_arrow == stream
    assert sum(direct) == len(event_list)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(rules(3), events(30), st.integers(3, 12))
@example([ALTERNATE], [_okta(0, actor={"alternateId": "a"}, target=[{"id": "t"}]),
                       _okta(1, debugContext={"debugData": {"privilegeGranted": "super"}}, actor={"alternateId": "a"},
                             target=[{"id": "u", "type": "User"}, None]),
                       _okta(2, actor=None, debugContext={"debugData": None})], 1)
def test_files_padded_to_their_dataset_in_the_statement_give_the_arrow_batches_results(tmp_path_factory, rule_list,
                                                                                      event_list, size):
    chunks = [event_list[k:k + size] for k in range(0, len(event_list), size)]
    parquets, jsonls = as_dataset(tmp_path_factory.mktemp("padded"), chunks)
    results = []
    with pytest.MonkeyPatch.context() as mp:
        direct: list[str] = []
        run_direct = batch_parquet.ParquetScan._scan_direct

        def counted(self, reader, path, *args):
            direct.append(str(path))
            return run_direct(self, reader, path, *args)

        mp.setattr(batch_parquet.ParquetScan, "_scan_direct", counted)
        for read_direct in (True, False):
            mp.setattr(batch_parquet, "DIRECT_PARQUET", read_direct)
            alerts, batch = batch_scan(parquets, rule_list)
            results.append(([(a.id, a.rule_id, a.event_ids, a.count, a.fields) for a in alerts],
                            batch.stream.stats.matches, batch.stream.stats.events, batch.stream.stats.duplicates))
    stream = api.scan(jsonls, rule_list, workers=1)
    assert results[0] == results[1] == ([(a.id, a.rule_id, a.event_ids, a.count, a.fields) for a in stream.alerts],
                                        stream.stats.matches, stream.stats.events, stream.stats.duplicates)
    assert direct == parquets


def test_a_batch_ends_at_a_row_group_and_a_timestamp_column_is_read_as_arrow(tmp_path, monkeypatch):
    event_list = [{"eventType": "user.session.start" if i % 3 else "app.x", "uuid": f"e{i % 45}",
                   "published": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "actor": {"alternateId": f"u{i % 4}"}}
                  for i in range(50)]
    parquet, jsonl = as_parquet(tmp_path, event_list)
    pq.write_table(pq.read_table(parquet), parquet, row_group_size=7)
    rule_list = [START, Rule(id="each", title="each", format="sigma", logsource=OKTA,
                             logic=Cmp("eventType", "eq", ("app.x",)), grouping=Grouping())]
    monkeypatch.setattr(batch_parquet, "TYPED_BATCH_ROWS", 20)
    routed = routed_rows(monkeypatch)
    with pytest.MonkeyPatch.context() as mp:
        stream, read_direct, read_arrow, direct = both_reads(parquet, jsonl, rule_list, mp)
    assert read_direct == read_arrow == stream and stream[0]
    # The most whole row groups that fit 20 rows: none is decoded by two statements.
    assert direct == [14, 14, 14, 8] and routed[:4] == direct
    timed = pq.read_table(parquet).append_column("seen", pa.array([1_767_225_600] * 50, pa.timestamp("s")))
    pq.write_table(timed, parquet)
    schema = pq.read_schema(parquet)
    plan = engine.BatchEngine(rule_list)._typed_statement(schema)
    assert batch_parquet.reads_direct(schema, schema, plan)
    assert not batch_parquet.reads_direct(schema, schema, engine.BatchEngine(
        [Rule(id="t", title="t", format="sigma", logsource=OKTA, logic=Cmp("seen", "contains", ("2026",)))]
    )._typed_statement(schema))


def _per_row_runs(rows, unit, rule_of):
    runs: dict[int, list[int]] = {}
    for row in rows:
        code = int(rule_of[unit[row]])
        if code >= 0:
            runs.setdefault(code, []).append(int(row))
    return list(runs.items())


@given(st.lists(st.integers(0, 5), max_size=40), st.lists(st.integers(-1, 2), min_size=6, max_size=6),
       st.lists(st.booleans(), max_size=40))
@example([3, 0, 3, 1, 0], [1, -1, 0, 1, -1, -1], [True, True, False, True, True])
def test_bulk_runs_are_the_per_row_runs_in_order_of_first_row(units, codes, kept):
    unit = np.array(units, np.int64)
    rule_of = np.array(codes + [-1], np.int64)
    rows = np.array([r for r, keep in zip(range(len(units)), kept, strict=False) if keep], np.int64)
    got = [(code, run.tolist()) for code, run in bulk_runs(rows, unit, rule_of)]
    assert got == _per_row_runs(rows, unit, rule_of)


@given(st.lists(st.integers(0, 4), min_size=1, max_size=30))
def test_a_runs_log_types_are_counted_as_the_rows_meet_them(units):
    names = ["okta", "auth0", "okta", "salesforce", "auth0"]
    want: Counter[str] = Counter()
    for index, count in Counter(units).items():
        want[names[index]] += count
    got = run_log_types(np.array(units, np.int64), names.__getitem__)
    assert list(got.items()) == list(want.items())

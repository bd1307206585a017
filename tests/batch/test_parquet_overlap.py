"""The next batch's statement runs in a worker thread while the main thread routes the current
batch (``batch_parquet.OVERLAP``): it does run meanwhile, at most one batch ahead, and the scan
gives the same alerts, matches (in order) and counts as one batch after the other, and as the
streaming engine, over both reads (the statement's own and Arrow batches)."""

from __future__ import annotations

import threading

import duckdb
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from batch.test_batch_engine import OKTA, events, rules
from batch.test_typed_parquet import as_parquet
from batch.test_typed_plan import PYTHON, START
from tokentrail import api
from tokentrail.engine import batch_memory, batch_parquet
from tokentrail.engine.batch import BatchEngine, scan_batch
from tokentrail.rules.ir import Cmp
from tokentrail.rules.model import Grouping, Rule
from tokentrail.sources.files import LogReader

EACH = Rule(id="each", title="each", format="sigma", logsource=OKTA, logic=Cmp("eventType", "eq", ("app.x",)))
GROUPED = Rule(id="grouped", title="grouped", format="sigma", logsource=OKTA,
               logic=Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",)),
               grouping=Grouping(group_by=("actor.alternateId",), window=600, threshold=2))


def _okta(n: int) -> list[dict]:
    # Ids repeat across batches: the duplicate filter's order matters.
    return [{"eventType": "user.session.start" if i % 3 else "app.x", "uuid": f"e{i % 70}",
             "published": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z", "actor": {"alternateId": f"u{i % 4}"},
             "client": {"ipAddress": "10.1.2.3" if i % 2 else "192.0.2.1"}} for i in range(n)]


def _outcome(parquet, rule_list):
    matches: list = []
    result = scan_batch([str(parquet)], rule_list, on_match=matches.append)
    digested = scan_batch([str(parquet)], rule_list)  # no on_match: matched rows digested in SQL
    return ([(a.id, a.rule_id, a.event_ids, a.count, a.fields) for a in result.alerts],
            [(m.rule_id, m.event_id, m.line) for m in matches],
            [(a.id, a.event_ids, a.count) for a in digested.alerts],
            (result.stats.events, result.stats.matches, result.stats.duplicates, digested.stats.duplicates))


@pytest.mark.parametrize("direct", [True, False])
def test_the_next_statement_runs_while_a_batch_is_routed(tmp_path, monkeypatch, direct):
    parquet, _ = as_parquet(tmp_path, _okta(120))
    pq.write_table(pq.read_table(parquet), parquet, row_group_size=10)
    monkeypatch.setattr(batch_parquet, "DIRECT_PARQUET", direct)
    monkeypatch.setattr(batch_parquet, "TYPED_BATCH_ROWS", 30)
    monkeypatch.setattr(batch_parquet, "READ_ROWS", 10)
    started: list[threading.Event] = [threading.Event() for _ in range(5)]
    runs: list[str] = []
    ahead: list[int] = []  # statements started, less batches routed before, while each is routed
    routed = 0
    route = BatchEngine._route_typed

    def running(original):
        def run(self, *args):
            runs.append(threading.current_thread().name)
            started[len(runs) - 1].set()
            return original(self, *args)
        return run

    def routing(self, *args):
        nonlocal routed
        # The next batch's statement starts before this batch's routing ends (none after the last).
        assert routed == 3 or started[routed + 1].wait(10)
        ahead.append(len(runs) - routed)
        routed += 1
        return route(self, *args)

    # The direct read's statements run through ``_run_direct``; the Arrow read's through ``_run_typed``.
    owner, name = (batch_parquet.ParquetScan, "_run_direct") if direct else (BatchEngine, "_run_typed")
    monkeypatch.setattr(owner, name, running(getattr(owner, name)))
    monkeypatch.setattr(BatchEngine, "_route_typed", routing)
    result = scan_batch([str(parquet)], [EACH, GROUPED])
    assert routed == 4 and len(runs) == 4 and result.stats.events > 0
    assert all(name.startswith("tokentrail-duckdb") for name in runs)
    # At most one batch ahead: while a batch is routed, its own statement and the next one's.
    assert ahead == [2, 2, 2, 1]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(rules(4), events(40), st.sampled_from([(), (PYTHON,)]), st.integers(1, 12), st.booleans())
@example([START, EACH, GROUPED], _okta(40), (), 7, True)
def test_overlapped_batches_give_one_after_the_other_s_results(tmp_path_factory, rule_list, event_list, python,
                                                               rows, direct):
    parquet, jsonl = as_parquet(tmp_path_factory.mktemp("overlap"), event_list + event_list[:9])
    rule_list = [*rule_list, *python]
    outcomes = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batch_parquet, "DIRECT_PARQUET", direct)
        mp.setattr(batch_parquet, "TYPED_BATCH_ROWS", rows)  # several batches
        mp.setattr(batch_parquet, "READ_ROWS", 4)
        for overlap in (True, False):
            mp.setattr(batch_parquet, "OVERLAP", overlap)
            outcomes.append(_outcome(parquet, rule_list))
    stream = api.scan([str(jsonl)], rule_list, workers=1)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][2] == [(a.id, a.event_ids, a.count) for a in stream.alerts]


def _threads(con) -> int:
    return con.execute("SELECT current_setting('threads')").fetchall()[0][0]


def test_duckdb_has_every_core_while_routing_is_much_quicker_than_its_statements_and_one_fewer_else():
    con = duckdb.connect(config={"threads": 2})
    now = iter(range(100))
    share = batch_parquet.CoreShare(con, 2, 1, clock=lambda: float(next(now)))
    seen = []
    # Each statement takes one tick of the fake clock; the routing after it takes what is given.
    for routing in (0.4, 3.0, 3.0, 0.2, 0.0, 0.8):
        seen.append(share.run(lambda: _threads(con)))
        share.routed(routing)
    seen.append(share.run(lambda: _threads(con)))
    assert seen == [2, 2, 1, 1, 2, 2, 1]  # the first has all: nothing is routed beside it
    share.restore()
    assert _threads(con) == 2


def test_threads_asked_for_while_a_statement_sets_them_are_still_restored():
    sets: list[str] = []

    class Connection:  # records what is set; the main thread asks for every core meanwhile
        def execute(self, sql):
            sets.append(sql)
            share.routed(0.0)

    now = iter(range(100))
    share = batch_parquet.CoreShare(Connection(), 2, 1, clock=lambda: float(next(now)))
    share.run(lambda: None)
    share.routed(5.0)  # routing slower than the statement: one thread fewer
    share.run(lambda: None)
    share.restore()
    assert sets == ["SET threads = 1", "SET threads = 2"]


@pytest.mark.parametrize(("cores", "overlap", "fewer"), [(2, True, 1), (4, True, 2), (2, False, 2), (1, True, 1)])
def test_a_scan_gives_duckdb_its_threads_or_one_fewer_and_then_back(tmp_path, monkeypatch, cores, overlap, fewer):
    parquet, _ = as_parquet(tmp_path, _okta(120))
    monkeypatch.setattr(batch_parquet, "OVERLAP", overlap)
    monkeypatch.setattr(batch_parquet.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(batch_parquet, "READ_ROWS", 16)
    monkeypatch.setattr(batch_memory, "MIN_BATCH_ROWS", 1)
    monkeypatch.setattr(batch_memory, "resident_bytes", lambda: 10**8)
    threads: list[int] = []
    run_direct = batch_parquet.ParquetScan._run_direct

    def counted(self, *args):
        threads.append(_threads(self.con))
        return run_direct(self, *args)

    monkeypatch.setattr(batch_parquet.ParquetScan, "_run_direct", counted)
    engine = BatchEngine([EACH], threads=2, memory_limit="100KB")
    reader = LogReader()
    assert engine.scan_paths([str(parquet)], reader) and reader.stats.files == 1
    assert len(threads) > 1 and threads[0] == 2 and set(threads) <= {2, fewer}
    assert _threads(engine.con) == 2  # as it was after

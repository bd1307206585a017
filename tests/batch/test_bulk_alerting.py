"""The typed Parquet path hands the matches of rules that feed only their own alerter over in
runs (``StreamingEngine.route_many``) and still gives the streaming engine's alerts and counts:
thresholds, distinct counts and ES|QL aggregates of the bundled pack beside the rules that feed
a correlation, with untimed and repeated events among them."""

from __future__ import annotations

import gc

import pytest

from batch.test_typed_parquet import as_parquet
from tokentrail import api
from tokentrail.engine.batch import scan_batch
from tokentrail.engine.stream import StreamingEngine
from tokentrail.simulate import generate


def _facts(result):
    # A repeat that matched nothing is counted as an event by the batch engine (see
    # ``scan_batch``): only the sum of events and duplicates is the streaming engine's.
    s = result.stats
    return (s.events + s.duplicates, s.untimed, s.matched_events, s.matches, s.step_matches, s.by_rule,
            s.by_log_type)


@pytest.mark.parametrize("seed", [3, 11])
def test_runs_of_matches_alert_as_the_streaming_engine_does(tmp_path, monkeypatch, seed):
    events = list(generate(["all"], events=4000, seed=seed, sources=("okta",)))
    for n, event in enumerate(events):
        if n % 97 == 5:
            event.pop("published", None)  # untimed: alerted without a time, counted once per event
    events += events[100:160]  # read twice: the second time each is a duplicate
    parquet, jsonl = as_parquet(tmp_path, events)
    runs: list[int] = []
    route_many = StreamingEngine.route_many

    def counted(self, rule_id, log_types, times, *rest):
        runs.append(len(times))
        return route_many(self, rule_id, log_types, times, *rest)

    monkeypatch.setattr(StreamingEngine, "route_many", counted)
    loaded = api.load_rules()
    stream = api.scan([str(jsonl)], loaded, workers=1)
    batch = scan_batch([str(parquet)], loaded)
    assert [(a.id, a.rule_id, a.event_ids, a.count, a.first_time, a.fields) for a in batch.alerts] == \
        [(a.id, a.rule_id, a.event_ids, a.count, a.first_time, a.fields) for a in stream.alerts]
    assert _facts(batch) == _facts(stream)
    assert stream.stats.untimed > 0 and stream.stats.duplicates == 60 and batch.stats.duplicates > 0
    # Every rule's match went in a run; the sequence's step matches went one by one beside them.
    assert sum(runs) == batch.stats.matches > 0 and batch.stats.step_matches > 0


def test_the_collector_is_off_while_rows_are_routed_and_back_on_after(tmp_path, monkeypatch):
    events = list(generate(["all"], events=500, seed=5, sources=("okta",)))
    parquet, _ = as_parquet(tmp_path, events)
    loaded = api.load_rules()
    route_many = StreamingEngine.route_many
    collecting: list[bool] = []

    def watched(self, *args):
        collecting.append(gc.isenabled())
        return route_many(self, *args)

    monkeypatch.setattr(StreamingEngine, "route_many", watched)
    scan_batch([str(parquet)], loaded)
    assert collecting and not any(collecting)
    assert gc.isenabled()

    def failing(self, *args):
        raise RuntimeError("alerting failed")

    monkeypatch.setattr(StreamingEngine, "route_many", failing)
    with pytest.raises(RuntimeError, match="alerting failed"):
        scan_batch([str(parquet)], loaded)
    assert gc.isenabled()

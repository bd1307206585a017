"""The typed Parquet router's per-batch row values are its per-row readers' values: event times
(``event_times``: the same floats as ``event_time``, odd texts included), event ids
(``event_ids``) and the repeat check of a batch's events at once (``DigestedRows.firsts``, ``repeated_events``: the
events ``SeenEvents.seen_key`` one at a time would drop)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from batch.test_typed_parquet import as_parquet
from tokentrail import api
from tokentrail.engine import batch as batch_module
from tokentrail.engine.batch import scan_batch
from tokentrail.engine.batch_digest import event_id, event_ids, event_time, event_times
from tokentrail.engine.batch_route import DigestedRows, repeated_events
from tokentrail.engine.dedup import SeenEvents, dedup_key
from tokentrail.simulate import generate

ODD_TIMES = [
    "2024-05-01T10:00:00.123Z", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00", "2024-05-01 10:00:00",
    "2024-05-01T10:00:00.1+05:30", "2024-05-01T10:00:00.999999-23:59", "2024-05-01T10:00:00.1234567Z",
    "2024-05-01T10:00:00,5Z", "2024-05-01T10:00:00+0530", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z", "2000-02-29T23:59:59.000001Z", "2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z",
    "2024-00-10T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T23:60:00Z", "2024-05-01T23:59:60Z",
    "2024-05-01T10:00:00+24:00", "2024-05-01T10:00:00+05:60", "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z", "1600-01-01T00:00:00Z", "1685-06-01T00:00:00Z", "2255-06-01T00:00:00Z",
    "1969-12-31T23:59:59.999999Z", "2024-05-01", "20240130174530.123", "1714557600", "1714557600123",
    " 2024-05-01T10:00:00Z ", "2024-05-01t10:00:00z", "not a time", "", "１２３４-05-01T10:00:00Z",
]


def _same(got: list[float | None], want: list[float | None]) -> bool:
    return [(None if t is None else t.hex()) for t in got] == [(None if t is None else t.hex()) for t in want]


@pytest.mark.parametrize("text", ODD_TIMES)
def test_each_odd_timestamp_gives_the_per_row_float(text):
    rows = [[text], [None, text], [text, "2024-05-01T10:00:00Z"], ["bad", text]]
    column = pa.array(rows, pa.list_(pa.string()))
    assert _same(event_times(column), [event_time(r) for r in rows])


_digits = st.integers(min_value=0, max_value=99)
_iso = st.builds(
    lambda y, mo, d, h, mi, s, f, z: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{f}{z}",
    st.one_of(st.integers(1, 9999), st.integers(1960, 2100), st.just(0)), st.integers(0, 13), st.integers(0, 32),
    st.integers(0, 25), st.integers(0, 61), st.integers(0, 61),
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,8}", fullmatch=True)),
    st.one_of(st.just(""), st.just("Z"), st.builds(lambda sign, hh, mm: f"{sign}{hh:02d}:{mm:02d}",
                                                   st.sampled_from("+-"), st.integers(0, 25), st.integers(0, 61))))
_cell = st.one_of(_iso, st.none(), st.sampled_from(ODD_TIMES))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(_cell, max_size=3)), max_size=30))
@example([["2024-05-01T10:00:00.5-00:30"], None, [], [None], ["2024-02-30T00:00:00Z", "2024-05-01T10:00:00Z"]])
@example([["1685-01-01T00:00:00.000001Z"], ["2255-12-31T23:59:59.999999+23:59"]])
def test_event_times_are_event_time_of_each_row(rows):
    column = pa.chunked_array([pa.array(rows, pa.list_(pa.string()))])
    assert _same(event_times(column), [None if r is None else event_time(r) for r in rows])


@given(st.lists(st.one_of(st.none(), st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "b1", "0"])),
                                              max_size=3)), max_size=30))
@example([None, [], [""], ["", None, "x"], [None, "y"]])
def test_event_ids_are_event_id_of_each_row(rows):
    column = pa.array(rows, pa.list_(pa.string()))
    assert event_ids(column) == [None if r is None else event_id(r) for r in rows]


@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 6)), st.one_of(st.none(), st.integers(1, 3)),
                          st.sampled_from(["okta", "auth0"]), st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))),
                max_size=30),
       st.lists(st.sampled_from(["a", "b", "c"]), max_size=3))
@example([(0, 1, "okta", "a"), (0, 2, "okta", "a"), (1, 1, "okta", "a"), (2, 1, "auth0", "a"), (None, None, "okta", "b"),
          (3, None, "okta", "c"), (3, 1, "okta", "c")], ["b"])
def test_the_batch_repeat_check_drops_what_seen_key_would(rows, taken_before):
    # Rows of one event are adjacent (the query's order), so a line number only repeats in a run;
    # a row without a unit is an event taken whole, which the router meets apart.
    rows = sorted(rows, key=lambda r: -1 if r[0] is None else r[0])
    line = [r[0] for r in rows]
    units = [r[1] for r in rows]
    lt = [r[2] for r in rows]
    idents = [r[3] for r in rows]
    one_by_one, batched = SeenEvents(memory_ids=2), SeenEvents(memory_ids=2)
    for ident in taken_before:
        one_by_one.seen_key(dedup_key("okta", ident))
        batched.seen_key(dedup_key("okta", ident))
    met, want = [], set()
    at = None
    for i, pos in enumerate(line):
        if pos is None or units[i] is None or pos == at:
            continue
        at = pos
        if idents[i] is not None and one_by_one.seen_key(dedup_key(lt[i], idents[i])):
            want.add(len(met))
        met.append(i)
    firsts = DigestedRows.of(pa.chunked_array([pa.array(line, pa.int64())]),
                             pa.chunked_array([pa.array(units, pa.int32())])).firsts
    assert firsts.tolist() == met
    assert repeated_events(batched, [lt[i] for i in met], [idents[i] for i in met]) == want
    assert batched.count == one_by_one.count


def test_a_file_read_twice_and_repeats_within_a_batch_are_dropped_as_streaming_does(tmp_path, monkeypatch):
    events = list(generate(["all"], events=1500, seed=9, sources=("okta",)))
    events += events[200:260]
    parquet, jsonl = as_parquet(tmp_path, events)
    checks: list[int] = []
    repeated = batch_module.repeated_events

    def counted(seen, log_types, idents):
        found = repeated(seen, log_types, idents)
        checks.append(len(found))
        return found

    monkeypatch.setattr(batch_module, "repeated_events", counted)
    loaded = api.load_rules()
    stream = api.scan([str(jsonl), str(jsonl)], loaded, workers=1)
    batch = scan_batch([str(parquet), str(parquet)], loaded)
    assert [(a.id, a.rule_id, a.event_ids, a.count, a.first_time) for a in batch.alerts] == \
        [(a.id, a.rule_id, a.event_ids, a.count, a.first_time) for a in stream.alerts]
    assert (batch.stats.matches, batch.stats.matched_events, batch.stats.by_rule) == \
        (stream.stats.matches, stream.stats.matched_events, stream.stats.by_rule)
    assert sum(checks) > 0 and batch.stats.duplicates >= sum(checks)

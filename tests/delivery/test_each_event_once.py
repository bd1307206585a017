"""Each event once: an event read twice (same log type, same event id) counts and alerts once,
across files, formats and workers; events without an id are never dropped."""

from __future__ import annotations

import tracemalloc

import orjson
import pytest

from tokentrail import load_rules, scan
from tokentrail.content import default_rule_paths
from tokentrail.engine.dedup import SeenEvents
from tokentrail.simulate.writer import write_logs


@pytest.fixture(scope="module")
def rules():
    return load_rules(default_rule_paths())


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return write_logs(tmp_path_factory.mktemp("logs"), ["all"], events=3000, seed=5, salesforce_csv=True)


def ids(result):
    return [a.id for a in result.alerts]


def test_one_file_named_twice_counts_and_alerts_once(logs, rules):
    once = scan([logs["okta"]], rules)
    twice = scan([logs["okta"], logs["okta"]], rules)
    assert once.alerts and ids(twice) == ids(once)
    assert twice.stats.events == once.stats.events
    assert twice.stats.duplicates == once.stats.events
    assert twice.stats.matches == once.stats.matches
    assert len(set(ids(twice))) == len(ids(twice))


def test_salesforce_as_json_lines_and_csv_is_one_set_of_events(logs, rules):
    jsonl = scan([logs["salesforce"]], rules)
    both = scan([logs["salesforce"], logs["salesforce_csv"]], rules)
    assert jsonl.stats.events > 0
    assert both.stats.events == jsonl.stats.events
    assert both.stats.duplicates == jsonl.stats.events
    assert ids(both) == ids(jsonl)


def test_overlapping_exports_take_the_union(tmp_path, logs, rules):
    lines = logs["okta"].read_bytes().splitlines(keepends=True)
    third = len(lines) // 3
    first, second = tmp_path / "export-1.jsonl", tmp_path / "export-2.jsonl"
    first.write_bytes(b"".join(lines[: 2 * third]))
    second.write_bytes(b"".join(lines[third:]))
    whole = scan([logs["okta"]], rules)
    overlapping = scan([first, second], rules)
    assert overlapping.stats.duplicates == third
    assert overlapping.stats.events == whole.stats.events
    assert sorted(ids(overlapping)) == sorted(ids(whole))


def test_keep_duplicates_takes_every_event(logs, rules):
    once = scan([logs["okta"]], rules)
    kept = scan([logs["okta"], logs["okta"]], rules, keep_duplicates=True)
    assert kept.stats.duplicates == 0
    assert kept.stats.events == 2 * once.stats.events
    assert kept.stats.matches == 2 * once.stats.matches


def test_events_without_an_id_are_never_dropped(tmp_path, rules):
    event = {"published": "2024-05-01T10:00:00Z", "eventType": "system.api_token.create",
             "actor": {"id": "00u1", "type": "User", "alternateId": "a@example.com"},
             "client": {"ipAddress": "198.51.100.7"}}
    path = tmp_path / "okta.jsonl"
    path.write_bytes((orjson.dumps(event) + b"\n") * 3)
    result = scan([path, path], rules)
    assert result.stats.duplicates == 0
    assert result.stats.events == 6


def test_parallel_workers_drop_the_same_duplicates(logs, rules, monkeypatch):
    monkeypatch.setattr("tokentrail.engine.parallel.CHUNK_BYTES", 64 << 10)
    one = scan([logs["okta"], logs["okta"]], rules, workers=1)
    two = scan([logs["okta"], logs["okta"]], rules, workers=2, min_parallel_bytes=0)
    assert two.stats.duplicates == one.stats.duplicates > 0
    assert (two.stats.events, two.stats.matches, two.stats.matched_events) == (
        one.stats.events, one.stats.matches, one.stats.matched_events)
    assert [a.to_dict() for a in two.alerts] == [a.to_dict() for a in one.alerts]


def test_ids_beyond_the_memory_bound_move_to_disk_and_are_still_found(logs, rules):
    whole = scan([logs["okta"]], rules)
    bounded = scan([logs["okta"], logs["okta"]], rules, memory_ids=500)
    assert bounded.stats.duplicates == whole.stats.events
    assert ids(bounded) == ids(whole)


def test_the_spilled_filter_answers_exactly():
    seen = SeenEvents(memory_ids=100)
    try:
        assert not any(seen.seen_key(f"okta\x1f{n}") for n in range(1000))
        assert seen.spilled == 1000 and not seen.recent and seen.frozen.bloom.capacity >= 1000
        assert all(seen.seen_key(f"okta\x1f{n}") for n in range(1000))
        assert not any(seen.seen_key(f"okta\x1f{n}") for n in range(1000, 1200))
    finally:
        seen.close()


def test_a_batch_of_keys_finds_repeats_within_it_and_before_it():
    seen = SeenEvents(memory_ids=1000)
    try:
        assert seen.duplicates_among(["okta\x1fa", "", "okta\x1fb"]) == set()  # the fast case
        assert seen.duplicates_among(["okta\x1fc", "okta\x1fa", "", "okta\x1fc", ""]) == {1, 3}
        assert seen.is_duplicate({"uuid": "b"}, "okta") and not seen.is_duplicate({"uuid": "d"}, "okta")
        assert not seen.is_duplicate({"eventType": "x"}, "okta")  # no id: never a duplicate
    finally:
        seen.close()


def test_memory_stays_bounded_by_the_cap():
    """The in-memory part is capped: 20k Okta-shaped keys under a 4k cap keep under 4k keys in
    memory as strings plus the frozen ones, packed (about 21 bytes each) behind a Bloom filter."""
    tracemalloc.start()
    seen = SeenEvents(memory_ids=4_000)
    try:
        for n in range(20_000):
            seen.seen_key(f"okta\x1f{n:08x}-0000-4000-8000-000000000000")
        current, _ = tracemalloc.get_traced_memory()
        recent, spilled = len(seen.recent), seen.spilled
    finally:
        tracemalloc.stop()
        seen.close()
    assert recent < 4_000 and spilled == 20_000
    assert current < 4_000 * 200 + 20_000 * 6


def test_no_alert_id_appears_twice_when_a_window_reopens(tmp_path):
    """A match older than the rule's newest reopens a window at the same start: same alert id,
    delivered once."""
    from tokentrail.alerting.delivery import AlertGate
    from tokentrail.alerting.models import Alert

    alert = Alert("x1", "r", "t", "low", ("k",), 0.0, 1, ("e",), 0.0, 0.0)
    out: list = []
    gate = AlertGate(out.append)
    gate([alert, alert])
    gate([alert])
    assert out == [alert] and gate.repeats == 2


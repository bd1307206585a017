"""Keys a worker packs (``keybatch``) are judged exactly as the same keys sent as strings.

The parallel scan's workers pack their ranges' dedup keys and the parent calls
``SeenEvents.duplicates_in``; before, the keys crossed as JSON strings and the parent called
``duplicates_among``. Both must drop the same positions, whatever the log types, codes, widths,
repeats within a batch, hash collisions and keys taken one at a time in between.
"""

from __future__ import annotations

import dataclasses
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_dedup_exact import CANONICAL, keys_strategy

from tokentrail.engine import keyruns
from tokentrail.engine.dedup import SeenEvents
from tokentrail.engine.keybatch import pack_batch
from tokentrail.engine.keypack import MAX_CODES, UUID_BUCKET


def ops_strategy():
    """Batches (``""``: an event without a key) and single keys, drawn from a small pool so that
    keys repeat within and across them."""
    def script(pool):
        key = st.one_of(st.sampled_from(pool), st.just(""))
        return st.lists(st.one_of(st.tuples(st.just("batch"), st.lists(key, max_size=30)),
                                  st.tuples(st.just("one"), st.sampled_from(pool))), max_size=30)
    return st.lists(keys_strategy(), min_size=1, max_size=25, unique=True).flatmap(script)


@pytest.fixture
def small_runs(monkeypatch):
    monkeypatch.setattr(keyruns, "FANIN", 2)
    monkeypatch.setattr(keyruns, "MAX_MERGE", 12)


def expected_duplicates(batch: list[str], model: set[str]) -> set[int]:
    found = set()
    for n, key in enumerate(batch):
        if key and key in model:
            found.add(n)
        if key:
            model.add(key)
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops_strategy(), memory_ids=st.sampled_from([1, 2, 5, 1 << 16]))
@example(ops=[("one", "auth0\x1f" + CANONICAL), ("batch", ["okta\x1f" + CANONICAL, "auth0\x1f" + CANONICAL]),
              ("batch", ["auth0\x1f" + CANONICAL, "okta\x1f" + CANONICAL, "okta\x1f" + CANONICAL.upper()])],
         memory_ids=1 << 16)
def test_packed_batches_drop_what_string_batches_drop(ops, memory_ids, small_runs):
    packed, strings, model = SeenEvents(memory_ids), SeenEvents(memory_ids), set()
    for kind, arg in ops:
        if kind == "one":
            assert packed.seen_key(arg) == strings.seen_key(arg) == (arg in model), arg
            model.add(arg)
            continue
        expected = expected_duplicates(arg, model)
        assert strings.duplicates_among(arg) == expected, arg
        assert packed.duplicates_in(pack_batch(arg)) == expected, arg
    for key in model:  # everything taken is found again, one at a time and packed
        assert packed.seen_key(key)
    assert packed.duplicates_in(pack_batch(sorted(model))) == set(range(len(model)))
    assert packed.count == strings.count == len(model)


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.one_of(keys_strategy(), st.just("")), max_size=40))
def test_a_batch_gives_back_every_key_it_packed(keys):
    batch = pack_batch(keys)
    assert batch.size == len(keys)
    assert batch.keys() == [(n, k) for n, k in enumerate(keys) if k]
    for bucket, _, hashes, _ in batch.buckets:  # each bucket sorted by hash, as runs are stored
        h = np.frombuffer(hashes, np.uint32)
        assert np.all(h[1:] >= h[:-1]), bucket


def test_the_workers_codes_are_mapped_to_the_filters():
    """The parent coded auth0 first; a worker's batch codes okta first: the same key is found."""
    seen = SeenEvents(memory_ids=1)
    assert seen.duplicates_in(pack_batch(["auth0\x1f" + CANONICAL])) == set()
    batch = pack_batch(["okta\x1f" + CANONICAL, "auth0\x1f" + CANONICAL])
    assert batch.prefixes == (b"okta", b"auth0")
    assert seen.duplicates_in(batch) == {1}
    assert seen.frozen.codes.codes == {b"auth0": 1, b"okta": 2}
    assert seen.seen_key("okta\x1f" + CANONICAL) and not seen.seen_key("okta\x1f" + CANONICAL.upper())


def test_uuid_keys_of_log_types_past_the_filters_codes_are_kept_as_text():
    seen = SeenEvents(memory_ids=7)
    crowd = [f"t{n}\x1f{uuid.UUID(int=n, version=4)}" for n in range(MAX_CODES)]
    assert seen.duplicates_in(pack_batch(crowd)) == set()
    late = [f"late\x1f{uuid.UUID(int=n, version=4)}" for n in range(5)]
    assert seen.duplicates_in(pack_batch([late[0], *crowd[:2], late[1], late[0]])) == {1, 2, 4}
    assert b"late" not in seen.frozen.codes.codes and set(seen.frozen.runs) > {UUID_BUCKET}
    assert seen.seen_key(late[1]) and not seen.seen_key(late[2])
    assert seen.duplicates_in(pack_batch(late)) == {0, 1, 2}


def test_a_batch_of_more_log_types_than_codes_travels_as_strings():
    keys = [f"t{n}\x1f{uuid.UUID(int=n, version=4)}" for n in range(300)]
    batch = pack_batch(["", *keys, keys[3]])
    assert not batch.buckets and [n for n, _ in batch.others] == list(range(1, 302))
    seen = SeenEvents()
    assert seen.duplicates_in(batch) == {301}
    assert seen.duplicates_in(pack_batch(keys[:10])) == set(range(10))


def test_a_batch_hashed_by_another_process_is_read_as_strings():
    """A worker that hashed differently (not forked from the parent) still gets exact answers."""
    keys = [f"okta\x1f{uuid.UUID(int=n, version=4)}" for n in range(50)] + ["auth0\x1fabc"]
    seen = SeenEvents()
    assert seen.duplicates_in(pack_batch(keys[:20])) == set()
    batch = pack_batch(keys)
    scrambled = dataclasses.replace(batch, probe=batch.probe + 1, buckets=tuple(
        (b, pos, np.zeros(len(pos) // 4, np.uint32).tobytes(), vals) for b, pos, _, vals in batch.buckets))
    assert seen.duplicates_in(scrambled) == set(range(20))
    assert seen.duplicates_in(pack_batch(keys)) == set(range(len(keys)))


def test_packed_keys_with_equal_hashes_are_told_apart(monkeypatch, small_runs):
    real_hash = hash
    monkeypatch.setattr("builtins.hash", lambda obj: 0 if isinstance(obj, str) else real_hash(obj))
    keys = [f"okta\x1f{uuid.UUID(int=n, version=4)}" for n in range(30)] + ["okta\x1fa", "okta\x1fa\x00"]
    seen = SeenEvents(memory_ids=3)
    assert seen.duplicates_in(pack_batch(keys[:10] + keys[:3] + ["okta\x1fa", "okta\x1fa\x00", "okta\x1fa"])) == {
        10, 11, 12, 15}
    assert not any(seen.seen_key(k) for k in keys[10:30])
    assert seen.duplicates_in(pack_batch(keys)) == set(range(len(keys)))


@settings(max_examples=100, deadline=None)
@given(h=st.lists(st.integers(0, (1 << 32) - 1), max_size=300), bits=st.sampled_from([1 << 13, 1 << 16]))
def test_the_bloom_filter_keeps_every_hash_added_in_one_call(h, bits):
    """Hashes sharing a byte of the filter in one call (lost writes of a fancy |=) all stay."""
    bloom = keyruns.Bloom32(bits)
    arr = np.asarray(h + [x ^ 1 for x in h], np.uint32)  # neighbours: the same byte, other bits
    bloom.add_many(arr)
    assert bloom.may_hold_many(arr).all()
    assert all(bloom.may_hold(int(x)) for x in arr)


@settings(max_examples=100, deadline=None)
@given(runs=st.lists(st.lists(st.tuples(st.integers(0, 20), st.binary(min_size=1, max_size=17)), max_size=30),
                     min_size=1, max_size=6))
def test_a_merge_keeps_every_pair_sorted_by_hash(runs):
    arrays = []
    for run in runs:
        run = sorted(run, key=lambda pair: pair[0])
        arrays.append((np.asarray([h for h, _ in run], np.uint32), np.asarray([v for _, v in run], "S17")))
    h, v = keyruns._merge(arrays)
    assert np.all(h[1:] >= h[:-1])
    assert sorted(zip(h.tolist(), v.tolist(), strict=True)) == sorted(
        (hh, vv) for rh, rv in arrays for hh, vv in zip(rh.tolist(), rv.tolist(), strict=True))


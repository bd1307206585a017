"""The duplicate filter answers as a plain set of keys would, across batches, runs and freezes.

Keys here are full dedup keys (``log type \\x1f id``). Tiny ``memory_ids`` make keys taken one at
a time freeze every few keys; ``FANIN`` and ``MAX_MERGE`` are made small too, so runs merge, and
stop merging, within a short example.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tokentrail.engine import keyruns
from tokentrail.engine.dedup import SeenEvents
from tokentrail.engine.keypack import (
    ABSENT,
    TEXT_WIDTHS,
    UNPACKED,
    UUID_BUCKET,
    PrefixCodes,
    pack_many,
    pack_one,
)

CANONICAL = "0f8fad5b-d9cb-469f-a165-70867728950e"
IDS = [
    CANONICAL, CANONICAL.upper(), "0F8FAD5B-d9cb-469f-a165-70867728950e",  # case: different ids
    "0f8fad5b-d9cb-469f-a165-70867728950f", "0f8fad5bd9cb469fa16570867728950e",  # no hyphens
    "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffff00",  # NUL bytes
    "a", "a\x00", "a\x00\x00", "\x00", "\x00a", "é", "e\u0301", "😀", "\udcff",  # NULs, unicode
    "x" * 15, "x" * 16, "x" * 17, "y" * 240, "y" * 250, "z" * 300, "z" * 301,  # widths, too long
    "{" + CANONICAL + "}", CANONICAL + " ", " " + CANONICAL, CANONICAL[:-1] + "g",
]
LOG_TYPES = ["okta", "auth0", "salesforce", "x" * 32, "x" * 33, "é", "okta\x1fokta"]


def keys_strategy():
    ident = st.one_of(st.sampled_from(IDS), st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()),
                      st.text(max_size=40), st.text(min_size=200, max_size=300))
    return st.builds(lambda lt, i: f"{lt}\x1f{i}", st.sampled_from(LOG_TYPES), ident)


def ops_strategy():
    """A script of batches (``duplicates_among``, ``""`` for no id) and single keys (``seen_key``),
    drawing often from a small pool so that keys repeat within and across them."""
    def script(pool):
        key = st.one_of(st.sampled_from(pool), st.just(""))
        return st.lists(st.one_of(st.tuples(st.just("batch"), st.lists(key, max_size=30)),
                                  st.tuples(st.just("one"), st.sampled_from(pool))), max_size=40)
    return st.lists(keys_strategy(), min_size=1, max_size=25, unique=True).flatmap(script)


@pytest.fixture
def small_runs(monkeypatch):
    monkeypatch.setattr(keyruns, "FANIN", 2)
    monkeypatch.setattr(keyruns, "MAX_MERGE", 12)


def run_script(ops, memory_ids: int) -> None:
    seen, model = SeenEvents(memory_ids=memory_ids), set()
    for kind, arg in ops:
        if kind == "one":
            assert seen.seen_key(arg) == (arg in model), arg
            model.add(arg)
            continue
        expected = set()
        for n, key in enumerate(arg):
            if key and key in model:
                expected.add(n)
            model.add(key)
        model.discard("")
        assert seen.duplicates_among(arg) == expected, arg
    for key in model:  # everything taken is found again, one at a time and as a batch
        assert seen.seen_key(key)
    assert seen.duplicates_among(sorted(model)) == set(range(len(model)))


# The fixture only sets constants: the same for every example.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops_strategy(), memory_ids=st.sampled_from([1, 2, 3, 5, 1 << 16]))
@example(ops=[("batch", ["okta\x1f" + CANONICAL, "okta\x1f" + CANONICAL.upper(), "okta\x1f" + CANONICAL]),
              ("one", "okta\x1f" + CANONICAL.upper())], memory_ids=1)
@example(ops=[("batch", ["a\x1fa"]), ("batch", ["a\x1fa\x00", "a\x1fa\x00\x00"]), ("one", "a\x1fa\x00")], memory_ids=1)
def test_the_filter_answers_as_a_set_does(ops, memory_ids, small_runs):
    run_script(ops, memory_ids)


def test_a_canonical_uuid_and_its_upper_case_form_are_different_events(small_runs):
    seen = SeenEvents(memory_ids=1)
    lower, upper = "okta\x1f" + CANONICAL, "okta\x1f" + CANONICAL.upper()
    assert seen.duplicates_among([lower]) == set()
    assert seen.duplicates_among([upper, lower]) == {1}
    assert seen.frozen.runs.keys() >= {UUID_BUCKET}  # the lower one packed as 16 bytes
    assert not seen.seen_key("auth0\x1f" + CANONICAL)  # same id, other log type
    assert seen.seen_key("okta\x1f" + CANONICAL)


def test_many_freezes_merge_into_few_runs_and_still_find_every_key():
    seen = SeenEvents(memory_ids=1000)
    keys = [f"okta\x1f{uuid.UUID(int=n * 7919 + 1, version=4)}" for n in range(40_000)]
    for start in range(0, len(keys), 3000):
        assert seen.duplicates_among(keys[start:start + 3000]) == set()
    for key in keys[:5000]:
        assert not seen.seen_key(key + "x")  # text keys, one at a time: freezes every 1000
    runs = seen.frozen.runs[UUID_BUCKET]
    assert sum(len(h) for h, _ in runs) == 40_000 and len(runs) < 10
    assert all(np.all(h[1:] >= h[:-1]) for h, _ in runs)  # each run sorted by hash
    assert seen.duplicates_among(keys[::7]) == set(range(len(keys[::7])))
    assert all(seen.seen_key(k) for k in keys[1::997])


def test_keys_with_equal_hashes_are_told_apart(monkeypatch):
    """32-bit hashes collide; force every key onto one hash: answers stay exact."""
    monkeypatch.setattr(keyruns, "hashes32", lambda keys: np.zeros(len(keys), np.uint32))
    real_hash = hash
    monkeypatch.setattr("builtins.hash", lambda obj: 0 if isinstance(obj, str) else real_hash(obj))
    seen = SeenEvents(memory_ids=2)
    keys = [f"okta\x1f{uuid.UUID(int=n, version=4)}" for n in range(50)] + ["okta\x1fa", "okta\x1fa\x00"]
    assert seen.duplicates_among(keys[:20] + keys[:3]) == set(range(20, 23))
    assert not any(seen.seen_key(k) for k in keys[20:])
    assert seen.duplicates_among(keys) == set(range(len(keys)))
    assert seen.duplicates_among(["okta\x1fb", "okta\x1fb"]) == {1}


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(keys_strategy(), max_size=30))
@example(keys=["okta\x1f" + CANONICAL, "okta\x1f" + CANONICAL.upper(), "é\x1f" + CANONICAL, "\x1f" + CANONICAL])
def test_packing_a_batch_packs_each_key_alike_and_one_to_one(keys):
    codes = PrefixCodes()
    packed = pack_many(keys, codes, assign=True)
    where = {}
    for bucket, (positions, values) in packed.buckets.items():
        for pos, value in zip(positions.tolist(), values.tolist(), strict=True):
            where[pos] = (bucket, value)
    for n, key in enumerate(keys):
        bucket, value = pack_one(key, codes)
        if bucket == UNPACKED:
            assert n in packed.others and (not key or len(key.encode("utf-8", "surrogatepass")) > TEXT_WIDTHS[-1])
        else:
            assert bucket != ABSENT and where[n] == (bucket, value.rstrip(b"\0"))
    distinct = {(b, v) for b, v in where.values()}
    assert len(distinct) == len({keys[n] for n in where})  # different keys never pack alike


def test_uuid_keys_pack_into_17_bytes():
    codes = PrefixCodes()
    bucket, value = pack_one("okta\x1f" + CANONICAL, codes, assign=True)
    assert bucket == UUID_BUCKET and value == b"\x01" + uuid.UUID(CANONICAL).bytes
    assert pack_one("auth0\x1f" + CANONICAL, codes) == (ABSENT, b"")  # no auth0 UUID key stored yet
    assert pack_one("okta\x1f" + CANONICAL.upper(), codes)[0] != UUID_BUCKET


def test_past_255_log_types_uuid_keys_are_text_and_still_found():
    """Log-type codes are one byte: the 256th log type's UUID keys pack as text, before and after."""
    seen = SeenEvents(memory_ids=7)
    keys = [f"t{n}\x1f{uuid.UUID(int=n, version=4)}" for n in range(300)]
    assert seen.duplicates_among(keys[:150]) == set()
    assert not any(seen.seen_key(k) for k in keys[150:])  # frozen every 7: codes run out here
    assert len(seen.frozen.codes.codes) == 255 and set(seen.frozen.runs) > {UUID_BUCKET}
    assert seen.duplicates_among(keys) == set(range(300))
    assert all(seen.seen_key(k) for k in keys)
    assert not seen.seen_key("t299\x1f" + CANONICAL)

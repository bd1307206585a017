"""The duplicate filter counts what it allocates: a store of keys (its merges of runs, its Bloom
filter rebuilt) never takes more, for a while, than ``working_nbytes`` said beforehand.

Allocations are measured with ``tracemalloc`` (numpy reports its arrays' buffers to it).
"""

from __future__ import annotations

import tracemalloc
import uuid

import numpy as np
import pytest

from tokentrail.engine.dedup import SeenEvents
from tokentrail.engine.keyruns import FrozenKeys, _merge, merge_nbytes

BATCH_SLACK = 400  # bytes per key of the batch being stored: its hashes, packing and sorts


def okta_keys(start: int, count: int, suffixed: bool = False) -> list[str]:
    """Distinct Okta dedup keys: canonical UUIDs, or ``<uuid>-0`` (no UUID: packed as text)."""
    tail = "-0" if suffixed else ""
    return [f"okta\x1f{uuid.UUID(int=(n * 2654435761) % (1 << 128), version=4)}{tail}"
            for n in range(start, start + count)]


def peak_of(action) -> int:
    """The most bytes allocated by ``action()`` at once beyond what was allocated before it."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def runs_of(sizes: list[int], width: int, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(np.sort(rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)),
             rng.integers(0, 256, (n, width), dtype=np.uint8).view(f"S{width}").ravel()) for n in sizes]


@pytest.mark.parametrize(("sizes", "width"), [
    ([50_000] * 4, 17),
    ([1, 1, 1, 200_000], 17),  # one run far larger than the rest: its gathered values dominate
    ([140_000, 20_000, 20_000, 20_000], 49),
])
def test_a_merge_takes_at_most_what_is_counted_for_it(sizes, width):
    runs = runs_of(sizes, width)
    peak = peak_of(lambda: _merge(runs))
    counted = merge_nbytes(sum(sizes), width)
    assert peak <= counted
    assert peak > counted / 3  # the count is a bound, not a guess many times too large


def test_merged_runs_keep_every_key_sorted_by_hash():
    runs = runs_of([300, 7, 1_000, 64], 17)
    h, v = _merge(runs)
    assert np.all(h[1:] >= h[:-1])
    assert sorted(zip(h.tolist(), v.tolist(), strict=True)) == \
        sorted(pair for rh, rv in runs for pair in zip(rh.tolist(), rv.tolist(), strict=True))


def test_a_rebuilt_bloom_filter_takes_at_most_what_is_counted_for_it():
    frozen = FrozenKeys()
    keys = okta_keys(0, 300_000)
    at = 0
    while frozen.count + 1_000 <= frozen.bloom.capacity or frozen.count < 100_000:
        frozen.add(keys[at:at + 1_000])
        at += 1_000
    left = frozen.bloom.capacity - frozen.count
    frozen.add(keys[at:at + left])  # full to the last key it has room for
    at += left
    old_bits = frozen.bloom.bits
    counted = frozen.working_nbytes()
    peak = peak_of(lambda: frozen.add(keys[at:at + 10]))
    assert frozen.bloom.bits > old_bits  # rebuilt
    assert peak <= counted + 10 * BATCH_SLACK
    assert peak > len(frozen.bloom.array)


@pytest.mark.parametrize("suffixed", [False, True])
def test_no_store_of_keys_takes_more_than_the_filter_said(suffixed):
    """Batches of keys stored one after the other, through merges and Bloom rebuilds: each
    store's peak is within the working bytes counted before it (plus its batch's own)."""
    seen = SeenEvents()
    batch = 20_000
    for n in range(0, 400_000, batch):
        keys = okta_keys(n, batch, suffixed)
        counted = seen.frozen.working_nbytes()
        peak = peak_of(lambda keys=keys: seen.duplicates_among(keys))
        assert peak <= counted + batch * BATCH_SLACK, n
    assert seen.count == 400_000
    assert seen.nbytes >= seen.frozen.nbytes() + seen.frozen.working_nbytes()

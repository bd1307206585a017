"""Frozen dedup keys: sorted runs of packed keys, by bucket, behind one Bloom filter.

A run holds the low 32 bits of each key's ``hash()`` (sorted) and the packed key beside it
(``tokentrail.engine.keypack``): a lookup finds the hash by binary search and then compares the
packed bytes, so a hash collision costs a comparison, never a wrong answer. Runs merge, LSM
style, while the newer one is at least half the size of the one before it (each run then more
than twice the next: a few runs per bucket), up to ``MAX_MERGE`` keys: bigger ones stay as
they are, so a merge never holds more than two of those at once. The Bloom filter (two probes
from the same 32 bits, 16 to 48 bits per key) answers most lookups of new keys without a search.

The hashes are Python's, salted per process: runs live in one process, for one scan.
"""

from __future__ import annotations

import numpy as np

from tokentrail.engine.keypack import ABSENT, UNPACKED, PrefixCodes, pack_many, pack_one

MAX_MERGE = 1 << 20
_MASK32 = 0xFFFFFFFF
_MIX = 0x45D9F3B
_BITS_PER_KEY = 16  # the least: the filter is rebuilt before it holds more
_REBUILD_BITS = 24  # bits per key right after a rebuild (rounded up to a power of two)


def hashes32(keys: list[str]) -> np.ndarray:
    """The low 32 bits of each key's ``hash()``."""
    return (np.fromiter(map(hash, keys), np.int64, len(keys)) & _MASK32).astype(np.uint32)


class Bloom32:
    """A Bloom filter over 32-bit hashes: probes ``h`` and ``mix(h)`` modulo a power of two."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.capacity = bits // _BITS_PER_KEY
        self.mask = bits - 1
        self.array = bytearray(bits // 8)
        self._view = np.frombuffer(self.array, np.uint8)

    @classmethod
    def for_keys(cls, count: int) -> Bloom32:
        """An empty filter with room for ``count`` keys and some more."""
        bits = 1 << 13
        while bits < min(count * _REBUILD_BITS, 1 << 32):
            bits <<= 1
        return cls(bits)

    def _probes(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = np.uint32(self.mask)
        mixed = (h ^ (h >> np.uint32(16))) * np.uint32(_MIX)  # uint32 arithmetic wraps
        return h & mask, mixed & mask

    def add_many(self, h: np.ndarray) -> None:
        """Record the hashes ``h`` (uint32)."""
        for i in self._probes(h):
            np.bitwise_or.at(self._view, i >> 3, np.left_shift(1, i & 7).astype(np.uint8))

    def may_hold_many(self, h: np.ndarray) -> np.ndarray:
        """For each hash, False when it was never recorded (True: it may have been)."""
        view = self._view
        i1, i2 = self._probes(h)
        return ((view[i1 >> 3] >> (i1 & 7)) & (view[i2 >> 3] >> (i2 & 7)) & 1).astype(bool)

    def may_hold(self, h: int) -> bool:
        """``may_hold_many`` of one hash, in Python."""
        i2 = (((h ^ (h >> 16)) * _MIX) & _MASK32) & self.mask
        i1 = h & self.mask
        array = self.array
        return bool(array[i1 >> 3] >> (i1 & 7) & array[i2 >> 3] >> (i2 & 7) & 1)


class FrozenKeys:
    """Keys out of the recent set: exact, compact, read by batch or one at a time."""

    def __init__(self) -> None:
        self.codes = PrefixCodes()
        self.runs: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.unpacked: set[str] = set()  # empty keys and keys too long for any width class
        self.count = 0
        self.bloom = Bloom32.for_keys(0)

    def add(self, keys: list[str]) -> None:
        """Freeze ``keys``: distinct, and none of them frozen before."""
        h = hashes32(keys)
        packed = pack_many(keys, self.codes, assign=True)
        for bucket, (pos, vals) in packed.buckets.items():
            hb = h[pos]
            order = np.argsort(hb, kind="stable")
            self._add_run(bucket, hb[order], vals[order])
        self.unpacked.update(keys[i] for i in packed.others)
        self.count += len(keys)
        if self.count > self.bloom.capacity:
            self.bloom = Bloom32.for_keys(self.count)
            for runs in self.runs.values():
                for rh, _ in runs:
                    self.bloom.add_many(rh)
        else:
            self.bloom.add_many(h)

    def _add_run(self, bucket: int, h: np.ndarray, vals: np.ndarray) -> None:
        runs = self.runs.setdefault(bucket, [])
        while runs and len(runs[-1][0]) <= 2 * len(h) and len(runs[-1][0]) + len(h) <= MAX_MERGE:
            oh, ov = runs.pop()
            h, vals = _merge(oh, ov, h, vals)
        runs.append((h, vals))

    def among(self, keys: list[str]) -> list[bool] | None:
        """For each key, whether it is frozen; None when none is."""
        n = len(keys)
        if not n:
            return None
        maybe = np.flatnonzero(self.bloom.may_hold_many(hashes32(keys))) if self.count else np.empty(0, np.int64)
        found = np.zeros(n, bool)
        hit = False
        if maybe.size:
            sub = [keys[i] for i in maybe]
            got = self._find_many(sub)
            if got.any():
                found[maybe[got]] = True
                hit = True
        if self.unpacked and not self.unpacked.isdisjoint(keys):
            for i, key in enumerate(keys):
                if key in self.unpacked:
                    found[i] = hit = True
        return found.tolist() if hit else None

    def _find_many(self, keys: list[str]) -> np.ndarray:
        h = hashes32(keys)
        found = np.zeros(len(keys), bool)
        for bucket, (pos, vals) in pack_many(keys, self.codes).buckets.items():
            qh = h[pos]
            for rh, rv in self.runs.get(bucket, ()):
                lo = np.searchsorted(rh, qh, "left")
                hi = np.searchsorted(rh, qh, "right")
                one = np.flatnonzero(hi - lo == 1)
                if one.size:
                    found[pos[one]] |= rv[lo[one]] == vals[one]
                for i in np.flatnonzero(hi - lo > 1).tolist():  # 32-bit hash collisions
                    if (rv[lo[i]:hi[i]] == vals[i]).any():
                        found[pos[i]] = True
        return found

    def holds(self, key: str) -> bool:
        """Whether ``key`` is frozen (one key, in Python where numpy would cost more)."""
        if not self.count:
            return False
        if key in self.unpacked:
            return True
        h = hash(key) & _MASK32
        if not self.bloom.may_hold(h):
            return False
        bucket, packed = pack_one(key, self.codes)
        if bucket in (UNPACKED, ABSENT):
            return False
        packed = packed.rstrip(b"\0")  # numpy gives S items without their NUL padding
        for rh, rv in self.runs.get(bucket, ()):
            i = int(np.searchsorted(rh, h))
            while i < len(rh) and rh[i] == h:
                if rv[i] == packed:
                    return True
                i += 1
        return False

    def nbytes(self) -> int:
        """The bytes of the runs and the Bloom filter (not of the unpacked keys' strings)."""
        runs = sum(rh.nbytes + rv.nbytes for runs in self.runs.values() for rh, rv in runs)
        return runs + len(self.bloom.array)


def _merge(ah: np.ndarray, av: np.ndarray, bh: np.ndarray, bv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two runs as one, sorted by hash, in linear time (the newer keys after equal hashes)."""
    pos = np.searchsorted(ah, bh, "right") + np.arange(len(bh))
    old = np.ones(len(ah) + len(bh), bool)
    old[pos] = False
    h = np.empty(old.size, ah.dtype)
    v = np.empty(old.size, av.dtype)
    h[old], v[old] = ah, av
    h[pos], v[pos] = bh, bv
    return h, v

"""Frozen dedup keys: sorted runs of packed keys, by bucket, behind one Bloom filter.

A run holds the low 32 bits of each key's ``hash()`` (sorted) and the packed key beside it
(``tokentrail.engine.keypack``): a lookup finds the hash by binary search and then compares the
packed bytes, so a hash collision costs a comparison, never a wrong answer. A batch of keys
(``take_batch``: a worker's result) becomes a run at once, its strings never kept; runs merge
size-tiered, LSM style: ``FANIN`` runs of one size class (powers of ``FANIN``) merge into one
of the next, so a key is merged a few times and a bucket has a few runs per class. A merge never
makes a run of more than ``MAX_MERGE`` keys or an eighth of all keys, whichever is more: its
copies (about 50 bytes per key merged) stay a small part of the whole, and the largest runs
are about eight to sixteen. The
Bloom filter (two probes from the same 32 bits, 16 to 48 bits per key) answers most lookups of
new keys without a search.

The hashes are Python's, salted per process: runs live in one process, for one scan.
"""

from __future__ import annotations

import math

import numpy as np

from tokentrail.engine.keypack import ABSENT, UNPACKED, PrefixCodes, pack_many, pack_one

MAX_MERGE = 1 << 18  # keys a merge may make, or an eighth of all keys when that is more
FANIN = 8
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
        """``may_hold_many`` of one hash, in Python: most new keys miss at the first probe."""
        mask, array = self.mask, self.array
        i = h & mask
        if not array[i >> 3] >> (i & 7) & 1:
            return False
        i = ((h ^ (h >> 16)) * _MIX) & mask  # the mask keeps 32 bits at most, as uint32 does
        return bool(array[i >> 3] >> (i & 7) & 1)


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
        self._store(keys, hashes32(keys))

    def take_batch(self, keys: list[str], recent: set[str]) -> list[int]:
        """The positions in ``keys`` (all non-empty) of keys frozen, in ``recent``, or earlier in
        the batch; the others are frozen, as one new run."""
        n = len(keys)
        if not n:
            return []
        h = hashes32(keys)
        dup = np.zeros(n, bool)
        sorted_h = np.sort(h)
        if (sorted_h[1:] == sorted_h[:-1]).any():  # equal hashes: maybe equal keys
            _mark_repeats(keys, h, dup)
        if recent and not recent.isdisjoint(keys):
            dup |= np.fromiter((k in recent for k in keys), bool, n)
        if self.count:
            maybe = np.flatnonzero(self.bloom.may_hold_many(h) & ~dup)
            if maybe.size:
                found = self._find_many([keys[i] for i in maybe], h[maybe])
                dup[maybe[found]] = True
            if self.unpacked and not self.unpacked.isdisjoint(keys):
                dup |= np.fromiter((k in self.unpacked for k in keys), bool, n)
        if not dup.any():
            self._store(keys, h)
            return []
        new = np.flatnonzero(~dup)
        if new.size:
            self._store([keys[i] for i in new], h[new])
        return np.flatnonzero(dup).tolist()

    def _store(self, keys: list[str], h: np.ndarray) -> None:
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
        runs.append((h, vals))
        while True:
            # The newest runs of the last one's size class or smaller: merged when FANIN.
            top = _size_class(len(runs[-1][0]))
            k = 1
            while k < len(runs) and _size_class(len(runs[-1 - k][0])) <= top:
                k += 1
            if k < FANIN or sum(len(r[0]) for r in runs[-k:]) > max(MAX_MERGE, self.count // 8):
                return
            merged = _merge(runs[-k:])
            del runs[-k:]
            runs.append(merged)

    def _find_many(self, keys: list[str], h: np.ndarray) -> np.ndarray:
        """For each key (``h``: their hashes), whether it is frozen. A frozen key is in one run
        only: the largest runs are searched first, and a key found is not searched again."""
        found = np.zeros(len(keys), bool)
        for bucket, (pos, vals) in pack_many(keys, self.codes).buckets.items():
            runs = sorted(self.runs.get(bucket, ()), key=lambda run: -len(run[0]))
            order = np.argsort(h[pos])  # searches in ascending order touch fewer cache lines
            pos, vals = pos[order], vals[order]
            qh = h[pos]
            for rh, rv in runs:
                at = np.minimum(np.searchsorted(rh, qh), len(rh) - 1)
                same = rh[at] == qh
                if not same.any():
                    continue
                hit = same & (rv[at] == vals)
                # A 32-bit hash collision: more keys of this hash follow in the run.
                after = np.minimum(at + 1, len(rh) - 1)
                for i in np.flatnonzero(same & ~hit & (after > at) & (rh[after] == qh)).tolist():
                    end = int(np.searchsorted(rh, qh[i], "right"))
                    hit[i] = bool((rv[at[i]:end] == vals[i]).any())
                if hit.any():
                    found[pos[hit]] = True
                    keep = ~hit
                    pos, vals, qh = pos[keep], vals[keep], qh[keep]
                    if not pos.size:
                        break
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
        h32 = np.uint32(h)  # a Python int would make numpy convert the whole run
        for rh, rv in self.runs.get(bucket, ()):
            i = int(rh.searchsorted(h32))
            while i < len(rh) and rh[i] == h32:
                if rv[i] == packed:
                    return True
                i += 1
        return False

    def nbytes(self) -> int:
        """The bytes of the runs and the Bloom filter (not of the unpacked keys' strings)."""
        runs = sum(rh.nbytes + rv.nbytes for runs in self.runs.values() for rh, rv in runs)
        return runs + len(self.bloom.array)


def _size_class(size: int) -> int:
    return int(math.log(max(size, 1), FANIN))


def _merge(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Runs as one, sorted by hash (a stable sort of sorted pieces: their merge)."""
    h = np.concatenate([r[0] for r in runs])
    order = np.argsort(h, kind="stable")
    return h[order], np.concatenate([r[1] for r in runs])[order]


def _mark_repeats(keys: list[str], h: np.ndarray, dup: np.ndarray) -> None:
    """Mark in ``dup`` each key equal to one before it in ``keys``, among keys of equal hashes."""
    order = np.argsort(h, kind="stable")  # stable: within one hash, in batch order
    hs = h[order]
    same = np.flatnonzero(hs[1:] == hs[:-1])
    starts = same[np.concatenate(([True], same[1:] != same[:-1] + 1))]
    for start in starts.tolist():
        end = start + 1
        while end < len(hs) and hs[end] == hs[start]:
            end += 1
        firsts: set[str] = set()
        for i in order[start:end].tolist():
            if keys[i] in firsts:
                dup[i] = True
            else:
                firsts.add(keys[i])

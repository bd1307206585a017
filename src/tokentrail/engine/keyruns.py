"""Frozen dedup keys: sorted runs of packed keys, by bucket, behind one Bloom filter.

A run holds the low 32 bits of each key's ``hash()`` (sorted) and the packed key beside it
(``tokentrail.engine.keypack``): a lookup finds the hash by binary search and then compares the
packed bytes, so a hash collision costs a comparison, never a wrong answer. A batch of keys
becomes a run at once, its strings never kept: ``take_batch`` for strings, ``take_packed`` for
a parallel scan worker's keys, which the worker packed, hashed and sorted (``keybatch``). Runs
merge size-tiered, LSM style: ``FANIN`` runs of one size class (powers of ``FANIN``) merge into
one of the next, so a key is merged a few times and a bucket has a few runs per class. A merge
never makes a run of more than ``MAX_MERGE`` keys or an eighth of all keys, whichever is more,
and holds about 12 bytes per key merged besides its output: merges stay a small part of the
scan's memory (at a million Okta keys, runs of 4,000 to 64,000 keys, about 16 of them). The
Bloom filter (two probes from the same 32 bits, 16 to 48 bits per key) answers most lookups of
new keys without a search.

The hashes are Python's, salted per process: runs live in one process, for one scan (a forked
worker hashes as its parent does).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from tokentrail.engine.keybatch import HASH_PROBE, KeyBatch, hashes32, unpack
from tokentrail.engine.keypack import (
    ABSENT,
    UNPACKED,
    UUID_BUCKET,
    PrefixCodes,
    bucket_dtype,
    pack_many,
    pack_one,
)

MAX_MERGE = 1 << 17  # keys a merge may make, or an eighth of all keys when that is more
FANIN = 4
_MASK32 = 0xFFFFFFFF
_SHIFT = np.uint64(32)
_MIX = 0x45D9F3B
_BITS_PER_KEY = 16  # the least: the filter is rebuilt before it holds more
_REBUILD_BITS = 24  # bits per key right after a rebuild (rounded up to a power of two)
# Bytes per key of a run that a rebuilt filter's ``add_many`` holds while it records the run:
# the two probes and their mix (uint32), the byte places and bits, the lost-bit masks.
_PROBE_BYTES = 40


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
        return cls(bloom_bits(count))

    def _probes(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = np.uint32(self.mask)
        mixed = (h ^ (h >> np.uint32(16))) * np.uint32(_MIX)  # uint32 arithmetic wraps
        return h & mask, mixed & mask

    def add_many(self, h: np.ndarray) -> None:
        """Record the hashes ``h`` (uint32)."""
        view = self._view
        for i in self._probes(h):
            at, bit = i >> 3, np.left_shift(np.uint8(1), (i & 7).astype(np.uint8))
            # A fancy-indexed |= keeps one write per repeated byte; write the lost bits again
            # (a few rounds at most: several times faster than ufunc.at).
            while at.size:
                view[at] |= bit
                lost = (view[at] & bit) == 0
                if not lost.any():
                    break
                at, bit = at[lost], bit[lost]

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

    def take_packed(self, batch: KeyBatch) -> list[int]:
        """``take_batch`` of a worker's packed keys (``keybatch``), by position: the positions of
        keys frozen before or earlier in the batch, in order; the others are frozen. Keys taken
        one at a time must be frozen first (a packed key is never compared with a string)."""
        if batch.probe != hash(HASH_PROBE):  # hashed by another process: read back as strings
            return self._take_strings(batch.keys())
        table = np.zeros(256, np.uint8)
        lost: list[int] = []  # worker codes of log types this filter has no code for
        for n, prefix in enumerate(batch.prefixes, 1):
            code = self.codes.code(prefix, assign=True)
            if code is None:
                lost.append(n)
            else:
                table[n] = code
        strings = list(batch.others)
        checked: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for entry in batch.buckets:
            pos, h, vals = batch.arrays(*entry)
            bucket = entry[0]
            if bucket == UUID_BUCKET:
                pos, h, vals = self._recode(batch, table, lost, pos, h, vals, strings)
            checked.append((bucket, pos, h, vals, self._known(bucket, h, vals)))
        dups: list[np.ndarray] = []
        new_keys = 0
        for bucket, pos, h, vals, dup in checked:
            new = ~dup
            if new.all():
                self._add_run(bucket, h, vals)  # sorted by hash already
            elif new.any():
                self._add_run(bucket, h[new], vals[new])
            new_keys += int(new.sum())
            dups.append(pos[dup])
        self._count_new(new_keys, [h for _, _, h, _, _ in checked])
        found = np.concatenate(dups).tolist() if dups else []
        if strings:
            found += self._take_strings(strings)
        found.sort()
        return found

    def _recode(self, batch: KeyBatch, table: np.ndarray, lost: list[int], pos: np.ndarray,
                h: np.ndarray, vals: np.ndarray,
                strings: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """UUID keys with the worker's codes replaced by this filter's; those of log types left
        without a code are moved to ``strings`` (this filter keeps them as text)."""
        rows = vals.view(np.uint8).reshape(len(vals), 17)
        if lost:
            gone = np.isin(rows[:, 0], lost)
            if gone.any():
                strings.extend(zip(pos[gone].tolist(),
                                   (unpack(UUID_BUCKET, v, batch.prefixes) for v in vals[gone].tolist()),
                                   strict=True))
                keep = ~gone
                pos, h, vals, rows = pos[keep], h[keep], vals[keep], rows[keep]
        used = len(batch.prefixes) + 1
        if not np.array_equal(table[1:used], np.arange(1, used)):  # else the codes are the same
            rows = rows.copy()
            rows[:, 0] = table[rows[:, 0]]
            vals = rows.view("S17").ravel()
        return pos, h, vals

    def _known(self, bucket: int, h: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """For each key of one bucket, sorted by hash with equal hashes in batch order: whether
        it is frozen or equal to one before it in the batch."""
        dup = np.zeros(len(h), bool)
        if len(h) > 1 and (h[1:] == h[:-1]).any():
            _mark_packed_repeats(h, vals, dup)
        if self.count:
            maybe = np.flatnonzero(self.bloom.may_hold_many(h) & ~dup)
            if maybe.size:
                dup[maybe[self._search(bucket, h[maybe], vals[maybe])]] = True
        return dup

    def _take_strings(self, keyed: list[tuple[int, str]]) -> list[int]:
        """``take_batch`` of ``(position, key)`` pairs, by position."""
        found = self.take_batch([k for _, k in keyed], set())
        return [keyed[i][0] for i in found]

    def _store(self, keys: list[str], h: np.ndarray) -> None:
        packed = pack_many(keys, self.codes, assign=True)
        for bucket, (pos, vals) in packed.buckets.items():
            hb = h[pos]
            order = np.argsort(hb, kind="stable")
            self._add_run(bucket, hb[order], vals[order])
        self.unpacked.update(keys[i] for i in packed.others)
        self._count_new(len(keys), [h])

    def _count_new(self, n: int, hashes: list[np.ndarray]) -> None:
        """Count ``n`` keys just stored and keep the Bloom filter covering every frozen key;
        ``hashes`` holds theirs, and may hold those of keys frozen before (the same bits)."""
        self.count += n
        if self.count > self.bloom.capacity:
            self.bloom = Bloom32.for_keys(self.count)
            for runs in self.runs.values():
                for rh, _ in runs:
                    self.bloom.add_many(rh)
        else:
            for h in hashes:
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
            order = np.argsort(h[pos])  # searches in ascending order touch fewer cache lines
            pos = pos[order]
            found[pos[self._search(bucket, h[pos], vals[order])]] = True
        return found

    def _search(self, bucket: int, qh: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """For packed keys of one bucket (``qh``: their hashes, best ascending), whether each is
        frozen. A frozen key is in one run only: the largest runs are searched first, and a key
        found is not searched again."""
        found = np.zeros(len(qh), bool)
        where = np.arange(len(qh))
        for rh, rv in sorted(self.runs.get(bucket, ()), key=lambda run: -len(run[0])):
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
                found[where[hit]] = True
                keep = ~hit
                where, vals, qh = where[keep], vals[keep], qh[keep]
                if not where.size:
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

    def working_nbytes(self) -> int:
        """The most that storing the next keys allocates beside ``nbytes`` while it runs: the
        largest merge it may make (``merge_nbytes`` of the widest bucket held) or the Bloom filter
        rebuilt beside the old one, whichever is more (one ends before the other starts)."""
        width = max((bucket_dtype(b).itemsize for b in self.runs), default=bucket_dtype(UUID_BUCKET).itemsize)
        merge = merge_nbytes(max(MAX_MERGE, self.count // 8), width)
        largest = max((len(rh) for runs in self.runs.values() for rh, _ in runs), default=0)
        rebuild = bloom_bits(self.bloom.capacity + 1) // 8 + _PROBE_BYTES * largest
        return max(merge, rebuild)


def bloom_bits(count: int) -> int:
    """The bits of a Bloom filter made for ``count`` keys: a power of two, ``_REBUILD_BITS`` a
    key or more (at most 2**32, at least 2**13)."""
    bits = 1 << 13
    while bits < min(count * _REBUILD_BITS, 1 << 32):
        bits <<= 1
    return bits


def merge_nbytes(keys: int, width: int) -> int:
    """The most ``_merge`` allocates besides its input runs to merge ``keys`` keys of ``width``
    bytes each: the (hash, place) pairs (8 a key), the output hashes (4) and values (``width``),
    three masks of one byte a key, and for the run being placed (at most all the keys) its
    places, three int64 arrays, and its values gathered (``width``)."""
    return keys * (8 + 4 + width + 3 + 24 + width)


def _size_class(size: int) -> int:
    return int(math.log(max(size, 1), FANIN))


def _merge(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Runs as one, sorted by hash. One sort of (hash, place) pairs gives the order; each run's
    values are then put in place from the run itself, so that no concatenated copy of the
    values is made (a merge holds about 12 bytes per key besides its output, not 50)."""
    n = sum(len(h) for h, _ in runs)
    both = np.empty(n, np.uint64)
    at = 0
    for h, _ in runs:
        both[at:at + len(h)] = h
        at += len(h)
    both <<= _SHIFT
    both |= np.arange(n, dtype=np.uint64)
    both.sort()  # the places make every pair distinct: which sort it is does not matter
    h_out = (both >> _SHIFT).astype(np.uint32)
    both &= np.uint64(_MASK32)  # now where each output key comes from
    v_out = np.empty(n, runs[0][1].dtype)
    at = 0
    for _, v in runs:
        taken = np.flatnonzero((both >= at) & (both < at + len(v)))
        v_out[taken] = v[both[taken] - np.uint64(at)]
        at += len(v)
    return h_out, v_out


def _equal_runs(h: np.ndarray) -> Iterator[tuple[int, int]]:
    """The ``(start, end)`` of each run of two or more equal values in the sorted ``h``."""
    same = np.flatnonzero(h[1:] == h[:-1])
    starts = same[np.concatenate(([True], same[1:] != same[:-1] + 1))]
    for start in starts.tolist():
        end = start + 1
        while end < len(h) and h[end] == h[start]:
            end += 1
        yield start, end


def _mark_packed_repeats(h: np.ndarray, vals: np.ndarray, dup: np.ndarray) -> None:
    """Mark in ``dup`` each packed key equal to one before it, among keys sorted by hash ``h``
    with equal hashes in batch order (values of one width: equal items are equal keys)."""
    for start, end in _equal_runs(h):
        firsts: set[bytes] = set()
        for value, i in zip(vals[start:end].tolist(), range(start, end), strict=True):
            if value in firsts:
                dup[i] = True
            else:
                firsts.add(value)


def _mark_repeats(keys: list[str], h: np.ndarray, dup: np.ndarray) -> None:
    """Mark in ``dup`` each key equal to one before it in ``keys``, among keys of equal hashes."""
    order = np.argsort(h, kind="stable")  # stable: within one hash, in batch order
    hs = h[order]
    for start, end in _equal_runs(hs):
        firsts: set[str] = set()
        for i in order[start:end].tolist():
            if keys[i] in firsts:
                dup[i] = True
            else:
                firsts.add(keys[i])

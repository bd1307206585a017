"""A worker's dedup keys, packed where they are read, for the parent's duplicate filter.

A parallel scan's worker reads every event's key (``log type \\x1f id``) and the parent decides,
in file order, which events were taken before (``FrozenKeys.take_packed``). Sending the keys as
strings would make the parent build, hash and pack a million Python strings per million events;
here the worker packs them (``keypack``) and hashes them, and sends flat bytes: per bucket the
keys' positions, their 32-bit hashes and their packed values, all sorted by hash (stable, so
equal hashes stay in position order). The parent then only reads arrays.

The log-type codes in a batch are the worker's own (``prefixes``); the parent maps them to its
codes. The hashes are ``hash()`` of the key strings: a forked worker hashes as its parent does,
which ``probe`` lets the parent check (a batch hashed elsewhere is read back as strings,
``KeyBatch.keys``). Keys that pack no way (longer than the widest class) travel as strings in
``others``; so do all keys of a batch whose log types ran out of one-byte codes in the worker,
which is therefore never packed differently from the parent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np

from tokentrail.engine.keypack import MAX_CODES, UUID_BUCKET, PrefixCodes, bucket_dtype, pack_many

HASH_PROBE = "tokentrail dedup hash probe"  # its hash() tells whether two processes hash alike
_MASK32 = 0xFFFFFFFF
_SHIFT = np.uint64(32)


def hashes32(keys: list[str]) -> np.ndarray:
    """The low 32 bits of each key's ``hash()``."""
    return (np.fromiter(map(hash, keys), np.int64, len(keys)) & _MASK32).astype(np.uint32)


@dataclass(frozen=True)
class KeyBatch:
    """The dedup keys of one byte range: ``size`` positions (events), some without a key.

    ``buckets``: ``(bucket, positions, hashes, values)`` — uint32 positions, uint32 hashes and
    the bucket's packed values (``keypack.bucket_dtype``), as bytes, sorted by hash (stable).
    ``prefixes``: the log types (UTF-8) of the worker's codes, code ``n`` being
    ``prefixes[n - 1]``. ``others``: ``(position, key)`` of keys sent as strings. ``probe``: the
    worker's ``hash(HASH_PROBE)``.
    """

    size: int
    prefixes: tuple[bytes, ...]
    buckets: tuple[tuple[int, bytes, bytes, bytes], ...]
    others: tuple[tuple[int, str], ...]
    probe: int

    def arrays(self, bucket: int, positions: bytes, hashes: bytes,
               values: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One entry of ``buckets`` as (read-only) numpy arrays."""
        return (np.frombuffer(positions, np.uint32), np.frombuffer(hashes, np.uint32),
                np.frombuffer(values, bucket_dtype(bucket)))

    def keys(self) -> list[tuple[int, str]]:
        """Every key of the batch as ``(position, key string)``, in position order: the strings
        the worker packed, recovered exactly (packing is one-to-one)."""
        out = list(self.others)
        for bucket, positions, hashes, values in self.buckets:
            where, _, vals = self.arrays(bucket, positions, hashes, values)
            out.extend(zip(where.tolist(), (unpack(bucket, v, self.prefixes) for v in vals.tolist()),
                           strict=True))
        out.sort()
        return out


def unpack(bucket: int, value: bytes, prefixes: tuple[bytes, ...]) -> str:
    """The key packed as ``value`` in ``bucket`` (numpy may have cut its trailing NUL bytes)."""
    if bucket == UUID_BUCKET:
        value = value.ljust(17, b"\0")
        prefix = prefixes[value[0] - 1].decode("utf-8", "surrogatepass")
        return f"{prefix}\x1f{uuid.UUID(bytes=value[1:])}"
    length = value[0]
    return value[1:].ljust(length, b"\0")[:length].decode("utf-8", "surrogatepass")


def pack_batch(keys: list[str]) -> KeyBatch:
    """Pack a range's keys, ``""`` for an event without one, in event order."""
    codes = PrefixCodes()
    packed = pack_many(keys, codes, assign=True)
    if len(codes.codes) >= MAX_CODES:  # some UUID key may have been packed as text: send strings
        return KeyBatch(len(keys), (), (), tuple((n, k) for n, k in enumerate(keys) if k), hash(HASH_PROBE))
    h = hashes32(keys)
    row = np.empty(len(keys), np.int64)  # a key's row in its bucket's values
    buckets = []
    for bucket, (positions, values) in sorted(packed.buckets.items()):
        row[positions] = np.arange(len(positions))
        # One sort of (hash, position): by hash, equal hashes in position order (a stable
        # argsort of the hashes costs several times more).
        both = np.sort((h[positions].astype(np.uint64) << _SHIFT) | positions.astype(np.uint64))
        where = (both & _MASK32).astype(np.uint32)
        buckets.append((bucket, where.tobytes(), (both >> _SHIFT).astype(np.uint32).tobytes(),
                        values[row[where]].tobytes()))
    prefixes = tuple(sorted(codes.codes, key=codes.codes.__getitem__))
    others = tuple((n, keys[n]) for n in packed.others if keys[n])
    return KeyBatch(len(keys), prefixes, tuple(buckets), others, hash(HASH_PROBE))

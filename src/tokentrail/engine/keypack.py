"""Dedup keys packed exactly into fixed-width bytes, so that millions of them fit in numpy arrays.

A key ``"{log type}\\x1f{id}"`` whose id is a canonical UUID (lowercase ``8-4-4-4-12`` hex, the
form ``str(uuid.UUID(s))`` gives; Okta ``uuid``) packs into 17 bytes: a code for the log type
(``PrefixCodes``) and the UUID's 16 bytes. Any other key packs into its UTF-8 bytes behind a
length byte, in the narrowest width class that holds it. Both forms are one-to-one: a key is
recovered from its packed bytes, so two different keys never pack alike (``ABC...`` is text,
``abc...`` a UUID; ``"a"`` and ``"a\\x00"`` differ by their length byte). numpy's ``S`` arrays
ignore trailing NUL bytes when they compare, which is harmless here: in one fixed-width array,
equal after that padding means equal bytes. Keys that are empty or longer than the widest class
do not pack (``UNPACKED``) and stay Python strings.

``pack_many`` packs a batch with numpy (no Python step per key beyond ``len``); ``pack_one``
packs a single key in Python, to exactly the same bucket and bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

UUID_BUCKET = 0
UNPACKED = -1  # empty, or too long for any width class: the caller keeps the key as a string
ABSENT = -2  # a UUID key of a log type never frozen (see ``PrefixCodes``): not in any array
TEXT_WIDTHS = (16, 24, 32, 48, 64, 96, 128, 192, 255)  # key bytes per class; bucket = 1 + index
MAX_PREFIX = 32  # log type bytes a UUID key may have; longer ones are text
_MAX_CODES = 255

_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
# In the last 37 bytes of a UUID key: the separator, the hyphens, and the 32 hex digits.
_HYPHENS = np.array([9, 14, 19, 24])
_HEX = np.array([i for i in range(1, 37) if i not in (9, 14, 19, 24)])
_SPAN = np.arange(37)


def bucket_dtype(bucket: int) -> np.dtype:
    """The numpy dtype of a bucket's packed keys."""
    return np.dtype("S17" if bucket == UUID_BUCKET else f"S{TEXT_WIDTHS[bucket - 1] + 1}")


def _text_bucket(length: int) -> int:
    for n, width in enumerate(TEXT_WIDTHS):
        if length <= width:
            return n + 1
    return UNPACKED


class PrefixCodes:
    """One byte per log type of the UUID keys. Codes are given only when keys are stored
    (``assign``), never taken back; when all 255 are given, UUID keys of other log types are
    text. So a lookup of an uncoded log type finds nothing while codes remain (``ABSENT``), and
    looks among text once they ran out, where such keys were stored."""

    def __init__(self) -> None:
        self.codes: dict[bytes, int] = {}

    def code(self, prefix: bytes, assign: bool) -> int | None:
        """The prefix's code; None when the key must be text; ``ABSENT`` when it is uncoded."""
        got = self.codes.get(prefix)
        if got is not None:
            return got
        if len(self.codes) >= _MAX_CODES:
            return None
        if not assign:
            return ABSENT
        got = self.codes[prefix] = len(self.codes) + 1
        return got


@dataclass(frozen=True)
class Packed:
    """A batch of keys by bucket: for each bucket, the keys' positions and packed values (the
    values in input order, not sorted). ``others`` are the positions of ``UNPACKED`` keys; keys
    ``ABSENT`` appear nowhere."""

    buckets: dict[int, tuple[np.ndarray, np.ndarray]]
    others: list[int]


def pack_one(key: str, codes: PrefixCodes, assign: bool = False) -> tuple[int, bytes]:
    """The bucket and packed bytes of one key (bytes are empty for ``UNPACKED`` and ``ABSENT``)."""
    if len(key) >= 38 and key[-37] == "\x1f" and _UUID_TEXT.fullmatch(key, len(key) - 36):
        prefix = key[:-37].encode("utf-8", "surrogatepass")
        if len(prefix) <= MAX_PREFIX:
            code = codes.code(prefix, assign)
            if code == ABSENT:
                return ABSENT, b""
            if code is not None:
                return UUID_BUCKET, bytes((code,)) + bytes.fromhex(key[-36:].replace("-", ""))
    raw = key.encode("utf-8", "surrogatepass")
    bucket = _text_bucket(len(raw)) if raw else UNPACKED
    return (bucket, bytes((len(raw),)) + raw) if bucket != UNPACKED else (UNPACKED, b"")


def pack_many(keys: list[str], codes: PrefixCodes, assign: bool = False) -> Packed:
    """Pack ``keys`` as ``pack_one`` does each, with array operations over the whole batch."""
    n = len(keys)
    text = "".join(keys)
    blob = text.encode("utf-8", "surrogatepass")
    if len(blob) == len(text):  # all ASCII: a key's bytes are its characters
        lengths = np.fromiter(map(len, keys), np.int64, n)
    else:
        encoded = [k.encode("utf-8", "surrogatepass") for k in keys]
        lengths = np.fromiter(map(len, encoded), np.int64, n)
    buf = np.frombuffer(blob, np.uint8)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    todo = np.ones(n, bool)
    buckets: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    cand = np.flatnonzero((lengths >= 38) & (lengths <= 37 + MAX_PREFIX))
    if cand.size:
        tail = buf[(ends[cand] - 37)[:, None] + _SPAN]
        hexes = tail[:, _HEX]
        digit = (hexes >= 48) & (hexes <= 57)
        ok = (tail[:, 0] == 0x1F) & (tail[:, _HYPHENS] == 0x2D).all(1) & (digit | ((hexes >= 97) & (hexes <= 102))).all(1)
        cand, hexes, digit = cand[ok], hexes[ok], digit[ok]
        if cand.size:
            code = _codes_of(buf, starts[cand], lengths[cand] - 37, codes, assign)
            keep = code >= 0
            todo[cand[(code != -1)]] = False  # coded, or ABSENT: not text
            cand, hexes, digit, code = cand[keep], hexes[keep], digit[keep], code[keep]
            nibble = np.where(digit, hexes - 48, hexes - 87).astype(np.uint8)
            packed = np.empty((cand.size, 17), np.uint8)
            packed[:, 0] = code
            packed[:, 1:] = (nibble[:, 0::2] << 4) | nibble[:, 1::2]
            if cand.size:
                buckets[UUID_BUCKET] = (cand, packed.view("S17").ravel())
    low = 0
    for b, width in enumerate(TEXT_WIDTHS, 1):
        sel = np.flatnonzero(todo & (lengths > low) & (lengths <= width))
        low = width
        if not sel.size:
            continue
        size = lengths[sel]
        packed = np.zeros((sel.size, width + 1), np.uint8)
        packed[:, 0] = size
        cols = np.arange(width)
        inside = cols < size[:, None]
        where = np.minimum(starts[sel][:, None] + cols, max(buf.size - 1, 0))
        packed[:, 1:] = np.where(inside, buf[where], 0)
        buckets[b] = (sel, packed.view(f"S{width + 1}").ravel())
    others = np.flatnonzero(todo & ((lengths == 0) | (lengths > TEXT_WIDTHS[-1]))).tolist()
    return Packed(buckets, others)


def _codes_of(buf: np.ndarray, starts: np.ndarray, sizes: np.ndarray, codes: PrefixCodes,
              assign: bool) -> np.ndarray:
    """Each UUID key's log type code (``ABSENT``; -1: text), from the prefix bytes."""
    cols = np.arange(MAX_PREFIX)
    rows = np.zeros((starts.size, MAX_PREFIX + 1), np.uint8)
    rows[:, 0] = sizes
    rows[:, 1:] = np.where(cols < sizes[:, None], buf[np.minimum(starts[:, None] + cols, buf.size - 1)], 0)
    if (rows == rows[0]).all():  # the usual batch: one log type
        uniq, inverse = rows[:1], np.zeros(starts.size, np.int64)
    else:
        uniq, inverse = np.unique(rows, axis=0, return_inverse=True)
    table = []
    for row in uniq:
        got = codes.code(row[1:1 + row[0]].tobytes(), assign)
        table.append(-1 if got is None else got)
    return np.asarray(table, np.int64)[inverse.ravel()]

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

import binascii
import re
from dataclasses import dataclass

import numpy as np

UUID_BUCKET = 0
UNPACKED = -1  # empty, or too long for any width class: the caller keeps the key as a string
ABSENT = -2  # a UUID key of a log type never frozen (see ``PrefixCodes``): not in any array
TEXT_WIDTHS = (16, 24, 32, 48, 64, 96, 128, 192, 255)  # key bytes per class; bucket = 1 + index
MAX_PREFIX = 32  # log type bytes a UUID key may have; longer ones are text
MAX_CODES = 255

_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
# In the last 37 bytes of a UUID key: the separator, the hyphens, and the 32 hex digits.
_HYPHENS = np.array([9, 14, 19, 24])
_HEX = np.array([i for i in range(1, 37) if i not in (9, 14, 19, 24)])
_HEX_DIGITS = b"0123456789abcdef"
_IS_HEX = np.zeros(256, bool)
_IS_HEX[np.frombuffer(_HEX_DIGITS, np.uint8)] = True


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
        if len(self.codes) >= MAX_CODES:
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
    """Pack ``keys`` as ``pack_one`` does each, with array operations over each group of keys of
    one byte length (a batch of Okta keys is one group: one matrix, no gathering)."""
    n = len(keys)
    text = "".join(keys)
    blob = text.encode("utf-8", "surrogatepass")
    encoded: list[bytes] | None = None
    if len(blob) == len(text):  # all ASCII: a key's bytes are its characters
        lengths = np.fromiter(map(len, keys), np.int64, n)
    else:
        encoded = [k.encode("utf-8", "surrogatepass") for k in keys]
        lengths = np.fromiter(map(len, encoded), np.int64, n)
    parts: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    others: list[int] = []
    sizes = np.unique(lengths).tolist()
    for size in sizes:
        if size == 0 or size > TEXT_WIDTHS[-1]:
            others.extend(np.flatnonzero(lengths == size).tolist())
            continue
        if len(sizes) == 1:
            sel, rows = np.arange(n), np.frombuffer(blob, np.uint8).reshape(n, size)
        else:
            sel = np.flatnonzero(lengths == size)
            picked = b"".join(map(encoded.__getitem__, sel)) if encoded is not None else \
                "".join(map(keys.__getitem__, sel)).encode("ascii")
            rows = np.frombuffer(picked, np.uint8).reshape(sel.size, size)
        text_rows = np.ones(sel.size, bool)
        if 38 <= size <= 37 + MAX_PREFIX:
            uuid_at, code, value, absent = _uuid_rows(rows, codes, assign)
            text_rows[uuid_at] = False
            text_rows[absent] = False
            if uuid_at.size:
                packed = np.empty((uuid_at.size, 17), np.uint8)
                packed[:, 0] = code
                packed[:, 1:] = value
                _add(parts, UUID_BUCKET, sel[uuid_at], packed.view("S17").ravel())
        if text_rows.any():
            at = np.flatnonzero(text_rows) if not text_rows.all() else slice(None)
            bucket = _text_bucket(size)
            width = TEXT_WIDTHS[bucket - 1]
            chosen = rows[at]
            packed = np.zeros((chosen.shape[0], width + 1), np.uint8)
            packed[:, 0] = size
            packed[:, 1:size + 1] = chosen
            _add(parts, bucket, sel[at], packed.view(f"S{width + 1}").ravel())
    buckets = {b: (np.concatenate(p) if len(p) > 1 else p[0], np.concatenate(v) if len(v) > 1 else v[0])
               for b, (p, v) in parts.items()}
    return Packed(buckets, others)


def _add(parts: dict[int, tuple[list[np.ndarray], list[np.ndarray]]], bucket: int,
         positions: np.ndarray, values: np.ndarray) -> None:
    got = parts.setdefault(bucket, ([], []))
    got[0].append(positions)
    got[1].append(values)


def _uuid_rows(rows: np.ndarray, codes: PrefixCodes,
               assign: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Of keys of one length (``rows``), those of UUID form with a coded log type, their codes
    and UUID bytes (one row of 16 each), and those of UUID form whose log type is uncoded
    (``ABSENT``)."""
    size = rows.shape[1]
    tail = rows[:, size - 37:]
    hexes = tail[:, _HEX]
    ok = (tail[:, 0] == 0x1F) & (tail[:, _HYPHENS] == 0x2D).all(1)
    digits = hexes.tobytes()
    if digits.translate(None, _HEX_DIGITS):  # some byte is no lowercase hex digit: which rows
        ok &= _IS_HEX[hexes].all(1)
    at = np.flatnonzero(ok)
    none = np.empty(0, np.int64)
    if not at.size:
        return at, none, hexes[:0, :16], none
    if at.size < ok.size:
        hexes, digits = hexes[at], hexes[at].tobytes()
    value = np.frombuffer(binascii.unhexlify(digits), np.uint8).reshape(at.size, 16)
    prefixes = rows[at, :size - 37]
    if (prefixes == prefixes[0]).all():  # the usual batch: one log type
        firsts, inverse = np.zeros(1, np.int64), np.zeros(at.size, np.int64)
    else:
        _, firsts, inverse = np.unique(prefixes, axis=0, return_index=True, return_inverse=True)
    table = []
    for first in firsts.tolist():
        got = codes.code(prefixes[first].tobytes(), assign)
        table.append(-1 if got is None else got)
    code = np.asarray(table, np.int64)[inverse.ravel()]
    coded = code >= 0
    if coded.all():
        return at, code, value, none
    return at[coded], code[coded], value[coded], at[code == ABSENT]

"""Fast, seeded identifiers and timestamps in the shapes each vendor uses.

Everything draws from one ``random.Random`` so a seed reproduces a run exactly. Formatting is the
hot path of the simulator, hence the cached per-second timestamp prefixes.
"""

from __future__ import annotations

import random
import time
from functools import lru_cache

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Byte -> base-62 character; the slight bias towards the first characters does not matter here and
# translating random bytes is many times faster than repeated division.
_BYTE_TO_BASE62 = bytes(ord(_BASE62[i % 62]) for i in range(256))


@lru_cache(maxsize=8192)
def _iso_second(sec: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))


@lru_cache(maxsize=8192)
def _compact_second(sec: int) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(sec))


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds: ``2025-01-06T08:00:00.123Z``."""
    sec, milli = divmod(ms, 1000)
    return f"{_iso_second(sec)}.{milli:03d}Z"


def sf_timestamp(ms: int) -> str:
    """Salesforce EventLogFile ``TIMESTAMP`` form: ``20250106080000.123``."""
    sec, milli = divmod(ms, 1000)
    return f"{_compact_second(sec)}.{milli:03d}"


class SimRandom(random.Random):
    """``random.Random`` with float-based ``randint``/``choice``: several times faster than the
    exact rejection sampling of the base class, and still fully determined by the seed. The tiny
    bias this brings is irrelevant to simulated traffic."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq):  # type: ignore[override]
        return seq[int(self.random() * len(seq))]


class Ids:
    """Random identifiers drawn from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self._bits = rng.getrandbits
        self._rng = rng

    def uuid(self) -> str:
        """A UUID-shaped string (Okta event ``uuid``)."""
        h = f"{self._bits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def hex(self, length: int) -> str:
        """``length`` random lowercase hex digits."""
        return f"{self._bits(4 * length):0{length}x}"

    def base62(self, length: int) -> str:
        """``length`` random base-62 characters (Okta object ids, transaction ids)."""
        raw = self._bits(8 * length).to_bytes(length, "little")
        return raw.translate(_BYTE_TO_BASE62).decode("ascii")

    def okta(self, prefix: str) -> str:
        """An Okta object id: three-character type prefix plus 17 characters (``00u...``)."""
        return prefix + self.base62(17)

    def digits(self, length: int) -> str:
        """``length`` random decimal digits."""
        return f"{self._rng.randrange(10**length):0{length}d}"

    def auth0_log_id(self, ms: int) -> str:
        """An Auth0 log id: ``900`` + a time-derived part + random digits (sortable by time)."""
        return f"900{ms:014d}{self.digits(39)}"

    def sf_id(self, prefix: str) -> str:
        """A 15-character Salesforce record id with a three-character key prefix."""
        return prefix + self.base62(12)

    def ip(self, prefix: str) -> str:
        """An address in ``prefix`` (two or three octets)."""
        if prefix.count(".") == 2:
            return f"{prefix}.{self._rng.randrange(2, 254)}"
        return f"{prefix}.{self._rng.randrange(0, 255)}.{self._rng.randrange(2, 254)}"


@lru_cache(maxsize=65536)
def sf_id18(id15: str) -> str:
    """The 18-character case-safe form of a 15-character Salesforce id (checksum suffix)."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return id15 + suffix

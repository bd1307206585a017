"""Turn the timestamps SaaS logs carry into epoch seconds.

Accepted: ISO 8601 with ``Z``, ``+hh:mm`` or ``+hhmm`` offsets and any number of fractional
digits (more than six are truncated); a space instead of ``T``; a bare date; Salesforce Event Log
File compact form ``20240130174530.123``; a basic date ``20240130``; epoch numbers (or numeric strings) in seconds,
milliseconds, microseconds or nanoseconds, told apart by magnitude. Times without an offset are
UTC: that is what every vendor here writes. A time outside the years 1-9999 (which no datetime
can hold, so nothing downstream could format it) is not a timestamp: ``None``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Magnitudes above which an epoch number is read as ns, us or ms: 1e11 seconds is year 5138,
# while 1e11 milliseconds is 1973, so no log of ours is ambiguous.
_EPOCH_SCALES = ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3))
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FRACTION = re.compile(r"(\.\d{6})\d+")
# Epoch seconds of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59.999Z: what datetime can hold.
MIN_EPOCH = -62135596800.0
MAX_EPOCH = 253402300799.999


def parse_time(value: object) -> float | None:
    """Epoch seconds for a timestamp value, or ``None`` when it is not one."""
    if value.__class__ is str:
        if len(value) > 19 and value[10] == "T" and value[4] == "-":
            # The common case, API timestamps such as 2024-05-01T10:00:00.123Z: straight to ISO.
            parsed = _parse_iso(value)
            if parsed is not None:
                return parsed
    elif isinstance(value, bool) or value is None:
        return None
    elif isinstance(value, int | float):
        return _from_epoch(float(value))
    elif not isinstance(value, str):
        return None
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return _parse_number(text)
    return _parse_iso(text)


def _parse_number(text: str) -> float | None:
    """A numeric string: Salesforce's compact ``YYYYMMDDhhmmss[.fff]``, a basic ISO date
    ``YYYYMMDD``, or an epoch number (a 14-digit epoch would be microseconds in 1970)."""
    whole = text.partition(".")[0]
    if len(whole) == 14 and whole.isdigit():
        t = text
        return _parse_iso(f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}{t[14:]}")
    if len(text) == 8 and text.isdigit():
        return _parse_iso(text)
    return _from_epoch(float(text))


def _parse_iso(text: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # fromisoformat before 3.12 rejects some valid forms (``,`` before the fraction, a
        # fraction of 7+ digits next to some offsets); normalise the fraction and try once more.
        normal = _FRACTION.sub(r"\1", text.replace(",", ".", 1))
        if normal == text:
            return None
        try:
            parsed = datetime.fromisoformat(normal)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _in_range(parsed.timestamp())


def _from_epoch(number: float) -> float | None:
    if number != number or number in (float("inf"), float("-inf")):
        return None
    for limit, scale in _EPOCH_SCALES:
        if abs(number) >= limit:
            return _in_range(number / scale)
    return _in_range(number)


def _in_range(seconds: float) -> float | None:
    return seconds if MIN_EPOCH <= seconds <= MAX_EPOCH else None

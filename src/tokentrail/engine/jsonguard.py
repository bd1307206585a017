"""Where msgspec's skipping of unknown fields accepts a line that orjson rejects.

The fast path validates a line by decoding it with ``msgspec`` into a struct of a few fields
(``linefields``); every other value is skipped, checked for JSON syntax only. Measured against
``orjson.loads`` (tests/engine/test_jsonguard.py), such a decode accepts three kinds of line that
orjson rejects, and only three once a line holds no backslash (the fast path sends escapes the
plain way):

- bytes that are not UTF-8 inside a skipped string or key (orjson checks the whole line);
- a number too large for a double (``1e400``, 310 digits): orjson rejects it as infinite;
- nesting deeper than orjson's limit of 1,024, when Python's recursion limit (msgspec's bound)
  has been raised past it.

``orjson_agrees`` rules those out from the raw bytes, cheaply and conservatively: a line it
refuses takes the plain path, which gives orjson's verdict.
"""

from __future__ import annotations

# Digits to "0" and "E" to "e": an exponent of three or more digits is then "e000" or "e+000".
_DIGITS = bytes.maketrans(b"0123456789E", b"0000000000e")
# Below 200 integer digits and with an exponent under 100 (two digits) a number is under 1e300.
_LONG_NUMBER = b"0" * 200
ORJSON_MAX_DEPTH = 1024


def orjson_agrees(raw: bytes) -> bool:
    """Whether orjson accepts ``raw``, given that it holds no backslash and msgspec decoded it
    (see the module docstring); False also for some lines orjson accepts (a three-digit
    exponent, a 200-digit number, 1,024 brackets)."""
    if not raw.isascii():
        try:
            raw.decode()
        except UnicodeDecodeError:
            return False
    # Each level of nesting takes two bytes; only a long line needs its brackets counted.
    if len(raw) >= 2 * ORJSON_MAX_DEPTH and raw.count(b"{") + raw.count(b"[") >= ORJSON_MAX_DEPTH:
        return False
    digits = raw.translate(_DIGITS)
    if _LONG_NUMBER in digits:
        return False
    for exponent in (b"e000", b"e+000"):
        at = digits.find(exponent)
        while at >= 0:
            # With no backslash every quote opens or closes a string: after an even number of
            # them the "e" is outside strings, so it is a number's exponent.
            if not raw.count(b'"', 0, at) & 1:
                return False
            at = digits.find(exponent, at + 1)
    return True

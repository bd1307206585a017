"""Validate a JSON line as strictly as ``orjson.loads`` does, building no Python objects.

The fast path reads a line's few fields with msgspec (``linefields``), whose skipping of the
other fields checks JSON syntax only: it lets through bytes that are not UTF-8 inside a skipped
string or key, numbers too large for a double (``1e400``, which orjson rejects as infinite) and,
under a raised recursion limit, nesting deeper than orjson's 1,024. simdjson (``pysimdjson``)
parses the whole line strictly and builds nothing: a line both accept is one orjson accepts, once
the line holds no backslash (orjson and simdjson read some escapes, such as lone surrogates,
differently) and starts with ``{`` (simdjson accepts a byte order mark, orjson does not). Measured
against orjson in tests/engine/test_prefilter_jsonguard.py.
"""

from __future__ import annotations

from collections.abc import Callable

import simdjson

MAX_LINE_BYTES = 1 << 20  # longer lines go plain: the parser keeps a buffer the size of the longest


NOT_STRICT = (ValueError, RuntimeError)  # not JSON, or not as simdjson reads it (past 64 bits)
# Source over ``raw``, true for a line that must go plain before any parse (generated code, such
# as the fast path's, inlines it). The backslash is tested as the byte 92: ``int in bytes`` is one
# memchr, where a one-byte ``bytes`` needle goes through the substring search (measured: 30
# against 300 ns on a 1 KB line).
GUARD = f"raw[:1] != b'{{' or len(raw) > {MAX_LINE_BYTES} or 92 in raw"


def strict_parser() -> Callable[[bytes], object]:
    """simdjson's parse with a parser of its own, raising one of ``NOT_STRICT`` for a line it
    rejects. What it returns must be dropped before the next call: the parser is reused only
    once nothing refers to the previous line."""
    return simdjson.Parser().parse


def strict_check() -> Callable[[bytes], bool]:
    """Whether a line passes ``GUARD`` and simdjson accepts it (see the module docstring)."""
    namespace: dict[str, object] = {"parse": strict_parser(), "NOT_STRICT": NOT_STRICT}
    source = "\n".join([
        "def check(raw):",
        f"    if {GUARD}:",
        "        return False",
        "    try:",
        "        parse(raw)",
        "    except NOT_STRICT:",
        "        return False",
        "    return True",
    ])
    exec(source, namespace)  # noqa: S102 - the constant source above
    return namespace["check"]  # type: ignore[return-value]

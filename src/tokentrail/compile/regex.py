"""Regex compilation: RE2 first (linear time, safe on untrusted patterns), Python ``re`` only as
a guarded fallback for features RE2 lacks (look-around, back-references)."""

from __future__ import annotations

import re
from collections.abc import Callable

import re2

from tokentrail.errors import UnsupportedFeature

Search = Callable[[str], bool]

# Nested unbounded quantifiers such as (a+)+ or (.*)* backtrack exponentially in Python's engine.
_NESTED_QUANTIFIER = re.compile(r"\([^()]*[+*][^()]*\)[+*{]")
# The fallback engine only ever sees this much of a value, bounding its worst case.
FALLBACK_MAX_INPUT = 4096


def compile_search(pattern: str) -> Search:
    """A function telling whether ``pattern`` occurs in a string (``re.search`` semantics).

    Raises ``UnsupportedFeature`` when neither RE2 nor the guarded fallback can run the pattern.
    """
    try:
        compiled = re2.compile(pattern)
    except re2.error:
        compiled = None
    if compiled is not None:
        return _memoised(lambda text: compiled.search(text) is not None)
    if _NESTED_QUANTIFIER.search(pattern):
        raise UnsupportedFeature(
            "regex", detail=f"pattern {pattern!r} needs backtracking with nested quantifiers"
        )
    try:
        fallback = re.compile(pattern)
    except re.error as exc:
        raise UnsupportedFeature("regex", detail=f"invalid pattern {pattern!r}: {exc}") from None
    return _memoised(lambda text: fallback.search(text[:FALLBACK_MAX_INPUT]) is not None)


_MEMO_SIZE = 4096  # per pattern; log fields such as request URIs repeat a great deal


def _memoised(search: Search) -> Search:
    """Remember recent answers: one RE2 call through its Python wrapper costs microseconds,
    a dict hit costs tens of nanoseconds."""
    seen: dict[str, bool] = {}

    def cached(text: str) -> bool:
        hit = seen.get(text)
        if hit is None:
            if len(seen) >= _MEMO_SIZE:
                seen.clear()
            hit = seen[text] = search(text)
        return hit

    cached.memo = seen  # type: ignore[attr-defined]  # generated code reads it inline
    return cached


def glob_to_regex(pattern: str, *, cased: bool) -> str:
    """Translate an IR glob (``*``, ``?``, backslash escapes) into an anchored regex."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    flags = "(?s)" if cased else "(?is)"
    return f"{flags}^{''.join(out)}$"

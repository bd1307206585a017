"""Regex compilation: RE2 first (linear time, safe on untrusted patterns), Python ``re`` only as
a guarded fallback for features RE2 lacks (look-around, back-references)."""

from __future__ import annotations

import re
from collections.abc import Callable

import regex

from tokentrail.errors import TokenTrailError, UnsupportedFeature
from tokentrail.rules.regex_dialect import compile_fallback, compile_re2

Search = Callable[[str], bool]

# Seconds one fallback search may take on one value. Backtracking patterns such as
# ``(?=a)(a|a)+$`` take exponential time on a few dozen characters; the whole value is
# searched (never a prefix, which padding would evade), under this limit.
FALLBACK_TIME_LIMIT = 0.25


class RegexTimeLimitExceeded(TokenTrailError):
    """A fallback regex search ran past ``FALLBACK_TIME_LIMIT`` on one value."""

    def __init__(self, pattern: str, length: int) -> None:
        shown = pattern if len(pattern) <= 80 else pattern[:77] + "..."
        super().__init__(f"regex {shown!r} took longer than {FALLBACK_TIME_LIMIT:g}s on a value of "
                         f"{length:,} characters; counted as no match")
        self.pattern = pattern


# The last (pattern, value) that overran. Asked again — the engine re-runs an event rule by rule
# after an overrun, with separately compiled searches — it fails at once, not after another limit.
_LAST_OVERRUN: list[str] = ["", ""]


def compile_search(pattern: str) -> Search:
    """A function telling whether ``pattern`` occurs in a string (``re.search`` semantics).

    RE2 runs it when it can; otherwise the fallback engine does, and a search that overruns its
    time limit raises ``RegexTimeLimitExceeded`` (the engine reports it against the rule and
    goes on). Raises ``UnsupportedFeature`` when neither engine accepts the pattern.
    """
    compiled = compile_re2(pattern)
    if compiled is not None:
        return _memoised(lambda text: compiled.search(text) is not None)
    try:
        fallback = compile_fallback(pattern)
    except (regex.error, ValueError, OverflowError) as exc:
        raise UnsupportedFeature("regex", detail=f"invalid pattern {pattern!r}: {exc}") from None

    def guarded(text: str) -> bool:
        if text is _LAST_OVERRUN[1] and pattern == _LAST_OVERRUN[0]:
            raise RegexTimeLimitExceeded(pattern, len(text))
        try:
            return fallback.search(text, timeout=FALLBACK_TIME_LIMIT) is not None
        except TimeoutError:
            _LAST_OVERRUN[:] = [pattern, text]
            raise RegexTimeLimitExceeded(pattern, len(text)) from None

    return _memoised(guarded)


_MEMO_SIZE = 4096  # per pattern; log fields such as request URIs repeat a great deal
# Only values up to this length are remembered: a memo of 4,096 one-megabyte values would hold
# 4 GB, and long values (bodies, encoded blobs) rarely repeat anyway.
MEMO_MAX_KEY = 1024


def _memoised(search: Search) -> Search:
    """Remember recent answers for short values: one RE2 call through its Python wrapper costs
    microseconds, a dict hit costs tens of nanoseconds."""
    seen: dict[str, bool] = {}

    def cached(text: str) -> bool:
        hit = seen.get(text)
        if hit is None:
            hit = search(text)
            if len(text) <= MEMO_MAX_KEY:
                if len(seen) >= _MEMO_SIZE:
                    seen.clear()
                seen[text] = hit
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

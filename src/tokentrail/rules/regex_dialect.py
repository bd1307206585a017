"""Which regular expressions the IR's ``regex`` operator accepts, and the two engines that run them.

RE2 runs a pattern in time linear in its input; patterns it cannot run (look-around,
back-references) go to the ``regex`` module, whose searches take a time limit. A pattern
neither compiles is refused at load. RE2 is asked not to log its parse errors: it would write
"invalid perl operator" lines to stderr for every pattern that needs the fallback.
"""

from __future__ import annotations

import re2
import regex

from tokentrail.errors import RuleLoadError

_QUIET = re2.Options()
_QUIET.log_errors = False


def compile_re2(pattern: str):
    """The RE2 program for ``pattern``, or None when RE2 cannot run it."""
    try:
        return re2.compile(pattern, options=_QUIET)
    except re2.error:
        return None


def compile_fallback(pattern: str) -> regex.Pattern:
    """The fallback program (Python ``re`` syntax; raises ``regex.error`` when invalid)."""
    return regex.compile(pattern, flags=regex.VERSION0)


def check_pattern(pattern: str) -> None:
    """Raise ``RuleLoadError`` unless RE2 or the fallback engine can run ``pattern``."""
    if compile_re2(pattern) is not None:
        return
    try:
        compile_fallback(pattern)
    except (regex.error, ValueError, OverflowError) as exc:
        raise RuleLoadError(f"invalid regular expression {pattern!r}: {exc}") from None

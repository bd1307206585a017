"""Text that is safe to show on a terminal.

Event values, rule titles and file names come from outside. Printed as they are, an ESC or BEL
can retitle the analyst's terminal or hide lines (ANSI/OSC sequences), a bidi override can make
text read backwards, and a lone surrogate cannot be encoded at all. Every human-facing print
(table cells, error lines, summaries) goes through ``safe_text``.
"""

from __future__ import annotations

import unicodedata

# Control (C0, DEL, C1), format (bidi overrides and isolates, zero-width characters, BOM),
# surrogate, and line/paragraph separator characters.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def safe_text(text: object, *, keep_newlines: bool = False) -> str:
    """``text`` with every control, format, surrogate and separator character written as an
    escape (``\\x1b``, ``\\u202e``, ``\\ud800``, ``\\n``); other characters stay as they are.

    ``keep_newlines`` leaves ``\\n`` alone, for multi-line text such as a rule's description.
    """
    text = text if isinstance(text, str) else str(text)
    if text.isprintable():  # the common case: nothing to do, no per-character work
        return text
    return "".join(ch if _printable(ch, keep_newlines) else _escape(ch) for ch in text)


def _printable(ch: str, keep_newlines: bool) -> bool:
    if ch.isprintable() or (keep_newlines and ch == "\n"):
        return True
    return unicodedata.category(ch) not in _UNSAFE_CATEGORIES  # e.g. a no-break space


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"

"""``DISSECT`` and ``GROK``: the columns they make, as regular expressions over the source field.

A key extracted from field ``f`` is never read on its own: a condition on it becomes a regex on
``f`` in which the key's part is replaced by what the condition asks (``user == "bob"`` with
``%{user}@%{domain}`` is ``f`` matching ``^(?:bob)@(?:.*)$``). So the lowered rule still reads
only event fields and runs in every engine.

``DISSECT``: literal delimiters between ``%{key}`` parts, matched from the start; a key takes the
text up to the next delimiter, the last key the rest. Exact when each delimiter after a key is one
character (the key then excludes it); after a longer delimiter a key may reach a later
occurrence of it when the rest of the pattern needs that. ``%{}`` and ``%{?name}`` match without
making a column. The append (``+``), reference (``*``/``&``), padding (``->``) and order (``/n``)
modifiers are refused, as is ``APPEND_SEPARATOR``. ``GROK``: a regex with ``%{SYNTAX:name}``
parts from the patterns below (``:type`` suffixes are refused: keys compare as text), searched
anywhere in the value. A GROK key compared with a value is approximate where the pattern could
match at another place of the value: the key's part is replaced by the value (keeping the word
boundaries its pattern asks), and the regex engine may then find that elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from lark import Tree

from tokentrail.errors import UnsupportedFeature

GROK_PATTERNS = {
    "WORD": r"\b\w+\b", "NOTSPACE": r"\S+", "SPACE": r"\s*", "DATA": r".*?", "GREEDYDATA": r".*",
    "INT": r"[+-]?\d+", "POSINT": r"\b[1-9][0-9]*\b", "NONNEGINT": r"\b[0-9]+\b",
    "NUMBER": r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", "BASE10NUM": r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)",
    "USERNAME": r"[a-zA-Z0-9._-]+", "USER": r"[a-zA-Z0-9._-]+",
    "EMAILLOCALPART": r"[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,64}(?:\.[a-zA-Z0-9!#$%&'*+\-/=?^_`{|}~]{1,62}){0,63}",
    "HOSTNAME": r"\b[0-9A-Za-z][0-9A-Za-z-]{0,62}(?:\.[0-9A-Za-z][0-9A-Za-z-]{0,62})*\.?\b",
    "IPV4": r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)",
    "UUID": r"[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}",
    "URIPATH": r"(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\-]*)+",
    "QUOTEDSTRING": r"\"(?:[^\"\\]|\\.)*\"",
}
GROK_PATTERNS["EMAILADDRESS"] = GROK_PATTERNS["EMAILLOCALPART"] + "@" + GROK_PATTERNS["HOSTNAME"]

Unsupported = Callable[[str, Tree | None], UnsupportedFeature]


@dataclass(frozen=True, slots=True)
class Extracted:
    """Key ``key`` of the pattern ``pieces`` over ``field``: each piece is (regex, is a key).

    ``stop`` is the one-character delimiter that ends a DISSECT key (the key never holds it), or
    None when the key runs to the end or to a longer delimiter.
    """

    field: str
    pieces: tuple[tuple[str, bool], ...]
    key: int
    fold: str | None = None
    stop: str | None = None

    @property
    def any_char(self) -> str:
        """The regex for one character the key can hold."""
        return f"[^{re.escape(self.stop)}]" if self.stop else "."

    def regex(self, inner: str | None = None) -> str:
        """The regex on the field; with ``inner``, the key's piece must match ``inner`` instead."""
        out = []
        for n, (piece, is_key) in enumerate(self.pieces):
            if n == self.key and inner is not None:
                # Word boundaries the key's own pattern asks (GROK's WORD, POSINT...) stay.
                start, end = (r"\b" if piece.startswith(r"\b") else ""), (r"\b" if piece.endswith(r"\b") else "")
                out.append(start + (f"(?i:{inner})" if self.fold is not None else f"(?:{inner})") + end)
            else:
                out.append(f"(?:{piece})" if is_key else piece)
        return "(?s)" + "".join(out)

    def folded(self, fold: str) -> Extracted:
        return replace(self, fold=fold)


def dissect_columns(field: str, pattern: str, unsupported: Unsupported, node: Tree) -> dict[str, Extracted]:
    """The columns ``DISSECT field "pattern"`` makes."""
    parts = re.split(r"(%\{[^}]*\})", pattern)
    pieces: list[tuple[str, bool]] = [("^", False)]
    names: dict[str, tuple[int, str | None]] = {}
    for n, part in enumerate(parts):
        if not part.startswith("%{"):
            if part:
                pieces.append((re.escape(part), False))
            continue
        key = part[2:-1]
        if re.search(r"[+*&/]|->", key):
            raise unsupported(f"ES|QL DISSECT modifier in %{{{key}}}", node)
        delimiter = parts[n + 1]
        if not delimiter and n + 2 < len(parts):
            raise unsupported("ES|QL DISSECT keys with no delimiter between them", node)
        # A key ends at the first occurrence of the next delimiter: with a one-character
        # delimiter the key excludes it, which keeps the regex from backtracking past it.
        stop = delimiter if len(delimiter) == 1 else None
        capture = f"[^{re.escape(stop)}]*" if stop else ".*?" if delimiter else ".*"
        if key and not key.startswith("?"):
            if key in names:
                raise unsupported(f"ES|QL DISSECT key {key} named twice", node)
            names[key] = (len(pieces), stop)
        pieces.append((capture, True))
    pieces.append(("$", False))
    frozen = tuple(pieces)
    return {name: Extracted(field, frozen, index, stop=stop) for name, (index, stop) in names.items()}


def grok_columns(field: str, pattern: str, unsupported: Unsupported, node: Tree) -> dict[str, Extracted]:
    """The columns ``GROK field "pattern"`` makes."""
    pieces: list[tuple[str, bool]] = []
    names: dict[str, int] = {}
    for part in re.split(r"(%\{[^}]*\})", pattern):
        if not part.startswith("%{"):
            if re.search(r"\(\?P?<", part):
                raise unsupported("ES|QL GROK with a named group of its own", node)
            if part:
                pieces.append((part, False))
            continue
        syntax, _, rest = part[2:-1].partition(":")
        name, _, kind = rest.partition(":")
        if syntax not in GROK_PATTERNS:
            raise unsupported(f"ES|QL GROK pattern %{{{syntax}}}", node)
        if kind:
            raise unsupported(f"ES|QL GROK type :{kind} (keys compare as text)", node)
        if name:
            names[name] = len(pieces)
            pieces.append((GROK_PATTERNS[syntax], True))
        else:
            pieces.append((f"(?:{GROK_PATTERNS[syntax]})", False))
    frozen = tuple(pieces)
    return {name: Extracted(field, frozen, index) for name, index in names.items()}

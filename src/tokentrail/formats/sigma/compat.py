"""Three adaptations of pySigma 1.5 (pinned: its SIEM backends need pySigma < 2) to TokenTrail.

* Regex check. pySigma 1.x checks every ``|re`` pattern with Python's ``re`` and has no regex
  policy to change that. TokenTrail runs RE2, then its fallback engine: a pattern either of
  them runs is valid, whatever Python's ``re`` thinks of it (``SigmaRegularExpression.compile``).
* ``utf16`` under ``base64``/``base64offset``. pySigma 1.5 writes the byte order mark as the
  character U+FEFF, which ``base64`` then encodes as UTF-8 (EF BB BF) instead of the UTF-16LE
  mark FF FE that the Sigma specification means. The ``utf16`` modifier here builds the same
  string but gives ``base64`` the mark's UTF-16 bytes.

* Condition operators. pySigma 1.5 reads ``not``/``and``/``or`` as bare text, so the condition
  ``sel and not not_ok`` reads ``not not _ok``. Here they are keywords: an operator is a whole
  word (identifier characters include ``_`` and ``-``).

``install()`` applies all three, once; the front-end calls it before parsing any rule.
"""

from __future__ import annotations

import re

import regex
import sigma.conditions as conditions
from pyparsing import Keyword, alphanums, infix_notation, opAssoc
from sigma.exceptions import SigmaRegularExpressionError
from sigma.modifiers import SigmaUTF16Modifier, modifier_mapping, reverse_modifier_mapping
from sigma.types import SigmaRegularExpression, SigmaString

from tokentrail.rules.regex_dialect import compile_fallback, compile_re2

_BOM = "\ufeff"


def compile_checked(pattern: str, flags: int = 0) -> object:
    """The program TokenTrail runs ``pattern`` with: RE2, else the fallback engine.

    Raises ``re.error`` when neither compiles it.
    """
    inline = "".join(c for f, c in ((re.I, "i"), (re.M, "m"), (re.S, "s")) if flags & f)
    full = f"(?{inline}){pattern}" if inline else pattern
    compiled = compile_re2(full)
    if compiled is not None:
        return compiled
    try:
        return compile_fallback(full)
    except (regex.error, ValueError, OverflowError) as exc:
        raise re.error(str(exc)) from None


def _check_regex(self: SigmaRegularExpression) -> None:
    flags = 0
    for flag in self.flags:
        flags |= self.sigma_to_python_flags[flag]
    try:
        compile_checked(str(self.regexp), flags)
    except re.error as exc:
        raise SigmaRegularExpressionError(f"Regular expression '{self.regexp}' is invalid: {exc}") from exc


class _UTF16String(SigmaString):
    """A ``utf16``-encoded string whose bytes start with the UTF-16LE byte order mark."""

    def __bytes__(self) -> bytes:
        text = str(self)
        if text.startswith(_BOM):
            return b"\xff\xfe" + text[len(_BOM):].encode()
        return text.encode()

    def __len__(self) -> int:
        # ``base64offset`` picks its offsets from the length in bytes: the mark is two.
        return super().__len__() + (1 if str(self).startswith(_BOM) else 0)


class UTF16Modifier(SigmaUTF16Modifier):
    """pySigma's ``utf16`` with the byte order mark's bytes right (see the module docstring)."""

    def modify(self, val: SigmaString) -> SigmaString:
        out = _UTF16String()
        out.s = super().modify(val).s
        return out


UTF16Modifier.__name__ = SigmaUTF16Modifier.__name__


def _condition_grammar():
    word_chars = alphanums + "_-"
    return infix_notation(
        conditions.operand,
        [
            (Keyword("not", ident_chars=word_chars), 1, opAssoc.RIGHT, conditions.ConditionNOT.from_parsed),
            (Keyword("and", ident_chars=word_chars), 2, opAssoc.LEFT, conditions.ConditionAND.from_parsed),
            (Keyword("or", ident_chars=word_chars), 2, opAssoc.LEFT, conditions.ConditionOR.from_parsed),
        ],
    )


def install() -> None:
    """Apply the adaptations (idempotent)."""
    if getattr(conditions, "_tokentrail_grammar", False):
        return
    conditions.condition = _condition_grammar()
    conditions._parse_condition_string.cache_clear()
    conditions._tokentrail_grammar = True  # type: ignore[attr-defined]
    SigmaRegularExpression.compile = _check_regex  # type: ignore[method-assign]
    modifier_mapping["utf16"] = UTF16Modifier
    reverse_modifier_mapping[UTF16Modifier.__name__] = "utf16"

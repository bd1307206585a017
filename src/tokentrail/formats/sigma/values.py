"""Lower one pySigma value (already through its modifiers) to a TokenTrail IR leaf.

pySigma applies the modifiers (contains, windash, base64offset, utf16, cidr, ...) and leaves a
typed value; this module states what that value means as an IR comparison. Strings keep
Sigma's semantics: case-insensitive unless ``cased``, ``*``/``?`` wildcards with backslash
escapes, matched as a whole (a plain prefix/suffix/substring becomes startswith/endswith/contains).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

from tokentrail.errors import UnsupportedFeature
from tokentrail.rules.ir import Any as AnyOf
from tokentrail.rules.ir import Cmp, Exists, Expr, FieldRef, Keywords, Not, Op
from tokentrail.rules.regex_dialect import check_pattern

Part = str | SpecialChars
Placeholders = Mapping[str, tuple[str, ...]]

# Placeholder values multiply: bound the number of strings one value may expand to.
MAX_EXPANSIONS = 1000

_COMPARE_OPS: dict[CompareOperators, Op] = {
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "le",
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "ge",
}


def field_value(field: str, value: SigmaType, placeholders: Placeholders) -> Expr:
    """The IR for ``field`` compared with one pySigma ``value``."""
    match value:
        case SigmaExpansion(values=values):
            # Expansions (windash, base64offset) are alternatives even under ``|all``.
            return AnyOf(tuple(field_value(field, v, placeholders) for v in values))
        case SigmaString():
            cased = isinstance(value, SigmaCasedString)
            alternatives = [_string_cmp(field, parts, cased) for parts in _expand(value, placeholders)]
            return alternatives[0] if len(alternatives) == 1 else AnyOf(tuple(alternatives))
        case SigmaRegularExpression():
            patterns = regex_patterns(value, placeholders)
            return Cmp(field, "regex", patterns, cased=True)
        case SigmaNull():
            return Cmp(field, "eq", (None,))
        case SigmaBool(boolean=b):
            return Cmp(field, "eq", (b,))
        case SigmaTimestampPart():
            raise UnsupportedFeature("sigma timestamp-part modifier",
                                     detail=f"field {field!r}: {value.timestamp_part.name.lower()}")
        case SigmaNumber(number=n):
            return Cmp(field, "eq", (n,))
        case SigmaCompareExpression(number=num, op=op):
            if op is CompareOperators.NEQ:
                return Not(Cmp(field, "eq", (num.number,)))
            return Cmp(field, _COMPARE_OPS[op], (num.number,))
        case SigmaCIDRExpression():
            return Cmp(field, "cidr", (str(value.network),))
        case SigmaFieldReference(field=other, starts_with=sw, ends_with=ew):
            op: Op = "contains" if sw and ew else "startswith" if sw else "endswith" if ew else "eq"
            return FieldRef(field, other, op)
        case SigmaExists(exists=exists):
            return Exists(field) if exists else Not(Exists(field))
    raise UnsupportedFeature("sigma value type", detail=f"{type(value).__name__} on field {field!r}")


def keyword_value(value: SigmaType, placeholders: Placeholders) -> Expr:
    """The IR for a keyword (fieldless) value: a full-text substring search over the event."""
    match value:
        case SigmaExpansion(values=values):
            return AnyOf(tuple(keyword_value(v, placeholders) for v in values))
        case SigmaString():
            cased = isinstance(value, SigmaCasedString)
            alternatives = [_keyword(parts, cased) for parts in _expand(value, placeholders)]
            return alternatives[0] if len(alternatives) == 1 else AnyOf(tuple(alternatives))
        case SigmaRegularExpression():
            return Keywords(regex_patterns(value, placeholders), op="regex", cased=True)
        case SigmaBool(boolean=b):
            return Keywords(("true" if b else "false",))
        case SigmaNumber() if not isinstance(value, SigmaTimestampPart):
            return Keywords((str(value.number),))
    raise UnsupportedFeature("sigma keyword value", detail=f"{type(value).__name__} without a field")


def regex_patterns(value: SigmaRegularExpression, placeholders: Placeholders) -> tuple[str, ...]:
    """The RE2-syntax patterns of a regex value, flags inline, placeholders expanded and checked."""
    flags = "".join(sorted(SigmaRegularExpression.sigma_to_re_flag[f] for f in value.flags))
    prefix = f"(?{flags})" if flags else ""
    out: list[str] = []
    for parts in _expand_raw(value.regexp.s, placeholders):
        pattern = prefix + "".join(
            p if isinstance(p, str) else ("*" if p is SpecialChars.WILDCARD_MULTI else "?") for p in parts
        )
        check_regex(pattern)
        out.append(pattern)
    return tuple(out)


def check_regex(pattern: str) -> None:
    """Accept a pattern RE2 compiles, else one the guarded fallback engine compiles."""
    check_pattern(pattern)


def _string_cmp(field: str, parts: list[Part], cased: bool) -> Cmp:
    op, text = _shape(parts)
    return Cmp(field, op, (text,), cased=cased)


def _keyword(parts: list[Part], cased: bool) -> Keywords:
    # A keyword is found anywhere inside a value, so it is implicitly wrapped in ``*``.
    if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
        parts = [SpecialChars.WILDCARD_MULTI, *parts]
    if parts[-1] is not SpecialChars.WILDCARD_MULTI:
        parts = [*parts, SpecialChars.WILDCARD_MULTI]
    op, text = _shape(parts)
    if op == "glob" and text == "*":
        return Keywords(("",), cased=cased)
    return Keywords((text,), op="contains" if op == "contains" else "glob", cased=cased)


def _shape(parts: list[Part]) -> tuple[Op, str]:
    """The cheapest operator that says exactly what the wildcard string says."""
    star = SpecialChars.WILDCARD_MULTI
    if not any(isinstance(p, SpecialChars) for p in parts):
        return "eq", "".join(parts)  # type: ignore[arg-type]
    if len(parts) == 3 and parts[0] is star and parts[2] is star and isinstance(parts[1], str):
        return "contains", parts[1]
    if len(parts) == 2 and isinstance(parts[0], str) and parts[1] is star:
        return "startswith", parts[0]
    if len(parts) == 2 and parts[0] is star and isinstance(parts[1], str):
        return "endswith", parts[1]
    return "glob", "".join(_glob_part(p) for p in parts)


def _glob_part(part: Part) -> str:
    if part is SpecialChars.WILDCARD_MULTI:
        return "*"
    if part is SpecialChars.WILDCARD_SINGLE:
        return "?"
    return re.sub(r"([*?\\])", r"\\\1", part)  # type: ignore[arg-type]


def _expand(value: SigmaString, placeholders: Placeholders) -> list[list[Part]]:
    """Every wildcard string a value stands for once its ``%placeholders%`` are filled in.

    Placeholder values are Sigma strings themselves: their ``*`` and ``?`` are wildcards.
    """
    options: list[list[list[Part]]] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            options.append([list(SigmaString(v).s) for v in _placeholder(part.name, placeholders)])
        else:
            options.append([[part]])
    return _combine(options)


def _expand_raw(parts: list, placeholders: Placeholders) -> list[list[Part]]:
    """Like ``_expand`` for regexes: placeholder values are inserted as regex text."""
    options: list[list[list[Part]]] = []
    for part in parts:
        if isinstance(part, Placeholder):
            options.append([[v] for v in _placeholder(part.name, placeholders)])
        else:
            options.append([[part]])
    return _combine(options)


def _combine(options: list[list[list[Part]]]) -> list[list[Part]]:
    total = 1
    for choice in options:
        total *= len(choice)
    if total > MAX_EXPANSIONS:
        raise UnsupportedFeature("sigma placeholder expansion",
                                 detail=f"{total} values, more than {MAX_EXPANSIONS}")
    return [_normalise([p for chunk in combo for p in chunk]) for combo in itertools.product(*options)]


def _placeholder(name: str, placeholders: Placeholders) -> tuple[str, ...]:
    values = placeholders.get(name)
    if not values:
        raise UnsupportedFeature(f"sigma placeholder %{name}%",
                                 detail="no value given for it; --sigma-config FILE gives placeholder values")
    return tuple(values)


def _normalise(parts: list[Part]) -> list[Part]:
    """Join adjacent text, drop empty text and collapse runs of ``*``."""
    out: list[Part] = []
    for part in parts:
        if isinstance(part, str):
            if not part:
                continue
            if out and isinstance(out[-1], str):
                out[-1] = out[-1] + part
                continue
        elif part is SpecialChars.WILDCARD_MULTI and out and out[-1] is SpecialChars.WILDCARD_MULTI:
            continue
        out.append(part)
    return out

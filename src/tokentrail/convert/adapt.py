"""Rewrite a rule's IR for a target that lacks a feature: exactly where another form says the same
thing, else with a caveat saying what changes; ``Unconvertible`` where nothing comes close.

Each target declares what its query language (and its pySigma backend) can say in a
``Capabilities``; ``adapt`` walks the tree once and applies the rewrites that target needs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, replace

from tokentrail.convert.errors import Unconvertible
from tokentrail.rules.ir import All, Any, Cmp, Exists, Expr, FieldRef, Keywords, Not

# How the target compares strings that the rule compares case-insensitively / case-sensitively.
#   "insensitive": plain matches ignore case, there is no case-sensitive form (Splunk, Kusto);
#   "keyword": matches are exact-case (Elasticsearch keyword fields), no case-insensitive form;
#   "both": both forms exist (EQL: ``:`` ignores case, ``==`` does not).
CaseModel = str


@dataclass(frozen=True)
class Capabilities:
    """What a target's queries can say."""

    case: CaseModel = "insensitive"
    exists: bool = True
    fieldref: bool = True
    keywords: bool = True
    glob_single_char: bool = True
    glob_anchored: bool = True
    regex_search: bool = True
    ipv6_cidr: bool = True
    # Full-text search finds whole terms of the raw event (Splunk), not any substring.
    keyword_terms: bool = False
    correlations: frozenset[str] = frozenset()


def adapt(expr: Expr, caps: Capabilities, caveats: list[str]) -> Expr:
    """``expr`` rewritten for a target with ``caps``; losses appended to ``caveats``."""
    return _walk(expr, lambda leaf: _leaf(leaf, caps, caveats))


def _walk(expr: Expr, leaf: Callable[[Expr], Expr]) -> Expr:
    match expr:
        case All(items):
            return All(tuple(_walk(i, leaf) for i in items))
        case Any(items):
            return Any(tuple(_walk(i, leaf) for i in items))
        case Not(item):
            return Not(_walk(item, leaf))
    return leaf(expr)


def _leaf(expr: Expr, caps: Capabilities, caveats: list[str]) -> Expr:
    match expr:
        case Cmp():
            return _cmp(expr, caps, caveats)
        case Exists(field=name, non_null=non_null) if not caps.exists:
            if not non_null:
                caveats.append(f"{name}: presence is tested as 'not null' (a field holding null "
                               "counts as absent)")
            return Not(Cmp(name, "eq", (None,)))
        case FieldRef(field=name, other=other) if not caps.fieldref:
            raise Unconvertible(f"the target cannot compare two fields of one event ({name} and {other})")
        case Keywords():
            return _keywords(expr, caps, caveats)
    return expr


def _keywords(expr: Keywords, caps: Capabilities, caveats: list[str]) -> Expr:
    if not caps.keywords:
        raise Unconvertible("the target has no full-text search for the rule's keywords")
    if caps.keyword_terms and expr.op == "contains":
        caveats.append("keywords: the target finds them as whole terms of the raw event, not inside "
                       "longer words")
    if expr.cased and caps.case == "insensitive":
        caveats.append("keywords: the case-sensitive full-text search becomes case-insensitive")
        return replace(expr, cased=False)
    return expr


def _cmp(cmp: Cmp, caps: Capabilities, caveats: list[str]) -> Expr:
    strings = any(isinstance(v, str) for v in cmp.values)
    if cmp.op == "glob" and (not caps.glob_anchored or
                             (not caps.glob_single_char and any("?" in str(v) for v in cmp.values))):
        # A glob is a regular expression anchored at both ends: say it that way, exactly.
        return Cmp(cmp.field, "regex", tuple(glob_regex(str(v), cmp.cased) for v in cmp.values),
                   cased=True, all_values=cmp.all_values)
    if cmp.op == "regex" and not caps.regex_search:
        caveats.append(f"{cmp.field}: the target matches regular expressions against the whole value "
                       "in its own syntax (Lucene's: no anchors, no inline flags); the rule's RE2 "
                       "pattern searches anywhere in the value")
        return cmp
    if cmp.op == "cidr" and not caps.ipv6_cidr and any(_is_v6(v) for v in cmp.values):
        caveats.append(f"{cmp.field}: the target's range test is for IPv4 only; the IPv6 network(s) "
                       "never match")
        return cmp
    if not strings or cmp.op in ("regex", "cidr", "lt", "le", "gt", "ge"):
        return cmp
    if caps.case == "insensitive" and cmp.cased:
        caveats.append(f"{cmp.field}: the case-sensitive match becomes case-insensitive (the target "
                       "has no case-sensitive string match)")
        return replace(cmp, cased=False)
    if caps.case == "keyword":
        if not cmp.cased:
            caveats.append(f"{cmp.field}: the case-insensitive match is exact-case on the target "
                           "(Elasticsearch keyword fields compare case-sensitively)")
        # The backend writes plain terms, which Elasticsearch compares exactly: drop the flag it
        # would refuse.
        return replace(cmp, cased=False)
    return cmp


def glob_regex(pattern: str, cased: bool) -> str:
    """An IR glob as an anchored RE2 pattern (``(?i)`` unless ``cased``)."""
    out = ["" if cased else "(?i)", "^"]
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(_quote(next(chars, "\\")))
        elif ch == "*":
            out.append("(?s:.*)")
        elif ch == "?":
            out.append("(?s:.)")
        else:
            out.append(_quote(ch))
    out.append("$")
    return "".join(out)


def _quote(ch: str) -> str:
    return "\\" + ch if ch in r".^$*+?()[]{}|\/" else ch


def _is_v6(value: object) -> bool:
    try:
        return ipaddress.ip_network(str(value), strict=False).version == 6
    except ValueError:
        return False

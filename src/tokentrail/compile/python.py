"""IR -> fast Python predicate over raw event dicts.

Leaves (comparisons) become specialised closures with their values prepared once (lower-cased
sets, compiled regexes, parsed networks); the boolean structure above them is generated as one
Python function per ``All``/``Any`` node so an event costs a few direct calls, not a tree walk.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from tokentrail.compile.fields import (
    iter_strings,
    make_getter,
    make_presence,
    number_of,
    split_field,
    text_of,
)
from tokentrail.compile.regex import compile_search, glob_to_regex
from tokentrail.rules.ir import All, Cmp, Const, Exists, Expr, FieldRef, Keywords, Not, Scalar
from tokentrail.rules.ir import Any as AnyOf

Predicate = Callable[[Mapping[str, Any]], bool]
ValueTest = Callable[[Any], bool]


def compile_expr(expr: Expr, *, ci_fields: bool = False) -> Predicate:
    """Compile an IR tree into a predicate ``event -> bool``.

    ``ci_fields`` makes field-name lookups case-insensitive (for log types whose mapping says so).
    Raises ``UnsupportedFeature`` for a regex neither RE2 nor the fallback can run.
    """
    return _Compiler(ci_fields).compile(expr)


class _Compiler:
    def __init__(self, ci_fields: bool) -> None:
        self.ci = ci_fields

    def compile(self, expr: Expr) -> Predicate:
        match expr:
            case All(items):
                return _combine([self.compile(i) for i in items], "and", default=True)
            case AnyOf(items):
                return _combine([self.compile(i) for i in items], "or", default=False)
            case Not(item):
                inner = self.compile(item)
                return lambda event: not inner(event)
            case Const(value):
                return (lambda event: True) if value else (lambda event: False)
            case Exists(field, non_null=True):
                get = make_getter(field, ci_fields=self.ci)
                return lambda event: any(v is not None for v in get(event))
            case Exists(field):
                return make_presence(field, ci_fields=self.ci)
            case Cmp():
                return self._cmp(expr)
            case FieldRef():
                return self._fieldref(expr)
            case Keywords():
                return self._keywords(expr)
        raise TypeError(f"not an IR node: {expr!r}")

    def _cmp(self, node: Cmp) -> Predicate:
        get = make_getter(node.field, ci_fields=self.ci)
        wants_null = any(v is None for v in node.values)
        values = tuple(v for v in node.values if v is not None)
        if node.all_values and len(values) > 1:
            tests = [value_test(node.op, (v,), node.cased) for v in values]

            def match_all(event: Mapping[str, Any]) -> bool:
                found = get(event)
                return all(any(t(x) for x in found) for t in tests)

            return match_all
        test = value_test(node.op, values, node.cased) if values else None
        if wants_null:

            def match_null(event: Mapping[str, Any]) -> bool:
                found = get(event)
                if not found or any(x is None for x in found):
                    return True
                return test is not None and any(test(x) for x in found)

            return match_null
        assert test is not None
        # Case-insensitive key lookups (ci) go through the general getter, which knows them.
        fast = None if self.ci else _fast_string_cmp(node, values, get, test)
        if fast is not None:
            return fast

        def match(event: Mapping[str, Any]) -> bool:
            # An explicit loop: any() over a generator costs a frame per event on this hot path.
            for x in get(event):  # noqa: SIM110
                if test(x):
                    return True
            return False

        return match

    def _fieldref(self, node: FieldRef) -> Predicate:
        left = make_getter(node.field, ci_fields=self.ci)
        right = make_getter(node.other, ci_fields=self.ci)

        def match(event: Mapping[str, Any]) -> bool:
            others = tuple(v for v in right(event) if v is not None)
            if not others:
                return False
            test = value_test(node.op, others, node.cased)
            return any(test(x) for x in left(event))

        return match

    def _keywords(self, node: Keywords) -> Predicate:
        tests = [value_test(node.op, (v,), node.cased) for v in node.values]

        def match(event: Mapping[str, Any]) -> bool:
            texts = list(iter_strings(event))
            hits = (any(t(s) for s in texts) for t in tests)
            return all(hits) if node.all_values else any(hits)

        return match


_MISSING = object()


def no_dotted_keys(obj: Mapping[str, Any]) -> bool:
    """No key of ``obj`` holds a dot, so no literal dotted key can stand for a nested path."""
    for key in obj:  # noqa: SIM110 - a plain loop is cheaper than all() over a generator here
        if "." in key:
            return False
    return True


def _fast_string_cmp(node: Cmp, values: tuple[Scalar, ...], get, test: ValueTest) -> Predicate | None:
    """A specialised predicate for the commonest leaf: a plain string comparison on a path of
    nested objects. It reads the path directly and compares inline; anything unusual (a list, a
    missing key, a non-string value) falls back to the general ``get`` + test."""
    if node.op not in ("eq", "contains", "startswith", "endswith") or not all(isinstance(v, str) for v in values):
        return None
    parts = split_field(node.field)
    if len(parts) > 3:
        return None
    cased = node.cased

    def slow(event: Mapping[str, Any]) -> bool:
        for x in get(event):  # noqa: SIM110 - see _cmp
            if test(x):
                return True
        return False

    needles = tuple(v if cased else v.lower() for v in values)
    if node.op == "eq":
        wanted = frozenset(needles)
        check = (lambda v: v in wanted) if cased else (lambda v: v.lower() in wanted)
    elif node.op == "contains" and len(needles) == 1:
        needle = needles[0]
        check = (lambda v: needle in v) if cased else (lambda v: needle in v.lower())
    elif node.op == "contains":

        def check(v: str) -> bool:
            text = v if cased else v.lower()
            return any(n in text for n in needles)

    elif node.op == "startswith":
        check = (lambda v: v.startswith(needles)) if cased else (lambda v: v.lower().startswith(needles))
    else:
        check = (lambda v: v.endswith(needles)) if cased else (lambda v: v.lower().endswith(needles))

    if len(parts) == 1:
        (k0,) = parts

        def fast1(event: Mapping[str, Any]) -> bool:
            v = event.get(k0)
            return check(v) if v.__class__ is str else slow(event)

        return fast1
    if len(parts) == 2:
        k0, k1 = parts

        def fast2(event: Mapping[str, Any]) -> bool:
            v = event.get(k0)
            if v.__class__ is dict:
                v = v.get(k1)
                if v.__class__ is str:
                    return check(v)
            elif v.__class__ is list and no_dotted_keys(event):
                # An array of objects (Okta ``target``): decided here unless an element is odd
                # (or a literal dotted key such as "target.type" could add values).
                for el in v:
                    if el.__class__ is not dict:
                        return slow(event)
                    x = el.get(k1, _MISSING)
                    if x.__class__ is str:
                        if check(x):
                            return True
                    elif x is not _MISSING:
                        return slow(event)
                return False
            return slow(event)

        return fast2
    k0, k1, k2 = parts

    def fast3(event: Mapping[str, Any]) -> bool:
        v = event.get(k0)
        if v.__class__ is dict:
            v = v.get(k1)
            if v.__class__ is dict:
                v = v.get(k2)
                if v.__class__ is str:
                    return check(v)
        return slow(event)

    return fast3


def _combine(preds: list[Predicate], joiner: str, *, default: bool) -> Predicate:
    """Generate ``def f(e): return p0(e) and p1(e) ...`` — faster than looping over a list."""
    if not preds:
        return (lambda event: True) if default else (lambda event: False)
    if len(preds) == 1:
        return preds[0]
    names = {f"p{i}": p for i, p in enumerate(preds)}
    body = f" {joiner} ".join(f"p{i}(e)" for i in range(len(preds)))
    namespace: dict[str, Any] = dict(names)
    exec(f"def combined(e):\n    return {body}\n", namespace)  # noqa: S102 - generated from our own names
    return namespace["combined"]


def value_test(op: str, values: tuple[Scalar, ...], cased: bool) -> ValueTest:
    """A test of ONE event value against rule ``values`` (any of them) for ``op``."""
    if op == "eq":
        return _eq_test(values, cased)
    if op in ("contains", "startswith", "endswith"):
        needles = tuple(_norm(str(text_of(v)), cased) for v in values)
        return _string_test(op, needles, cased)
    if op in ("glob", "regex"):
        searches = [
            compile_search(glob_to_regex(t, cased=cased) if op == "glob" else t)
            for t in (str(text_of(v)) for v in values)
        ]

        if len(searches) == 1:
            (only,) = searches

            def one_regex(x: Any) -> bool:
                s = x if x.__class__ is str else text_of(x)
                return s is not None and only(s)

            return one_regex

        def regex_test(x: Any) -> bool:
            s = text_of(x)
            return s is not None and any(search(s) for search in searches)

        return regex_test
    if op == "cidr":
        return _cidr_test(values)
    if op in ("lt", "le", "gt", "ge"):
        return _order_test(op, values)
    raise ValueError(f"unknown operator {op!r}")


def _norm(s: str, cased: bool) -> str:
    return s if cased else s.lower()


def _eq_test(values: tuple[Scalar, ...], cased: bool) -> ValueTest:
    strings = frozenset(_norm(t, cased) for v in values if (t := text_of(v)) is not None)
    numbers = frozenset(n for v in values if not isinstance(v, str) and (n := number_of(v)) is not None)

    def eq(x: Any) -> bool:
        if x.__class__ is str:
            if (x if cased else x.lower()) in strings:
                return True
            return bool(numbers) and number_of(x) in numbers
        if isinstance(x, int | float) and not isinstance(x, bool) and float(x) in numbers:
            return True
        s = text_of(x)
        return s is not None and _norm(s, cased) in strings

    return eq


def _string_test(op: str, needles: tuple[str, ...], cased: bool) -> ValueTest:
    if op == "contains":

        def contains(x: Any) -> bool:
            s = text_of(x)
            if s is None:
                return False
            if not cased:
                s = s.lower()
            return any(n in s for n in needles)

        return contains
    method = str.startswith if op == "startswith" else str.endswith

    def affix(x: Any) -> bool:
        s = text_of(x)
        if s is None:
            return False
        return method(s if cased else s.lower(), needles)

    return affix


def _cidr_test(values: tuple[Scalar, ...]) -> ValueTest:
    nets = [ipaddress.ip_network(str(v), strict=False) for v in values]
    ranges = [(n.version, int(n.network_address), int(n.netmask)) for n in nets]

    def in_net(x: Any) -> bool:
        if x.__class__ is not str:
            return False
        parsed = parse_ip(x)
        if parsed is None:
            return False
        version, addr = parsed
        for v, net, mask in ranges:  # noqa: SIM110 - a loop beats any() over a generator here
            if v == version and addr & mask == net:
                return True
        return False

    return in_net


_IP_CACHE: dict[str, tuple[int, int] | None] = {}
_IP_CACHE_MAX = 65536
_IP_KEY_MAX = 64


def parse_ip(text: str) -> tuple[int, int] | None:
    """(version, integer address) of an IP string, or None; cached, since logs repeat addresses."""
    hit = _IP_CACHE.get(text, _MISSING)
    if hit is not _MISSING:
        return hit  # type: ignore[return-value]
    try:
        addr = ipaddress.ip_address(text.strip())
        parsed: tuple[int, int] | None = (addr.version, int(addr))
    except ValueError:
        parsed = None
    if len(text) <= _IP_KEY_MAX:  # an address is short; a long value is not kept as a key
        if len(_IP_CACHE) >= _IP_CACHE_MAX:
            _IP_CACHE.clear()
        _IP_CACHE[text] = parsed
    return parsed


_ORDER = {
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


def _order_test(op: str, values: tuple[Scalar, ...]) -> ValueTest:
    cmp = _ORDER[op]
    bounds = [(number_of(v), text_of(v)) for v in values]

    def ordered(x: Any) -> bool:
        xn = number_of(x)
        xs = text_of(x)
        for bn, bs in bounds:
            if xn is not None and bn is not None:
                if cmp(xn, bn):
                    return True
            elif xs is not None and bs is not None and xn is None and bn is None and cmp(xs, bs):
                # Neither is a number: ordered as strings (ISO timestamps sort correctly this way).
                # A number against a non-number is not ordered at all.
                return True
        return False

    return ordered

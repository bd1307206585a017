"""Compile many IR expressions into ONE generated Python function over an event.

The streaming engine runs every rule of an anchor bucket on each event that reaches the bucket.
Rules in a bucket read the same few fields over and over, so the generated function:
  * reads each field once per event, up front, with the path walk written out inline, into a
    local variable: the raw string when the path leads through plain objects to a string, else
    a marker meaning "not simple"; and lower-cases it once;
  * binds every constant it uses as a closure variable, so reads are cell reads, not dict
    lookups, and nothing is copied per call;
  * tests string comparisons inline (set membership, ``in``, ``startswith``), with no call;
    CIDR tests compare integers inline (the address is parsed once per field); regex and glob
    tests look their memo up inline; an array of objects (Okta ``target[].type``) is lowered to
    a list once, and ``eq`` tests it with one ``isdisjoint``;
  * falls back to the general compiled predicate of a leaf (``compile_expr``) whenever the value
    is not simple (a list, a number, null, a missing key that a dotted literal key may supply).
So semantics are exactly ``compile_expr``'s; only the common case is made cheap.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tokentrail.compile.fields import split_field, text_of
from tokentrail.compile.python import compile_expr, parse_ip, value_test
from tokentrail.compile.regex import compile_search, glob_to_regex
from tokentrail.rules.ir import All, Cmp, Const, Expr, Not
from tokentrail.rules.ir import Any as AnyOf

BatchPredicate = Callable[[Mapping[str, Any]], list[int] | None]

# Fields with more parts than this are read by the general getter, not by inline code: each
# part is one more indented block, and Python refuses code nested 100 blocks deep.
MAX_INLINE_PARTS = 8
# Boolean structure nested deeper than this is handed whole to ``compile_expr`` (Python's parser
# allows 200 nested parentheses; the IR allows ``MAX_DEPTH`` levels, each adding one or two).
MAX_INLINE_NESTING = 24

_COMPLEX = object()  # the field's value is not one plain string reached through plain objects
_ABSENT = object()  # the field is missing, and no literal dotted key could supply it
_MISS = object()


def _lowered_items(items: list[Any], key: str) -> Any:
    """Lower-cased string values of ``key`` in a list of objects, or _COMPLEX if any is odd."""
    out = []
    for el in items:
        if el.__class__ is not dict:
            return _COMPLEX
        v = el.get(key, _COMPLEX)
        if v.__class__ is str:
            out.append(v.lower())
        elif v is not _COMPLEX:
            return _COMPLEX
    return out


_GENERAL: dict[tuple[str, bool], Callable[[Mapping[str, Any]], bool]] = {}
_GENERAL_MAX = 16384


def _general(node: Expr, ci: bool) -> Callable[[Mapping[str, Any]], bool]:
    """The general predicate of a leaf, compiled once: the same leaf recurs in many generated
    functions (every anchor value's function holds the unanchored rules)."""
    # Keyed by repr, not by the node: nodes compare 1 == True == 1.0, which the IR tells apart.
    key = (repr(node), ci)
    predicate = _GENERAL.get(key)
    if predicate is None:
        if len(_GENERAL) >= _GENERAL_MAX:
            _GENERAL.clear()
        predicate = _GENERAL[key] = compile_expr(node, ci_fields=ci)
    return predicate


class _Generator:
    def __init__(self, ci_fields: bool) -> None:
        self.ci = ci_fields
        self.namespace: dict[str, Any] = {"_C": _COMPLEX, "_M": _ABSENT, "_MISS": _MISS, "_ip": parse_ip,
                                          "_items": _lowered_items}
        self.fields: dict[str, int] = {}
        self.lowered: set[int] = set()
        self.addresses: set[int] = set()  # fields read as IP addresses
        self.item_lists: set[int] = set()  # two-part fields also read across a list of objects
        self.names = 0

    def _bind(self, value: Any, prefix: str) -> str:
        name = f"{prefix}{self.names}"
        self.names += 1
        self.namespace[name] = value
        return name

    def _field(self, field: str, *, lower: bool) -> int:
        i = self.fields.setdefault(field, len(self.fields))
        if lower:
            self.lowered.add(i)
        return i

    def prologue(self) -> list[str]:
        """Read every field once, up front: ``r<i>`` the raw string, or _M (missing, and no
        dotted key could stand in for it) or _C (anything else); ``l<i>`` lower-cased;
        ``a<i>`` parsed IP address; ``m<i>`` lower-cased values across a list of objects.
        Fields sharing a path prefix share its reads (``client`` is read once for
        ``client.ipAddress`` and ``client.userAgent.rawUserAgent``)."""
        paths = {i: split_field(field) for field, i in self.fields.items()}
        lines = [f"    r{i} = _C" for i in paths]
        lines += [f"    m{i} = _C" for i in sorted(self.item_lists)]
        lines += self._walk_lines(paths, 0, "e", ("e",), "    ")
        for i in paths:
            if i in self.lowered:
                lines.append(f"    l{i} = r{i}.lower() if r{i}.__class__ is str else r{i}")
            if i in self.addresses:
                lines.append(f"    a{i} = _ip(r{i}) if r{i}.__class__ is str else None")
        return lines

    def _missing(self, parts: tuple[str, ...], depth: int, objects: tuple[str, ...]) -> str:
        """What ``r<i>`` is when the walk of ``parts`` ends at ``depth`` with nothing: _M, unless
        an object on the way holds a literal dotted key that could supply the rest of the path
        (``{"client.ipAddress": ...}`` or ``{"client": {"geographicalContext.country": ...}}``),
        in which case the general path decides (_C)."""
        if self.ci:
            return "_C"
        checks = [f"{'.'.join(parts[level:j])!r} not in {obj}"
                  for level, obj in enumerate(objects[: depth + 1]) for j in range(level + 2, len(parts) + 1)]
        return f"(_M if {' and '.join(checks)} else _C)" if checks else "_M"

    def _walk_lines(self, paths: dict[int, tuple[str, ...]], depth: int, obj: str, objects: tuple[str, ...],
                    pad: str) -> list[str]:
        """Code that follows every path in ``paths`` from ``obj`` (at ``depth``) through plain
        objects, setting ``r<i>`` where a path ends at a string (or boolean)."""
        lines: list[str] = []
        by_part: dict[str, dict[int, tuple[str, ...]]] = {}
        for i, parts in paths.items():
            by_part.setdefault(parts[depth], {})[i] = parts
        for part, group in by_part.items():
            x = f"x{min(group)}_{depth}"
            ends = [i for i, parts in group.items() if len(parts) == depth + 1]
            deeper = {i: parts for i, parts in group.items() if len(parts) > depth + 1}
            lines.append(f"{pad}{x} = {obj}.get({part!r}, _MISS)")
            lines.append(f"{pad}if {x} is _MISS:")
            lines += [f"{pad}    r{i} = {self._missing(parts, depth, objects)}" for i, parts in group.items()]
            # A null value gives nothing to compare (as good as missing for every inlined test);
            # a null object on the way is a dead end like a missing one.
            lines.append(f"{pad}elif {x} is None:")
            lines += [f"{pad}    r{i} = {'_M' if i in ends else self._missing(parts, depth, objects)}"
                      for i, parts in group.items()]
            if ends:
                lines.append(f"{pad}elif {x}.__class__ is str:")
                lines += [f"{pad}    r{i} = {x}" for i in ends]
                # Booleans compare as the text "true"/"false" (see rules/ir.py).
                lines.append(f"{pad}elif {x}.__class__ is bool:")
                lines += [f"{pad}    r{i} = 'true' if {x} else 'false'" for i in ends]
            if deeper:
                listed = [i for i, parts in deeper.items() if depth == 0 and len(parts) == 2 and i in self.item_lists]
                if listed:
                    # An array of objects (Okta target[]): their values, unless a dotted key such as
                    # "target.type" at the top could also supply the field.
                    lines.append(f"{pad}elif {x}.__class__ is list:")
                    for i in listed:
                        lines.append(f"{pad}    if {'.'.join(deeper[i])!r} not in e: m{i} = _items({x}, {deeper[i][1]!r})")
                lines.append(f"{pad}elif {x}.__class__ is dict:")
                lines += self._walk_lines(deeper, depth + 1, x, (*objects, x), pad + "    ")
        return lines

    def expr(self, node: Expr, nesting: int = 0) -> str:
        if nesting > MAX_INLINE_NESTING and isinstance(node, All | AnyOf | Not):
            return f"{self._bind(_general(node, self.ci), 'p')}(e)"
        match node:
            case All(items):
                return "(" + " and ".join(self.expr(i, nesting + 1) for i in items) + ")" if items else "True"
            case AnyOf(items):
                return "(" + " or ".join(self.expr(i, nesting + 1) for i in items) + ")" if items else "False"
            case Not(item):
                return f"(not {self.expr(item, nesting + 1)})"
            case Const(value):
                return "True" if value else "False"
            case Cmp() if self._inlinable(node):
                return self._inline_cmp(node)
            case _:
                return f"{self._bind(_general(node, self.ci), 'p')}(e)"

    @staticmethod
    def _inlinable(node: Cmp) -> bool:
        # Strings, and booleans (which equal their text); numbers keep their numeric semantics
        # in the general path.
        return (not node.all_values and bool(node.values)
                and len(split_field(node.field)) <= MAX_INLINE_PARTS
                and all(isinstance(v, str | bool) for v in node.values)
                and node.op in ("eq", "contains", "startswith", "endswith", "regex", "glob", "cidr"))

    def _inline_cmp(self, node: Cmp) -> str:
        # A comparison on a missing field is false; anything not simple takes the general path.
        fallback = f"(False if {{v}} is _M else {self._bind(_general(node, self.ci), 'p')}(e))"
        values = tuple(str(text_of(v)) for v in node.values)
        if node.op == "cidr":
            i = self._field(node.field, lower=False)
            self.addresses.add(i)
            nets = [ipaddress.ip_network(v, strict=False) for v in values]
            test = " or ".join(f"(a{i}[0] == {n.version} and a{i}[1] & {int(n.netmask)} == {int(n.network_address)})"
                               for n in nets)
            return f"((a{i} is not None and ({test})) if r{i}.__class__ is str else {fallback.format(v=f'r{i}')})"
        if node.op in ("regex", "glob"):
            # Case is handled by the pattern itself; the test takes the raw string.
            i = self._field(node.field, lower=False)
            if len(values) == 1:
                pattern = values[0] if node.op == "regex" else glob_to_regex(values[0], cased=node.cased)
                search = compile_search(pattern)
                memo, call = self._bind(search.memo, "k"), self._bind(search, "t")
                test = f"(h if (h := {memo}.get(r{i})) is not None else {call}(r{i}))"
            else:
                test = f"{self._bind(value_test(node.op, values, node.cased), 't')}(r{i})"
            return f"({test} if r{i}.__class__ is str else {fallback.format(v=f'r{i}')})"
        i = self._field(node.field, lower=not node.cased)
        local = f"r{i}" if node.cased else f"l{i}"
        needles = values if node.cased else tuple(v.lower() for v in values)
        other = fallback.format(v=local)
        if node.op == "eq":
            wanted = self._bind(frozenset(needles), "k")
            check = f"{local} in {wanted}"
            if not node.cased and not self.ci and len(split_field(node.field)) == 2:
                self.item_lists.add(i)
                other = f"((not {wanted}.isdisjoint(m{i})) if m{i} is not _C else {other})"
        elif node.op == "contains":
            check = " or ".join(f"{self._bind(n, 'k')} in {local}" for n in needles)
        else:
            check = f"{local}.{node.op}({self._bind(needles, 'k')})"
        return f"(({check}) if {local}.__class__ is str else {other})"


def compile_batch(exprs: Sequence[Expr], *, ci_fields: bool = False,
                  labels: Sequence[Any] | None = None) -> BatchPredicate:
    """One function ``event -> [positions of exprs that hold] | None`` for all of ``exprs``;
    with ``labels``, the list holds ``labels[i]`` instead of ``i`` (saves the caller a lookup)."""
    gen = _Generator(ci_fields)
    tests = [gen.expr(e) for e in exprs]
    marks = [str(i) if labels is None else gen._bind(labels[i], "u") for i in range(len(exprs))]
    # Every name the body uses is a closure variable of a factory: a cell read, not a global
    # dict lookup, and (unlike default arguments) nothing is copied on each call.
    body = [*gen.prologue(), "    out = None"]
    for test, mark in zip(tests, marks, strict=True):
        body += [f"    if {test}:", f"        if out is None: out = [{mark}]", f"        else: out.append({mark})"]
    body.append("    return out")
    names = ", ".join(gen.namespace)
    source = "\n".join([f"def make({names}):", "  def run(e):", *("  " + line for line in body), "  return run"])
    namespace: dict[str, Any] = {}
    try:
        exec(source, namespace)  # noqa: S102 - generated from our own names and repr()'d keys
    except (SyntaxError, RecursionError, MemoryError):
        # The generated code is only a faster form of compile_expr; should Python refuse it
        # (too large or too deeply nested), the predicates compile_expr builds give the answer.
        return _predicates(exprs, ci_fields, labels)
    run = namespace["make"](**gen.namespace)
    run.source = source  # for debugging and tests: the generated code
    return run


def _predicates(exprs: Sequence[Expr], ci_fields: bool, labels: Sequence[Any] | None) -> BatchPredicate:
    """``compile_batch``'s contract met with one ``compile_expr`` predicate per expression."""
    tests = [compile_expr(e, ci_fields=ci_fields) for e in exprs]
    marks = list(range(len(exprs))) if labels is None else list(labels)

    def run(event: Mapping[str, Any]) -> list[Any] | None:
        return [mark for test, mark in zip(tests, marks, strict=True) if test(event)] or None

    return run

"""Compile many IR expressions into ONE generated Python function over an event.

The streaming engine runs every rule of an anchor bucket on each event that reaches the bucket.
Rules in a bucket read the same few fields over and over, so the generated function:
  * reads each field at most once per event, lazily, into a local variable — the raw string when
    the path leads through plain objects to a string, else a marker meaning "not simple";
  * lower-cases it at most once;
  * tests string comparisons inline (set membership, ``in``, ``startswith``), with no call;
  * falls back to the general compiled predicate of a leaf (``compile_expr``) whenever the value
    is not simple (a list, a number, null, a missing key that a dotted literal key may supply).
So semantics are exactly ``compile_expr``'s; only the common case is made cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tokentrail.compile.fields import split_field
from tokentrail.compile.python import compile_expr, value_test
from tokentrail.rules.ir import All, Cmp, Const, Expr, Not
from tokentrail.rules.ir import Any as AnyOf

BatchPredicate = Callable[[Mapping[str, Any]], list[int] | None]

_UNREAD = object()
_COMPLEX = object()  # the field's value is not one plain string reached through plain objects


def _simple_reader(parts: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    """``event -> str`` at ``parts`` through dicts only, else ``_COMPLEX``."""
    if len(parts) == 1:
        (k0,) = parts

        def read1(e: Mapping[str, Any]) -> Any:
            v = e.get(k0)
            return v if v.__class__ is str else _COMPLEX

        return read1
    if len(parts) == 2:
        k0, k1 = parts

        def read2(e: Mapping[str, Any]) -> Any:
            v = e.get(k0)
            if v.__class__ is dict:
                v = v.get(k1)
                if v.__class__ is str:
                    return v
            return _COMPLEX

        return read2

    def read_n(e: Mapping[str, Any]) -> Any:
        v: Any = e
        for k in parts:
            if v.__class__ is not dict:
                return _COMPLEX
            v = v.get(k)
        return v if v.__class__ is str else _COMPLEX

    return read_n


class _Generator:
    def __init__(self, ci_fields: bool) -> None:
        self.ci = ci_fields
        self.namespace: dict[str, Any] = {"_UNREAD": _UNREAD, "_COMPLEX": _COMPLEX}
        self.fields: dict[str, int] = {}
        self.names = 0

    def _bind(self, value: Any, prefix: str) -> str:
        name = f"{prefix}{self.names}"
        self.names += 1
        self.namespace[name] = value
        return name

    def _raw(self, field: str) -> tuple[int, str]:
        """(index, expression yielding the field's raw simple value, read once per event)."""
        if field not in self.fields:
            i = self.fields[field] = len(self.fields)
            self.namespace[f"s{i}"] = _simple_reader(split_field(field))
        i = self.fields[field]
        return i, f"(r{i} if r{i} is not _UNREAD else (r{i} := s{i}(e)))"

    def _lowered(self, field: str) -> tuple[int, str]:
        i, raw = self._raw(field)
        return i, (f"(l{i} if l{i} is not _UNREAD else "
                   f"(l{i} := (r{i}.lower() if {raw} is not _COMPLEX else _COMPLEX)))")

    def expr(self, node: Expr) -> str:
        match node:
            case All(items):
                return "(" + " and ".join(self.expr(i) for i in items) + ")" if items else "True"
            case AnyOf(items):
                return "(" + " or ".join(self.expr(i) for i in items) + ")" if items else "False"
            case Not(item):
                return f"(not {self.expr(item)})"
            case Const(value):
                return "True" if value else "False"
            case Cmp() if self._inlinable(node):
                return self._inline_cmp(node)
            case _:
                return f"{self._bind(compile_expr(node, ci_fields=self.ci), 'p')}(e)"

    @staticmethod
    def _inlinable(node: Cmp) -> bool:
        return (not node.all_values and bool(node.values)
                and all(isinstance(v, str) for v in node.values)
                and node.op in ("eq", "contains", "startswith", "endswith", "regex", "glob", "cidr"))

    def _inline_cmp(self, node: Cmp) -> str:
        fallback = f"{self._bind(compile_expr(node, ci_fields=self.ci), 'p')}(e)"
        values = tuple(str(v) for v in node.values)
        if node.op in ("regex", "glob", "cidr"):
            # Case is handled by the pattern itself; the test takes the raw string.
            i, raw = self._raw(node.field)
            test = self._bind(value_test(node.op, values, node.cased), "t")
            return f"({test}(r{i}) if {raw} is not _COMPLEX else {fallback})"
        if node.cased:
            i, value = self._raw(node.field)
            local = f"r{i}"
            needles = values
        else:
            i, value = self._lowered(node.field)
            local = f"l{i}"
            needles = tuple(v.lower() for v in values)
        if node.op == "eq":
            check = f"{local} in {self._bind(frozenset(needles), 'k')}"
        elif node.op == "contains" and len(needles) == 1:
            check = f"{self._bind(needles[0], 'k')} in {local}"
        elif node.op == "contains":
            check = " or ".join(f"{self._bind(n, 'k')} in {local}" for n in needles)
        else:
            check = f"{local}.{node.op}({self._bind(needles, 'k')})"
        return f"(({check}) if {value} is not _COMPLEX else {fallback})"


def compile_batch(exprs: Sequence[Expr], *, ci_fields: bool = False) -> BatchPredicate:
    """One function ``event -> [positions of exprs that hold] | None`` for all of ``exprs``."""
    gen = _Generator(ci_fields)
    tests = [gen.expr(e) for e in exprs]
    lines = ["def run(e):"]
    for i in range(len(gen.fields)):
        lines.append(f"    r{i} = l{i} = _UNREAD")
    lines.append("    out = None")
    for i, test in enumerate(tests):
        lines += [f"    if {test}:", f"        if out is None: out = [{i}]", f"        else: out.append({i})"]
    lines.append("    return out")
    source = "\n".join(lines)
    exec(source, gen.namespace)  # noqa: S102 - generated from our own names only
    run = gen.namespace["run"]
    run.source = source  # for debugging and tests: the generated code
    return run

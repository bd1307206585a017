"""EQL (Event Query Language) -> detection IR, or a sequence ``Correlation``.

Semantics, as Elasticsearch runs EQL on ECS data:
  * ``<category> where <cond>`` adds ``event.category == <category>``; ``any where`` does not;
  * ``==``, ``in``, ``like``, ``regex`` and the string functions are case-sensitive; ``:`` and the
    ``~`` forms (``in~``, ``like~``, ``regex~``, ``startsWith~``, ...) ignore case;
  * ``:`` and ``like`` take wildcards ``*`` and ``?``; ``regex`` patterns match the whole value;
  * ``!=`` and ``not in`` are true when the field is missing;
  * functions are lowered when the IR can say the same thing: ``startsWith``, ``endsWith``,
    ``stringContains``, ``wildcard``, ``cidrMatch`` as conditions; ``length(f)``, ``number(f)``
    and ``string(f)`` compared with a constant. Any other function (``between``, ``concat``,
    ``substring``, arithmetic, ...) raises ``UnsupportedFeature`` naming it, with its position;
  * ``sequence [by k...] [with maxspan=D] [q] [by k...] [with runs=N] ... [until [q]]`` becomes
    ``Correlation(kind="sequence")``; each step's ``by`` is the sequence keys then its own keys.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any as AnyType

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from tokentrail.formats.elastic.diagnostics import QueryPosition, position_of
from tokentrail.formats.elastic.durations import span_seconds
from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, Expr, FieldRef, Not, Op
from tokentrail.rules.model import Correlation, CorrelationStep

CATEGORY_FIELD = "event.category"
MAX_RE2_REPEAT = 1000
_STRING_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_ORDER_OPS: dict[str, Op] = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_STRING_FUNCTIONS: dict[str, Op] = {
    "startswith": "startswith", "endswith": "endswith", "stringcontains": "contains",
    "wildcard": "glob", "cidrmatch": "cidr",
}


@cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("eql.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=False)


def parse_eql(query: str, *, position: QueryPosition | None = None) -> Tree:
    """Parse an EQL query into its syntax tree; raise ``RuleLoadError`` with line and column."""
    try:
        return _parser().parse(query)
    except UnexpectedInput as exc:
        raise (position or QueryPosition()).syntax_error("EQL", exc) from None


def eql_to_logic(query: str, *, position: QueryPosition | None = None) -> Expr | Correlation:
    """Lower an EQL query: an event query to an ``Expr``, a sequence to a ``Correlation``."""
    position = position or QueryPosition()
    return _Lowerer(position).start(parse_eql(query, position=position))


def unescape_string(raw: str) -> str:
    """The text of an EQL string literal (``"..."`` with escapes, or raw ``\"\"\"...\"\"\"``)."""
    if raw.startswith('"""'):
        return raw[3:-3]
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 == len(body):
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        unicode = re.match(r"u\{([0-9a-fA-F]{1,8})\}|u([0-9a-fA-F]{4})", body[i + 1:])
        if unicode:
            out.append(chr(int(unicode.group(1) or unicode.group(2), 16)))
            i += 1 + unicode.end()
            continue
        # An unknown escape keeps its backslash, as Windows paths in old rules expect.
        out.append(_STRING_ESCAPES.get(nxt, "\\" + nxt))
        i += 2
    return "".join(out)


def glob_from_wildcards(pattern: str) -> str:
    """An IR glob from an EQL wildcard pattern (``*``/``?``; a backslash is a literal)."""
    return pattern.replace("\\", "\\\\")


@dataclass(frozen=True)
class _Field:
    name: str
    token: Token


@dataclass(frozen=True)
class _Literal:
    value: AnyType
    token: Tree | Token | None


@dataclass(frozen=True)
class _Call:
    name: str
    insensitive: bool
    args: tuple[Tree | Token, ...]
    token: Token


_Value = _Field | _Literal | _Call


def _pattern_items(node: Tree) -> list[Tree | Token]:
    """The values of a ``pattern_values`` node: one value, or the items of a parenthesised list."""
    (inner,) = node.children
    return list(inner.children) if isinstance(inner, Tree) and inner.data == "expr_list" else [inner]


def _field_name(token: Token, lowerer: _Lowerer) -> str:
    text = str(token)
    if token.type != "ESCAPED_FIELD" and "[" in text:
        raise lowerer.unsupported("EQL array index in a field name", token)
    if token.type == "OPTIONAL_FIELD":
        return text[1:]
    if token.type == "ESCAPED_FIELD":
        parts = re.findall(r"`((?:``|[^`])+)`|([A-Za-z_@][A-Za-z0-9_@]*)", text)
        return ".".join((quoted.replace("``", "`") if quoted else plain) for quoted, plain in parts)
    return text


class _Lowerer:
    def __init__(self, position: QueryPosition) -> None:
        self.position = position

    # -- errors ---------------------------------------------------------------------------------

    def unsupported(self, feature: str, node: Tree | Token | None):
        return self.position.unsupported(feature, *position_of(node))

    def error(self, message: str, node: Tree | Token | None):
        return self.position.error(message, *position_of(node))

    # -- queries --------------------------------------------------------------------------------

    def start(self, tree: Tree) -> Expr | Correlation:
        query, *pipes = tree.children
        for pipe in pipes:
            raise self.unsupported(f"EQL pipe '{pipe.children[0]}'", pipe)
        if query.data == "event_query":
            return self.event_query(query)
        if query.data == "sequence":
            return self.sequence(query)
        raise self.unsupported(f"EQL {query.data}", query)

    def event_query(self, node: Tree) -> Expr:
        category_node, cond_node = node.children
        token = category_node.children[0]
        category = unescape_string(str(token)) if token.type == "STRING" else str(token)
        cond = self.cond(cond_node)
        if token.type == "NAME" and category == "any":
            return cond
        category_test = Cmp(CATEGORY_FIELD, "eq", (category,))
        if isinstance(cond, Const) and cond.value:
            return category_test
        rest = cond.items if isinstance(cond, All) else (cond,)
        return All((category_test, *rest))

    def join_keys(self, node: Tree | None) -> tuple[str, ...]:
        if node is None:
            return ()
        return tuple(self.field_of(child) for child in node.children)

    def field_of(self, node: Tree) -> str:
        return _field_name(node.children[0], self)

    def sequence(self, node: Tree) -> Correlation:
        options, *rest = node.children
        shared_by: tuple[str, ...] = ()
        maxspan: float | None = None
        for option in options.children:
            if option.data == "join_by":
                shared_by = self.join_keys(option)
            else:
                span_token = option.children[0]
                maxspan = span_seconds(str(span_token))
                if maxspan is None:
                    raise self.error(f"bad maxspan {span_token!s}", span_token)
        steps: list[CorrelationStep] = []
        until: Expr | None = None
        until_by: tuple[str, ...] | None = None
        for part in rest:
            if part.data == "missing_step":
                raise self.unsupported("EQL missing events in a sequence (![...])", part)
            query = part.children[0]
            by = shared_by + self.join_keys(next((c for c in part.children[1:] if c.data == "join_by"), None))
            if part.data == "until":
                until, until_by = self.event_query(query), by
                continue
            runs_node = next((c for c in part.children[1:] if c.data == "runs"), None)
            runs = int(str(runs_node.children[0])) if runs_node is not None else 1
            if not 1 <= runs <= 100:
                raise self.error("runs must be between 1 and 100", runs_node)
            steps.append(CorrelationStep(name=f"step{len(steps) + 1}", expr=self.event_query(query),
                                         by=by, runs=runs))
        widths = {len(s.by) for s in steps} | ({len(until_by)} if until_by is not None else set())
        if len(widths) > 1:
            raise self.error("every sequence step must have the same number of join keys", node)
        if len(steps) + sum(s.runs - 1 for s in steps) < 2:
            raise self.error("a sequence needs at least two steps", node)
        return Correlation(kind="sequence", steps=tuple(steps), timespan=maxspan, until=until)

    # -- conditions -----------------------------------------------------------------------------

    def cond(self, node: Tree | Token) -> Expr:
        if isinstance(node, Token):
            raise self.error(f"unexpected {node!s}", node)
        kind = node.data
        if kind == "or_expr":
            return Any(tuple(self.cond(c) for c in node.children))
        if kind == "and_expr":
            return All(tuple(self.cond(c) for c in node.children))
        if kind == "negation":
            return Not(self.cond(node.children[0]))
        if kind == "compare":
            left, op, right = node.children
            return self.compare(self.value(left), str(op), self.value(right), op)
        if kind == "insensitive_equal":
            return self.insensitive_equal(self.value(node.children[0]), node.children[1])
        if kind in ("in_list", "not_in"):
            return self.in_list(node)
        if kind in ("like", "regex"):
            return self.pattern_match(node)
        if kind == "call":
            return self.call_condition(self.value(node))
        if kind == "field":
            # A bare field as a condition asks whether it holds boolean true.
            return Cmp(self.field_of(node), "eq", (True,), cased=True)
        if kind in ("true", "false"):
            return Const(kind == "true")
        if kind in ("sum", "product"):
            raise self.unsupported("EQL arithmetic", node)
        raise self.error("this value is not a condition", node)

    def value(self, node: Tree | Token) -> _Value:
        if isinstance(node, Tree):
            if node.data == "field":
                return _Field(self.field_of(node), node.children[0])
            if node.data == "literal":
                token = node.children[0]
                if token.type == "NUMBER":
                    text = str(token)
                    number = float(text) if any(c in text for c in ".eE") else int(text)
                    return _Literal(number, token)
                return _Literal(unescape_string(str(token)), token)
            if node.data in ("true", "false", "null"):
                return _Literal({"true": True, "false": False, "null": None}[node.data], node)
            if node.data == "call":
                name_token = node.children[0]
                rest = node.children[1:]
                insensitive = bool(rest) and isinstance(rest[0], Token) and rest[0].type == "TILDE"
                if insensitive:
                    rest = rest[1:]
                args = tuple(rest[0].children) if rest else ()
                return _Call(str(name_token), insensitive, args, name_token)
            if node.data in ("sum", "product"):
                raise self.unsupported("EQL arithmetic", node)
        raise self.unsupported("a condition used as a value", node)

    def literal_values(self, nodes, what: str) -> list[_Literal]:
        values = [self.value(n) for n in nodes]
        for v in values:
            if not isinstance(v, _Literal):
                raise self.unsupported(f"a non-constant value in {what}", v.token)
        return values  # type: ignore[return-value]

    def compare(self, left: _Value, op: str, right: _Value, op_token: Token) -> Expr:
        if isinstance(left, _Literal) and not isinstance(right, _Literal):
            left, right, op = right, left, _FLIP[op]
        if isinstance(left, _Literal):
            raise self.unsupported("a comparison between two constants", op_token)
        if isinstance(left, _Call):
            if not isinstance(right, _Literal):
                raise self.unsupported(f"EQL function {left.name} compared with a non-constant", left.token)
            return self.function_compare(left, op, right.value)
        if isinstance(right, _Field):
            if op in ("==", "!="):
                ref = FieldRef(left.name, right.name, "eq", cased=True)
                return ref if op == "==" else Not(ref)
            return FieldRef(left.name, right.name, _ORDER_OPS[op])
        if isinstance(right, _Call):
            raise self.unsupported(f"EQL function {right.name} compared with a field", right.token)
        return self.field_compare(left.name, op, right.value, op_token)

    def field_compare(self, field: str, op: str, value: AnyType, where: Token | None) -> Expr:
        if op in ("==", "!="):
            test = Cmp(field, "eq", (value,), cased=True)
            return test if op == "==" else Not(test)
        if value is None:
            raise self.error(f"'{op}' with null", where)
        return Cmp(field, _ORDER_OPS[op], (value,))

    def insensitive_equal(self, left: _Value, right_node: Tree) -> Expr:
        if isinstance(left, _Call):
            raise self.unsupported(f"EQL function {left.name}", left.token)
        if not isinstance(left, _Field):
            raise self.unsupported("':' on something other than a field", left.token)
        nodes = _pattern_items(right_node)
        tests: list[Expr] = []
        plain: list[AnyType] = []
        globs: list[str] = []
        for node in nodes:
            value = self.value(node)
            if isinstance(value, _Field):
                tests.append(FieldRef(left.name, value.name, "eq", cased=False))
            elif isinstance(value, _Call):
                raise self.unsupported(f"EQL function {value.name} on the right of ':'", value.token)
            elif isinstance(value.value, str) and ("*" in value.value or "?" in value.value):
                globs.append(glob_from_wildcards(value.value))
            else:
                plain.append(value.value)
        if plain:
            tests.insert(0, Cmp(left.name, "eq", tuple(plain)))
        if globs:
            tests.append(Cmp(left.name, "glob", tuple(globs)))
        return tests[0] if len(tests) == 1 else Any(tuple(tests))

    def in_list(self, node: Tree) -> Expr:
        negate = node.data == "not_in"
        subject, *rest = node.children
        insensitive = isinstance(rest[0], Token) and rest[0].type == "TILDE"
        items = rest[-1].children
        left = self.value(subject)
        if not isinstance(left, _Field):
            raise self.unsupported("'in' on something other than a field", left.token)
        tests: list[Expr] = []
        literals: list[AnyType] = []
        for item in items:
            value = self.value(item)
            if isinstance(value, _Field):
                tests.append(FieldRef(left.name, value.name, "eq", cased=not insensitive))
            elif isinstance(value, _Call):
                raise self.unsupported(f"EQL function {value.name} in an 'in' list", value.token)
            else:
                literals.append(value.value)
        if literals:
            tests.insert(0, Cmp(left.name, "eq", tuple(literals), cased=not insensitive))
        test = tests[0] if len(tests) == 1 else Any(tuple(tests))
        return Not(test) if negate else test

    def pattern_match(self, node: Tree) -> Expr:
        subject, *rest = node.children
        insensitive = isinstance(rest[0], Token) and rest[0].type == "TILDE"
        patterns_node = rest[-1]
        left = self.value(subject)
        if not isinstance(left, _Field):
            raise self.unsupported(f"'{node.data}' on something other than a field", left.token)
        nodes = _pattern_items(patterns_node)
        patterns = [v.value for v in self.literal_values(nodes, f"a {node.data} pattern")]
        if not all(isinstance(p, str) for p in patterns):
            raise self.error(f"{node.data} patterns must be strings", node)
        if node.data == "like":
            return Cmp(left.name, "glob", tuple(glob_from_wildcards(p) for p in patterns),
                       cased=not insensitive)
        flags = "(?is)" if insensitive else "(?s)"
        return Cmp(left.name, "regex", tuple(f"{flags}^(?:{p})$" for p in patterns), cased=not insensitive)

    # -- functions ------------------------------------------------------------------------------

    def call_args(self, call: _Call) -> tuple[str, list[AnyType]]:
        """The field a string function reads and its constant arguments."""
        if len(call.args) < 2:
            raise self.error(f"{call.name} needs a field and at least one value", call.token)
        first = self.value(call.args[0])
        if not isinstance(first, _Field):
            raise self.unsupported(f"EQL function {call.name} on something other than a field", call.token)
        values = [v.value for v in self.literal_values(call.args[1:], f"{call.name} arguments")]
        if not all(isinstance(v, str) for v in values):
            raise self.error(f"{call.name} takes string values", call.token)
        return first.name, values

    def call_condition(self, call: _Call) -> Expr:
        op = _STRING_FUNCTIONS.get(call.name.lower())
        if op is None:
            raise self.unsupported(f"EQL function {call.name}", call.token)
        field, values = self.call_args(call)
        if op == "cidr":
            for value in values:
                try:
                    ipaddress.ip_network(value, strict=False)
                except ValueError:
                    raise self.error(f"cidrMatch: {value!r} is not a network", call.token) from None
            return Cmp(field, "cidr", tuple(values))
        if op == "glob":
            values = [glob_from_wildcards(v) for v in values]
        return Cmp(field, op, tuple(values), cased=not call.insensitive)

    def function_compare(self, call: _Call, op: str, value: AnyType) -> Expr:
        name = call.name.lower()
        if name in ("length", "number", "string") and len(call.args) >= 1:
            subject = self.value(call.args[0])
            if isinstance(subject, _Field):
                if name == "length" and len(call.args) == 1:
                    return self.length_compare(subject.name, op, value, call)
                if name == "number" and self.decimal_base(call):
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        raise self.error("number() compared with a non-number", call.token)
                    return self.field_compare(subject.name, op, value, call.token)
                if name == "string" and len(call.args) == 1:
                    text = value if isinstance(value, str) or value is None else str(value)
                    return self.field_compare(subject.name, op, text, call.token)
        raise self.unsupported(f"EQL function {call.name}", call.token)

    def decimal_base(self, call: _Call) -> bool:
        if len(call.args) == 1:
            return True
        base = self.value(call.args[1])
        return len(call.args) == 2 and isinstance(base, _Literal) and base.value == 10

    def length_compare(self, field: str, op: str, value: AnyType, call: _Call) -> Expr:
        """``length(field) <op> n`` for strings, as an anchored regex over the character count."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error("length() compared with a non-integer", call.token)
        low, high = {"==": (value, value), "!=": (value, value), "<": (0, value - 1),
                     "<=": (0, value), ">": (value + 1, None), ">=": (value, None)}[op]
        if high is not None and high < 0:
            return Const(False) if op != "!=" else Exists(field, non_null=True)
        low = max(low, 0)
        if low > MAX_RE2_REPEAT or (high is not None and high > MAX_RE2_REPEAT):
            raise self.unsupported(f"EQL function {call.name} with a bound above {MAX_RE2_REPEAT}", call.token)
        count = f"{{{low}}}" if low == high else f"{{{low},{'' if high is None else high}}}"
        test = Cmp(field, "regex", (f"(?s)^.{count}$",), cased=True)
        return Not(test) if op == "!=" else test

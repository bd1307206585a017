"""ES|QL row expressions (what ``WHERE`` and ``EVAL`` say about one event) -> detection IR.

ES|QL logic has three values: a comparison with a missing (null) field is null, ``NOT null`` is
null, and ``WHERE`` keeps only rows whose condition is true. So each condition is lowered twice,
to "is true" (``truth``) and "is false" (``falsity``); ``NOT x`` is true exactly when ``x`` is
false. Hence ``f != "x"`` and ``NOT f IN (...)`` need ``f`` present, unlike in KQL and EQL.

Values: a field, optionally through ``TO_LOWER``/``TO_UPPER`` (a case-insensitive comparison),
a cast (``f::STRING``, ``TO_STRING(f)``: the same value), ``MV_DEDUPE`` (the same values), a
literal, or a choice between them (``CASE``, ``COALESCE``), which is lowered branch by branch,
each branch guarded by the conditions that select it. Comparisons of keyword values are
case-sensitive; ``LIKE`` takes ``*``/``?`` wildcards and ``RLIKE`` a Lucene regular expression,
both matching the whole value. Anything else (arithmetic on fields, other functions) raises
``UnsupportedFeature`` naming it and its place in the query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any as AnyType

from lark import Token, Tree

from tokentrail.errors import UnsupportedFeature
from tokentrail.formats.elastic.esql_extract import Extracted
from tokentrail.rules.ir import All, Cmp, Const, Exists, Expr, FieldRef, Op, all_of, any_of, negate

_ORDER: dict[str, Op] = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}
_IDENTITY_FUNCTIONS = {"to_string", "to_str", "mv_dedupe", "to_ip", "to_keyword"}
_CASTS = {"string", "keyword", "text", "ip"}
_FOLDS = {"to_lower": "lower", "to_upper": "upper"}
_STRING_TESTS: dict[str, Op] = {"starts_with": "startswith", "ends_with": "endswith"}

TRUE, FALSE = Const(True), Const(False)


@dataclass(frozen=True, slots=True)
class FieldValue:
    """The value of an event field, folded to one case when ``fold`` says so."""

    field: str
    fold: str | None = None


@dataclass(frozen=True, slots=True)
class Literal:
    value: AnyType


@dataclass(frozen=True, slots=True)
class Choice:
    """A value chosen by conditions: ``(guard, value)`` pairs, exactly one guard holding per row."""

    branches: tuple[tuple[Expr, Value], ...]


Value = FieldValue | Literal | Choice | Extracted
# A column made by EVAL or RENAME (its defining expression and the columns known at that point),
# or by DISSECT or GROK (the extraction itself).
Column = tuple["Tree | Extracted", "Mapping[str, Column]"]


def field_name(token: Token | str) -> str:
    """A field name as written, back-quoted parts unquoted (``source.`as`.number``)."""
    parts = re.findall(r"`((?:``|[^`])+)`|([^.`]+)", str(token))
    return ".".join(quoted.replace("``", "`") if quoted else plain for quoted, plain in parts)


def string_value(token: Token | str) -> str:
    """The text of an ES|QL string literal (``"..."`` with escapes, or ``\"\"\"raw\"\"\"``)."""
    raw = str(token)
    if raw.startswith('"""'):
        return raw[3:-3]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw[1:-1], flags=re.S)


def and_(*items: Expr) -> Expr:
    """``all_of`` the items, without the presence tests a comparison on the same field implies."""
    joined = all_of(*items)
    if not isinstance(joined, All):
        return joined
    compared = {i.field for i in joined.items if isinstance(i, Cmp) and None not in i.values}
    kept = [i for i in joined.items if not (isinstance(i, Exists) and i.non_null and i.field in compared)]
    return all_of(*kept) if len(kept) != len(joined.items) else joined


or_ = any_of
not_ = negate


def present(field: str) -> Expr:
    """The field holds a value that is not null."""
    return Exists(field, non_null=True)


class RowLowerer:
    """Lowers the expressions of one query; ``columns`` maps names made by ``EVAL``/``RENAME``
    to the expressions that define them, ``unsupported`` builds located errors."""

    def __init__(self, columns: Mapping[str, Column],
                 unsupported: Callable[[str, Tree | Token | None], UnsupportedFeature]) -> None:
        self.columns = columns
        self.unsupported = unsupported

    # -- conditions -------------------------------------------------------------------------

    def truth(self, node: Tree | Token) -> Expr:
        """The IR for "``node`` is true"."""
        return self._logic(node, want=True)

    def falsity(self, node: Tree | Token) -> Expr:
        """The IR for "``node`` is false" (not merely "not true": null is neither)."""
        return self._logic(node, want=False)

    def _logic(self, node: Tree | Token, want: bool) -> Expr:
        if isinstance(node, Tree):
            kind = node.data
            if kind == "and_":
                a, b = (self._logic(c, want) for c in node.children)
                return and_(a, b) if want else or_(a, b)
            if kind == "or_":
                a, b = (self._logic(c, want) for c in node.children)
                return or_(a, b) if want else and_(a, b)
            if kind == "not_":
                return self._logic(node.children[0], not want)
            if kind in ("is_null", "is_not_null"):
                null = self.null(node.children[0])
                return null if (kind == "is_null") == want else not_(null)
            if kind == "compare":
                left, op, right = node.children
                return self._compare(self.value(left), str(op), self.value(right), want, node)
            if kind in ("in_", "not_in"):
                return self._in(node, want if kind == "in_" else not want)
            if kind in ("like", "not_like", "rlike", "not_rlike"):
                positive = not kind.startswith("not_")
                return self._pattern(node, kind.endswith("rlike"), want if positive else not want)
            if kind == "call" and str(node.children[0]).lower() in (*_STRING_TESTS, "cidr_match"):
                return self._string_test(node, want)
        # Anything else is a value used as a condition: a boolean field, literal or choice.
        return self._compare(self.value(node), "==", Literal(want), True, node)

    def null(self, node: Tree | Token) -> Expr:
        """The IR for "``node`` is null"."""
        if isinstance(node, Tree) and node.data in ("and_", "or_", "not_", "compare", "in_", "not_in",
                                                    "like", "not_like", "rlike", "not_rlike"):
            return not_(or_(self.truth(node), self.falsity(node)))
        return self._value_null(self.value(node))

    def _value_null(self, value: Value) -> Expr:
        if isinstance(value, FieldValue):
            return not_(present(value.field))
        if isinstance(value, Literal):
            return Const(value.value is None)
        if isinstance(value, Extracted):
            return not_(Cmp(value.field, "regex", (value.regex(),), cased=True))
        return or_(*(and_(guard, self._value_null(v)) for guard, v in value.branches))

    # -- values -----------------------------------------------------------------------------

    def value(self, node: Tree | Token) -> Value:
        """What ``node`` stands for as a value."""
        if isinstance(node, Token):
            raise self.unsupported(f"ES|QL token {node!s}", node)
        kind = node.data
        if kind == "field":
            name = field_name(node.children[0])
            defined = self.columns.get(name)
            if defined is None:
                return FieldValue(name)
            tree, scope = defined  # lowered in the columns known where it was defined
            if isinstance(tree, Extracted):
                return tree
            return RowLowerer(scope, self.unsupported).value(tree)
        if kind == "string":
            return Literal(string_value(node.children[0]))
        if kind == "number":
            text = str(node.children[0])
            return Literal(float(text) if any(c in text for c in ".eE") else int(text))
        if kind in ("true", "false"):
            return Literal(kind == "true")
        if kind == "null":
            return Literal(None)
        if kind == "negative":
            inner = self.value(node.children[0])
            if isinstance(inner, Literal) and isinstance(inner.value, int | float):
                return Literal(-inner.value)
            raise self.unsupported("ES|QL arithmetic on a field (unary -)", node)
        if kind == "cast":
            inner_node, type_token = node.children
            if str(type_token).lower() not in _CASTS:
                raise self.unsupported(f"ES|QL cast ::{type_token}", node)
            return self.value(inner_node)
        if kind == "call":
            return self._call_value(node)
        if kind in ("and_", "or_", "not_", "compare", "is_null", "is_not_null", "in_", "not_in",
                    "like", "not_like", "rlike", "not_rlike"):
            truth, falsity = self.truth(node), self.falsity(node)
            return Choice(((truth, Literal(True)), (falsity, Literal(False)),
                           (not_(or_(truth, falsity)), Literal(None))))
        if kind == "arith":
            raise self.unsupported(f"ES|QL arithmetic ({node.children[1]}) on event values", node)
        if kind == "span":
            raise self.unsupported("ES|QL time span outside DATE_TRUNC", node)
        raise self.unsupported(f"ES|QL expression {kind}", node)

    def _call_value(self, node: Tree) -> Value:
        name_token, *args = node.children
        name = str(name_token).lower()
        args = [a for a in args if a is not None]
        if name in _IDENTITY_FUNCTIONS and len(args) == 1:
            return self.value(args[0])
        if name in _FOLDS and len(args) == 1:
            inner = self.value(args[0])
            return _fold(inner, _FOLDS[name])
        if name == "case" and len(args) >= 2:
            branches: list[tuple[Expr, Value]] = []
            not_before: Expr = TRUE  # no earlier condition was true
            pairs, default = args[: len(args) // 2 * 2], args[-1] if len(args) % 2 else None
            for cond, result in zip(pairs[::2], pairs[1::2], strict=True):
                truth = self.truth(cond)
                branches.append((and_(not_before, truth), self.value(result)))
                not_before = and_(not_before, not_(truth))
            branches.append((not_before, self.value(default) if default is not None else Literal(None)))
            return Choice(tuple(branches))
        if name == "coalesce" and args:
            branches, none_before = [], TRUE
            for arg in args:
                value = self.value(arg)
                null = self._value_null(value)
                branches.append((and_(none_before, not_(null)), value))
                none_before = and_(none_before, null)
            branches.append((none_before, Literal(None)))
            return Choice(tuple(branches))
        if name in (*_STRING_TESTS, "cidr_match"):
            truth, falsity = self._string_test(node, True), self._string_test(node, False)
            return Choice(((truth, Literal(True)), (falsity, Literal(False)),
                           (not_(or_(truth, falsity)), Literal(None))))
        raise self.unsupported(f"ES|QL function {name.upper()}", node)

    # -- comparisons ------------------------------------------------------------------------

    def _compare(self, left: Value, op: str, right: Value, want: bool, node: Tree | Token) -> Expr:
        if isinstance(left, Choice):
            return or_(*(and_(g, self._compare(v, op, right, want, node)) for g, v in left.branches))
        if isinstance(right, Choice):
            return or_(*(and_(g, self._compare(left, op, v, want, node)) for g, v in right.branches))
        if isinstance(left, Literal) and isinstance(right, Literal):
            return _literal_compare(left.value, op, right.value, want)
        if isinstance(left, Literal):
            return self._compare(right, _FLIP[op], left, want, node)
        if isinstance(left, Extracted) or isinstance(right, Extracted):
            if not (isinstance(left, Extracted) and isinstance(right, Literal)):
                raise self.unsupported("ES|QL comparison of a DISSECT/GROK key with a field", node)
            if op not in ("==", "!="):
                raise self.unsupported(f"ES|QL {op} on a DISSECT/GROK key (keys compare as text)", node)
            if right.value is None:
                return FALSE
            text = str(right.value)
            if (left.fold is not None and _folds_away(text, left.fold)) or (left.stop and left.stop in text):
                equal: Expr = FALSE
            else:
                equal = Cmp(left.field, "regex", (left.regex(re.escape(text)),), cased=True)
            return self._extracted_holds(left, equal if op == "==" else None, equal, want)
        assert isinstance(left, FieldValue)
        if isinstance(right, FieldValue):
            if left.fold != right.fold:
                raise self.unsupported("ES|QL comparison of a case-folded field with an unfolded one", node)
            base = FieldRef(left.field, right.field, "eq" if op in ("==", "!=") else _ORDER[op],
                            cased=left.fold is None)
            both = and_(present(left.field), present(right.field))
            holds = not_(base) if op == "!=" else base
            return and_(both, holds) if want else and_(both, not_(holds))
        return self._field_literal(left, op, right.value, want)

    def _extracted_holds(self, key: Extracted, holds: Expr | None, equal: Expr, want: bool) -> Expr:
        """Truth or falsity of a test on an extracted key: ``holds`` the test (None: "not
        ``equal``"); the key is null, so neither, when the pattern does not match."""
        matched = Cmp(key.field, "regex", (key.regex(),), cased=True)
        if holds is None:  # a != test
            return and_(matched, not_(equal)) if want else equal
        return holds if want else and_(matched, not_(holds))

    def _field_literal(self, left: FieldValue, op: str, value: AnyType, want: bool) -> Expr:
        if value is None:
            return FALSE  # any comparison with null is null: neither true nor false
        if op in ("==", "!="):
            equal = _equal(left, value)
            holds = equal if op == "==" else not_(equal)
        else:
            holds = Cmp(left.field, _ORDER[op], (value,))
        return holds if want and op != "!=" else and_(present(left.field), holds if want else not_(holds))

    def _in(self, node: Tree, want: bool) -> Expr:
        subject, *items = node.children
        value = self.value(subject)
        others = [self.value(item) for item in items]
        if isinstance(value, FieldValue) and all(isinstance(o, Literal) and o.value is not None for o in others):
            texts = tuple(o.value for o in others)  # type: ignore[union-attr]
            if value.fold is not None:
                texts = tuple(t for t in texts if not (isinstance(t, str) and _folds_away(t, value.fold)))
            cased = value.fold is None and all(isinstance(t, str) for t in texts)
            equal = Cmp(value.field, "eq", texts, cased=cased) if texts else FALSE
            return equal if want else and_(present(value.field), not_(equal))
        tests = [self._logic_compare(value, item) for item in items]
        truths = [t for t, _ in tests]
        falsities = [f for _, f in tests]
        # x IN (a, b) is true when one item equals, false when every item differs.
        return or_(*truths) if want else and_(*falsities)

    def _logic_compare(self, value: Value, item: Tree | Token) -> tuple[Expr, Expr]:
        other = self.value(item)
        return (self._compare(value, "==", other, True, item), self._compare(value, "==", other, False, item))

    def _pattern(self, node: Tree, regex: bool, want: bool) -> Expr:
        subject, patterns = node.children
        value = self.value(subject)
        texts = [string_value(t) for t in patterns.children]
        return self._pattern_value(value, texts, regex, want, node)

    def _pattern_value(self, value: Value, texts: list[str], regex: bool, want: bool, node: Tree) -> Expr:
        if isinstance(value, Choice):
            return or_(*(and_(g, self._pattern_value(v, texts, regex, want, node)) for g, v in value.branches))
        if isinstance(value, Literal):
            if value.value is None:
                return FALSE
            raise self.unsupported(f"ES|QL {'RLIKE' if regex else 'LIKE'} on a constant", node)
        if regex and value.fold is not None and any(_folds_away(t, value.fold) for t in texts):
            # A regex is not a literal: "b|A" still matches a lowered "b". RE2's (?i) says the same
            # only for patterns written in the folded case.
            raise self.unsupported(f"ES|QL RLIKE on TO_{value.fold.upper()}() with letters of the other case", node)
        if isinstance(value, Extracted):
            if regex and value.stop:
                raise self.unsupported("ES|QL RLIKE on a DISSECT key that ends at a delimiter", node)
            inners = [lucene_regex(t, self.unsupported, node) if regex else like_regex(t, value.any_char)
                      for t in texts if value.fold is None or not _folds_away(t, value.fold)]
            holds = Cmp(value.field, "regex", tuple(value.regex(i) for i in inners), cased=True) if inners else FALSE
            return self._extracted_holds(value, holds, holds, want)
        cased = value.fold is None
        if not cased and any(_folds_away(t, value.fold) for t in texts):
            # TO_LOWER(f) LIKE "A*" can never hold: keep only the patterns that could.
            texts = [t for t in texts if not _folds_away(t, value.fold)]
            if not texts:
                return FALSE if want else present(value.field)
        if regex:
            values = tuple(("" if cased else "(?i)") + "^(?:" + lucene_regex(t, self.unsupported, node) + ")$"
                           for t in texts)
            holds: Expr = Cmp(value.field, "regex", values, cased=True)
        else:
            holds = Cmp(value.field, "glob", tuple(texts), cased=cased)
        return holds if want else and_(present(value.field), not_(holds))

    def _string_test(self, node: Tree, want: bool) -> Expr:
        name_token, *args = node.children
        name = str(name_token).lower()
        if len(args) < 2 or (name != "cidr_match" and len(args) != 2):
            raise self.unsupported(f"ES|QL function {name.upper()} with {len(args)} argument(s)", node)
        needles = [self.value(a) for a in args[1:]]
        if not all(isinstance(n, Literal) and isinstance(n.value, str) for n in needles):
            raise self.unsupported(f"ES|QL function {name.upper()} with a second argument that is not text", node)
        texts = tuple(n.value for n in needles)  # type: ignore[union-attr]
        return self._string_test_value(self.value(args[0]), name, texts, want, node)

    def _string_test_value(self, value: Value, name: str, texts: tuple[str, ...], want: bool,
                           node: Tree) -> Expr:
        if isinstance(value, Choice):
            return or_(*(and_(g, self._string_test_value(v, name, texts, want, node)) for g, v in value.branches))
        if isinstance(value, Extracted):
            if name == "cidr_match":
                raise self.unsupported("ES|QL CIDR_MATCH on a DISSECT/GROK key", node)
            text, rest = re.escape(texts[0]), value.any_char + "*"
            inner = text + rest if name == "starts_with" else rest + text
            folds = (value.fold is not None and _folds_away(texts[0], value.fold)) \
                or bool(value.stop and value.stop in texts[0])
            holds = FALSE if folds else Cmp(value.field, "regex", (value.regex(inner),), cased=True)
            return self._extracted_holds(value, holds, holds, want)
        if isinstance(value, Literal):
            if not isinstance(value.value, str):
                if value.value is None:
                    return FALSE
                raise self.unsupported(f"ES|QL function {name.upper()} on a value that is not text", node)
            if name == "cidr_match":
                raise self.unsupported("ES|QL function CIDR_MATCH on a constant", node)
            hit = value.value.startswith(texts[0]) if name == "starts_with" else value.value.endswith(texts[0])
            return Const(hit == want)
        if name == "cidr_match":
            holds: Expr = Cmp(value.field, "cidr", texts)
        elif value.fold is not None and _folds_away(texts[0], value.fold):
            return FALSE if want else present(value.field)
        else:
            holds = Cmp(value.field, _STRING_TESTS[name], texts, cased=value.fold is None)
        return holds if want else and_(present(value.field), not_(holds))


def _fold(value: Value, fold: str) -> Value:
    if isinstance(value, FieldValue):
        return FieldValue(value.field, fold)
    if isinstance(value, Extracted):
        return value.folded(fold)
    if isinstance(value, Literal):
        v = value.value
        return Literal(v.lower() if fold == "lower" else v.upper()) if isinstance(v, str) else value
    return Choice(tuple((g, _fold(v, fold)) for g, v in value.branches))


def _folds_away(text: str, fold: str | None) -> bool:
    """Whether a folded value can never equal ``text`` (it holds letters of the other case)."""
    return text != (text.lower() if fold == "lower" else text.upper())


def _equal(left: FieldValue, value: AnyType) -> Expr:
    if left.fold is None:
        return Cmp(left.field, "eq", (value,), cased=isinstance(value, str))
    if isinstance(value, str) and _folds_away(value, left.fold):
        return FALSE
    return Cmp(left.field, "eq", (value,), cased=False)


def _literal_compare(a: AnyType, op: str, b: AnyType, want: bool) -> Expr:
    if a is None or b is None:
        return FALSE
    try:
        result = {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    except TypeError:
        return FALSE
    return Const(result == want)


def like_regex(pattern: str, any_char: str = ".") -> str:
    """RE2 syntax for an ES|QL ``LIKE`` pattern (``*``, ``?``; ``\\`` makes the next character
    plain); ``any_char`` is what a wildcard character may be."""
    return "".join(any_char + "*" if token == "*" else any_char if token == "?" else re.escape(token[-1])
                   for token in re.findall(r"\\.|.", pattern, flags=re.S))


_SHORTHANDS = set("dDsSwW")


def lucene_regex(pattern: str, unsupported: Callable[[str, Tree | Token | None], UnsupportedFeature],
                 node: Tree | Token | None) -> str:
    """RE2 syntax for a Lucene regular expression, as ``RLIKE`` reads it (without anchors).

    Lucene's ``@`` (any string) and ``#`` (the empty language) are translated; ``"..."`` is a
    literal string; ``^`` and ``$`` are plain characters; ``\\d \\s \\w`` and their negations
    are classes; any other escaped character stands for itself. Complement (``~``),
    intersection (``&``) and numeric intervals (``<1-9>``) have no RE2 form and are refused.
    """
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\" + nxt if nxt in _SHORTHANDS else re.escape(nxt))
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            out.append(ch)
            if pattern[i + 1:i + 2] == "^":
                out.append("^")
                i += 1
        elif ch == '"':
            end = pattern.find('"', i + 1)
            if end < 0:
                raise unsupported("ES|QL RLIKE pattern with an unclosed quote", node)
            out.append(re.escape(pattern[i + 1:end]))
            i = end + 1
            continue
        elif ch == "@":
            out.append("(?s:.*)")
        elif ch == "#":
            out.append("[^\\s\\S]")
        elif ch in "~&<":
            raise unsupported(f"ES|QL RLIKE operator {ch!r} (Lucene regex)", node)
        elif ch in "^$":
            out.append("\\" + ch)
        elif ch == ".":
            out.append("(?s:.)")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def conjuncts(node: Tree | Token) -> list[Tree | Token]:
    """The parts of a condition joined by AND, flattened."""
    if isinstance(node, Tree) and node.data == "and_":
        return [c for child in node.children for c in conjuncts(child)]
    return [node]


def fields_in(node: Tree | Token) -> set[str]:
    """The field names an expression reads."""
    if isinstance(node, Token):
        return set()
    if node.data == "field":
        return {field_name(node.children[0])}
    return {f for child in node.children if child is not None for f in fields_in(child)}

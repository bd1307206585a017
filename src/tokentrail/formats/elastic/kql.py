"""KQL (Kibana Query Language) -> detection IR.

Semantics follow Elasticsearch on ECS data:
  * keyword fields (the default) compare exactly and case-sensitively (``Cmp(cased=True)``);
  * ``*`` in an unquoted value is a wildcard (``glob``); quoted values never have wildcards;
  * ``field:*`` means the field holds a non-null value;
  * text fields (``ecs_text_fields.yml``) compare by words, ignoring case and punctuation: an
    unquoted value matches when any of its words occurs, a quoted value when its words occur in
    order, side by side (lowered to RE2 regexes over word boundaries);
  * ranges (``<``, ``<=``, ``>``, ``>=``) compare numbers, or strings (ISO dates order as text);
    date math such as ``now-1d`` is not supported;
  * ``field:{ sub:value }`` (nested documents) reads ``field.sub``; TokenTrail matches each
    sub-field on its own, not within one element of the nested array;
  * a value without a field is a full-text search for an exact (case-sensitive) string value
    anywhere in the event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from tokentrail.formats.elastic.diagnostics import QueryPosition
from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, Expr, Keywords, Not

_WORD_CLASS = r"[\pL\pN_]"
_NOT_WORD = r"[^\pL\pN_]"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r"}
_DATE_MATH = re.compile(r"^now([+-/]|$)|\|\|")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("kql.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=False)


@dataclass(frozen=True)
class TextFields:
    """Which fields are analysed text: named ones, and any ending with one of ``suffixes``."""

    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()

    def __contains__(self, field: object) -> bool:
        return isinstance(field, str) and (field in self.names or field.endswith(self.suffixes))


@cache
def ecs_text_fields() -> TextFields:
    """The ECS text fields table shipped with TokenTrail (``ecs_text_fields.yml``)."""
    raw = resources.files(__package__).joinpath("ecs_text_fields.yml").read_text(encoding="utf-8")
    data = yaml.safe_load(raw) or {}
    return TextFields(frozenset(data.get("fields") or ()), tuple(data.get("suffixes") or ()))


def parse_kql(query: str, *, position: QueryPosition | None = None) -> Tree:
    """Parse a KQL query into its syntax tree; raise ``RuleLoadError`` with line and column."""
    try:
        return _parser().parse(query)
    except UnexpectedInput as exc:
        raise (position or QueryPosition()).syntax_error("KQL", exc) from None


def kql_to_ir(query: str, *, text_fields: TextFields | None = None,
              position: QueryPosition | None = None) -> Expr:
    """Lower a KQL query to the IR (an empty query matches every event)."""
    position = position or QueryPosition()
    tree = parse_kql(query, position=position)
    fields = ecs_text_fields() if text_fields is None else text_fields
    return _Lowerer(fields, position).query(tree)


@dataclass(frozen=True)
class Piece:
    """One character of an unquoted value, and whether it was written escaped."""

    char: str
    escaped: bool = False

    @property
    def wildcard(self) -> bool:
        return self.char == "*" and not self.escaped


def unescape_term(raw: str) -> list[Piece]:
    """Characters of an unquoted term with backslash escapes resolved (``\\*`` is a literal)."""
    out: list[Piece] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[i + 2:i + 6]):
                out.append(Piece(chr(int(raw[i + 2:i + 6], 16)), True))
                i += 6
                continue
            out.append(Piece(_ESCAPES.get(nxt, nxt), True))
            i += 2
            continue
        out.append(Piece(ch))
        i += 1
    return out


def unquote(raw: str) -> str:
    """The text of a double-quoted KQL string (escapes resolved, no wildcards)."""
    return "".join(p.char for p in unescape_term(raw[1:-1]))


def terms_pieces(tokens: Iterable[Token]) -> list[Piece]:
    """Whitespace-separated terms of one value, joined by single spaces."""
    out: list[Piece] = []
    for n, token in enumerate(tokens):
        if n:
            out.append(Piece(" "))
        out.extend(unescape_term(str(token)))
    return out


def glob_of(pieces: list[Piece]) -> str:
    """An IR glob for the pieces: unescaped ``*`` is the wildcard, everything else literal."""
    return "".join("*" if p.wildcard else ("\\" + p.char if p.char in "*?\\" else p.char)
                   for p in pieces)


def words_of(pieces: list[Piece]) -> list[list[Piece]]:
    """Split pieces into words as an analyser would (letters, digits, ``_``; ``*`` stays inside)."""
    words: list[list[Piece]] = []
    current: list[Piece] = []
    for p in pieces:
        if p.wildcard or p.char.isalnum() or p.char == "_":
            current.append(p)
        elif current:
            words.append(current)
            current = []
    if current:
        words.append(current)
    return words


def _word_regex(word: list[Piece]) -> str:
    return "".join(_WORD_CLASS + "*" if p.wildcard else re.escape(p.char) for p in word)


def text_word_pattern(word: list[Piece]) -> str:
    """A case-insensitive RE2 pattern finding ``word`` as a whole word."""
    return f"(?i)(?:^|{_NOT_WORD}){_word_regex(word)}(?:{_NOT_WORD}|$)"


def text_phrase_pattern(words: list[list[Piece]]) -> str:
    """A case-insensitive RE2 pattern finding ``words`` side by side, in order."""
    body = f"{_NOT_WORD}+".join(_word_regex(w) for w in words)
    return f"(?i)(?:^|{_NOT_WORD}){body}(?:{_NOT_WORD}|$)"


def _token_of(tree: Tree | Token) -> Token | None:
    """The first token under ``tree`` (for error positions)."""
    if isinstance(tree, Token):
        return tree
    for child in tree.children:
        found = _token_of(child)
        if found is not None:
            return found
    return None


class _Lowerer:
    def __init__(self, text_fields: TextFields, position: QueryPosition) -> None:
        self.text_fields = text_fields
        self.position = position

    def query(self, tree: Tree) -> Expr:
        if not tree.children:
            return Const(True)
        return self.expr(tree.children[0], prefix="")

    def expr(self, node: Tree, prefix: str) -> Expr:
        kind = node.data
        if kind == "or_query":
            return Any(tuple(self.expr(c, prefix) for c in node.children))
        if kind == "and_query":
            return All(tuple(self.expr(c, prefix) for c in node.children))
        if kind == "negation":
            return Not(self.expr(node.children[0], prefix))
        if kind == "nested":
            field = prefix + self.field(node.children[0])
            if len(node.children) == 1:
                return Const(True)
            return self.expr(node.children[1], prefix=field + ".")
        if kind == "match":
            name = self.field(node.children[0])
            if name == "*":
                if prefix:
                    raise self.located_error("KQL wildcard field inside a nested query", node)
                return self.free_text(node.children[1])
            return self.value_expr(prefix + name, node.children[1])
        if kind == "range":
            return self.range(prefix + self.field(node.children[0]), node.children[1], node.children[2])
        if kind == "free_text":
            if prefix:
                raise self.located_error("a value without a field inside a nested query", node)
            return self.free_text(node.children[0])
        raise self.located_error(f"unexpected KQL construct {kind}", node)

    def field(self, node: Tree) -> str:
        token = node.children[0]
        if token.type == "QUOTED":
            return unquote(str(token))
        pieces = unescape_term(str(token))
        name = "".join(p.char for p in pieces)
        if any(p.wildcard for p in pieces) and name != "*":
            raise self.position.unsupported("KQL wildcard in a field name", token.line, token.column)
        return name

    def located_error(self, message: str, node: Tree | Token):
        token = _token_of(node)
        return self.position.error(message, token.line if token else None,
                                   token.column if token else None)

    def value_expr(self, field: str, node: Tree) -> Expr:
        kind = node.data
        if kind == "value_or":
            return Any(tuple(self.value_expr(field, c) for c in node.children))
        if kind == "value_and":
            return All(tuple(self.value_expr(field, c) for c in node.children))
        if kind == "value_negation":
            return Not(self.value_expr(field, node.children[0]))
        if kind == "phrase":
            return self.phrase(field, unquote(str(node.children[0])))
        return self.terms(field, terms_pieces(node.children))

    def phrase(self, field: str, text: str) -> Expr:
        if field in self.text_fields:
            words = words_of([Piece(c, True) for c in text])
            if not words:
                return Const(False)
            return Cmp(field, "regex", (text_phrase_pattern(words),))
        return Cmp(field, "eq", (text,), cased=True)

    def terms(self, field: str, pieces: list[Piece]) -> Expr:
        if len(pieces) == 1 and pieces[0].wildcard:
            # ``field:*`` asks whether the field holds a value; null does not count.
            return Exists(field, non_null=True)
        if field in self.text_fields:
            words = words_of(pieces)
            if not words:
                return Const(False)
            return Cmp(field, "regex", tuple(text_word_pattern(w) for w in words))
        if any(p.wildcard for p in pieces):
            return Cmp(field, "glob", (glob_of(pieces),), cased=True)
        return Cmp(field, "eq", ("".join(p.char for p in pieces),), cased=True)

    def free_text(self, node: Tree) -> Expr:
        if node.data == "phrase":
            pieces = [Piece(c, True) for c in unquote(str(node.children[0]))]
        elif node.data == "terms":
            pieces = terms_pieces(node.children)
        else:
            raise self.located_error("KQL boolean value list without a field", node)
        if len(pieces) == 1 and pieces[0].wildcard:
            return Const(True)
        return Keywords((glob_of(pieces),), op="glob", cased=True)

    def range(self, field: str, op_token: Token, node: Tree) -> Expr:
        token = node.children[0]
        if token.type == "QUOTED":
            text = unquote(str(token))
        else:
            text = "".join(p.char for p in unescape_term(str(token)))
        if _DATE_MATH.search(text):
            raise self.position.unsupported("KQL date math in a range", token.line, token.column)
        op = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[str(op_token)]
        value: str | int | float = text
        if _NUMBER.match(text):
            value = float(text) if any(c in text for c in ".eE") else int(text)
        return Cmp(field, op, (value,))

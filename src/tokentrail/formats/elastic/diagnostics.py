"""Turn parser failures and unsupported constructs into located TokenTrail errors.

A query sits inside a rule file; errors name the file line (the query's first line in the file
plus the line within the query) and, in the message, the column within that line.
"""

from __future__ import annotations

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from tokentrail.errors import RuleLoadError, UnsupportedFeature

# Readable names for the grammar terminals that show up in "expected ..." lists.
_TERMINAL_NAMES = {
    "LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'", "LSQB": "'['", "RSQB": "']'",
    "COLON": "':'", "COMMA": "','", "EQUAL": "'='", "RANGE_OP": "a range operator",
    "TERM": "a value", "QUOTED": "a quoted value", "_OR": "'or'", "_AND": "'and'", "_NOT": "'not'",
    "STRING": "a string", "NUMBER": "a number", "FIELD": "a field", "FUNCNAME": "a function",
    "COMPOP": "a comparison", "WHERE": "'where'", "TIMESPAN": "a duration such as 5m",
    "INT": "a whole number", "VBAR": "'|'", "$END": "end of query",
}


def position_of(node: Tree | Token | None) -> tuple[int | None, int | None]:
    """Line and column where a parse-tree node starts in the query (``None`` when unknown)."""
    if isinstance(node, Token):
        return node.line, node.column
    if isinstance(node, Tree) and not node.meta.empty:
        return node.meta.line, node.meta.column
    return None, None


class QueryPosition:
    """Where a query starts in its file, so errors inside it can name file lines.

    ``one_line``: the whole query sits on ``first_line`` (a JSON string in an NDJSON export),
    so every error names that line.
    """

    def __init__(self, file: str | None = None, first_line: int | None = None, *,
                 one_line: bool = False) -> None:
        self.file = file
        self.first_line = first_line
        self.one_line = one_line

    def line(self, query_line: int | None) -> int | None:
        """The file line of ``query_line`` (1-based within the query), when the start is known."""
        if self.first_line is None or (query_line is None and not self.one_line):
            return None
        if self.one_line or query_line is None:
            return self.first_line
        return self.first_line + query_line - 1

    def where(self, query_line: int | None, column: int | None) -> str:
        """``query line L, column C`` for messages (the file line goes into the error itself)."""
        if query_line is None:
            return "in the query"
        return f"at query line {query_line}, column {column}"

    def error(self, message: str, query_line: int | None = None, column: int | None = None) -> RuleLoadError:
        """A ``RuleLoadError`` located at a place in the query."""
        text = f"{message} {self.where(query_line, column)}" if query_line is not None else message
        return RuleLoadError(text, file=self.file, line=self.line(query_line))

    def unsupported(self, feature: str, query_line: int | None = None,
                    column: int | None = None) -> UnsupportedFeature:
        """An ``UnsupportedFeature`` for ``feature`` located at a place in the query."""
        return UnsupportedFeature(feature, file=self.file, line=self.line(query_line),
                                  detail=self.where(query_line, column))

    def syntax_error(self, language: str, exc: UnexpectedInput) -> RuleLoadError:
        """Describe a lark parse failure in one line: what was found, where, what was expected."""
        line = getattr(exc, "line", None)
        column = getattr(exc, "column", None)
        if isinstance(exc, UnexpectedCharacters):
            found = f"character {exc.char!r}"
            expected = exc.allowed or set()
        elif isinstance(exc, UnexpectedEOF):
            found = "end of query"
            expected = exc.expected or set()
            line = column = None
        elif isinstance(exc, UnexpectedToken):
            token = exc.token
            found = "end of query" if token.type == "$END" else f"{str(token)!r}"
            expected = exc.expected or set()
            if token.type == "$END":
                line, column = token.line, token.column
        else:
            found, expected = "input", set()
        if line is not None and line < 0:
            line = column = None
        names = sorted({_TERMINAL_NAMES[t] for t in expected if t in _TERMINAL_NAMES})
        hint = f"; expected {', '.join(names)}" if names else ""
        return self.error(f"{language} syntax error: unexpected {found}{hint}", line, column)

"""The subset of SOQL the Salesforce imitation answers.

``SELECT f, … FROM Object [WHERE cond AND …] [ORDER BY f [ASC|DESC], …] [LIMIT n]`` where a
condition is ``field op value`` (``= != < <= > >=``) or ``field IN (value, …)``, and a value is a
quoted string, a datetime literal (``2025-01-06T08:00:00Z``), a number, TRUE, FALSE or NULL.
That covers what a log collector asks of EventLogFile and the event storage objects; anything else
is a ``MALFORMED_QUERY`` answer, as Salesforce gives.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tokentrail.sources.imitate.gate import BadRequest

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|<>|[=<>(),])|(?P<word>[^\s=<>!(),']+))")
_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<>": operator.ne,
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


@dataclass(frozen=True)
class Condition:
    """``field op value``; ``op`` is ``in`` with a tuple of values."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Query:
    """One parsed SELECT."""

    fields: tuple[str, ...]
    sobject: str
    where: tuple[Condition, ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending)
    limit: int | None


def parse_datetime(text: str) -> datetime:
    """A Salesforce datetime (``…Z``, ``…+0000`` or ``…+00:00``) as an aware datetime."""
    text = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)


def parse(soql: str) -> Query:
    """Parse ``soql``; ``BadRequest`` names what is outside the subset."""
    tokens = _tokens(soql)
    at = 0

    def take(expected: str | None = None) -> str:
        nonlocal at
        if at >= len(tokens):
            raise BadRequest(f"MALFORMED_QUERY: unexpected end of query{f', expected {expected}' if expected else ''}")
        token = tokens[at]
        if expected is not None and token.upper() != expected:
            raise BadRequest(f"MALFORMED_QUERY: expected {expected}, found {token!r}")
        at += 1
        return token

    def peek() -> str:
        return tokens[at].upper() if at < len(tokens) else ""

    take("SELECT")
    fields = [take()]
    while peek() == ",":
        take(",")
        fields.append(take())
    take("FROM")
    sobject = take()
    where: list[Condition] = []
    if peek() == "WHERE":
        take("WHERE")
        while True:
            name = take()
            op = take()
            if op.upper() == "IN":
                take("(")
                values = [_value(take())]
                while peek() == ",":
                    take(",")
                    values.append(_value(take()))
                take(")")
                where.append(Condition(name, "in", tuple(values)))
            elif op in _OPS:
                where.append(Condition(name, op, _value(take())))
            else:
                raise BadRequest(f"MALFORMED_QUERY: unsupported operator {op!r}")
            if peek() != "AND":
                break
            take("AND")
    order: list[tuple[str, bool]] = []
    if peek() == "ORDER":
        take("ORDER")
        take("BY")
        while True:
            name = take()
            descending = False
            if peek() in ("ASC", "DESC"):
                descending = take().upper() == "DESC"
            order.append((name, descending))
            if peek() != ",":
                break
            take(",")
    limit = None
    if peek() == "LIMIT":
        take("LIMIT")
        count = take()
        if not count.isdigit():
            raise BadRequest("MALFORMED_QUERY: LIMIT takes a number")
        limit = int(count)
    if at != len(tokens):
        raise BadRequest(f"MALFORMED_QUERY: unexpected {tokens[at]!r}")
    return Query(tuple(fields), sobject, tuple(where), tuple(order), limit)


def run(query: Query, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records matching ``query``, ordered and limited, with only the selected fields."""
    chosen = [r for r in records if all(_holds(c, r) for c in query.where)]
    for name, descending in reversed(query.order):
        chosen.sort(key=lambda r, n=name: _comparable(r.get(n)), reverse=descending)
    if query.limit is not None:
        chosen = chosen[: query.limit]
    return [{"attributes": r["attributes"], **{f: r.get(f) for f in query.fields}} for r in chosen]


def _tokens(soql: str) -> list[str]:
    tokens, at = [], 0
    text = soql.strip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise BadRequest(f"MALFORMED_QUERY: cannot read {text[at:at + 20]!r}")
        tokens.append(match.group(match.lastgroup or "word"))
        at = match.end()
    return tokens


def _value(token: str) -> Any:
    if token.startswith("'"):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    upper = token.upper()
    if upper in ("TRUE", "FALSE"):
        return upper == "TRUE"
    if upper == "NULL":
        return None
    if _DATETIME.match(token):
        return parse_datetime(token)
    try:
        return float(token) if "." in token else int(token)
    except ValueError:
        raise BadRequest(f"MALFORMED_QUERY: cannot read the value {token!r}") from None


def _comparable(value: Any) -> tuple[int, Any]:
    """A sort key that orders None first and reads datetime strings as datetimes."""
    if value is None:
        return (0, "")
    if isinstance(value, str) and _DATETIME.match(value.replace("+0000", "Z")):
        return (1, parse_datetime(value))
    return (2, value) if isinstance(value, int | float) else (3, str(value))


def _holds(cond: Condition, record: dict[str, Any]) -> bool:
    value = record.get(cond.field)
    if cond.op == "in":
        return value in cond.value
    expected = cond.value
    if isinstance(expected, datetime):
        if not isinstance(value, str):
            return False
        value = parse_datetime(value)
    elif value is None or expected is None:
        return _OPS[cond.op](value, expected) if cond.op in ("=", "!=", "<>") else False
    try:
        return _OPS[cond.op](value, expected)
    except TypeError:
        return False

"""Machine-readable outputs: alerts and matches as JSON lines or one JSON document."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

import orjson

from tokentrail.alerting.models import Alert, Match, iso
from tokentrail.surrogates import json_safe

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _dumps(document: Any, option: int = _OPTS) -> bytes:
    """orjson's encoding; a document it refuses for a lone surrogate (a rule title, a Python
    rule's context) is encoded with U+FFFD in its place rather than ending the output."""
    try:
        return orjson.dumps(document, option=option, default=str)
    except TypeError:
        return orjson.dumps(json_safe(document), option=option, default=str)


def dumps_line(document: Any) -> bytes:
    """``document`` as one JSON line, newline included."""
    return _dumps(document) + b"\n"


def write_alerts_jsonl(alerts: Iterable[Alert], out: IO[bytes]) -> int:
    """One JSON object per alert per line; returns how many were written."""
    n = 0
    for alert in alerts:
        out.write(_dumps(alert.to_dict()) + b"\n")
        n += 1
    return n


def write_json_lines(documents: Iterable[Any], out: IO[bytes]) -> None:
    """One JSON document per line."""
    for document in documents:
        out.write(_dumps(document) + b"\n")


class AlertLineWriter:
    """Writes each alert as one JSON line the moment it is given, and flushes it, so a reader at
    the other end of a pipe sees it at once."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.count = 0

    def __call__(self, alert: Alert) -> None:
        self.out.write(orjson.dumps(alert.to_dict(), option=_OPTS, default=str) + b"\n")
        self.out.flush()
        self.count += 1


def write_json(document: Any, out: IO[bytes]) -> None:
    """One indented JSON document."""
    out.write(_dumps(document, _OPTS | orjson.OPT_INDENT_2) + b"\n")


class MatchWriter:
    """Writes one JSON line per matching (event, rule) pair: rule id, source file, line, event."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.count = 0

    def __call__(self, match: Match) -> None:
        self.out.write(_dumps({
            "rule_id": match.rule_id,
            "source": match.source,
            "line": match.line,
            "log_type": match.log_type,
            "event_id": match.event_id,
            "time": iso(match.time),
            "event": match.event,
        }) + b"\n")
        self.count += 1

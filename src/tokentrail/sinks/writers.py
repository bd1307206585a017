"""Machine-readable outputs: alerts and matches as JSON lines or one JSON document."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

import orjson

from tokentrail.alerting.models import Alert, Match, iso

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def write_alerts_jsonl(alerts: Iterable[Alert], out: IO[bytes]) -> int:
    """One JSON object per alert per line; returns how many were written."""
    n = 0
    for alert in alerts:
        out.write(orjson.dumps(alert.to_dict(), option=_OPTS, default=str) + b"\n")
        n += 1
    return n


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
    out.write(orjson.dumps(document, option=_OPTS | orjson.OPT_INDENT_2, default=str) + b"\n")


class MatchWriter:
    """Writes one JSON line per matching (event, rule) pair: rule id, source file, line, event."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.count = 0

    def __call__(self, match: Match) -> None:
        self.out.write(orjson.dumps({
            "rule_id": match.rule_id,
            "source": match.source,
            "line": match.line,
            "log_type": match.log_type,
            "event_id": match.event_id,
            "time": iso(match.time),
            "event": match.event,
        }, option=_OPTS, default=str) + b"\n")
        self.count += 1

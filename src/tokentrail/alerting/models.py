"""What the engine produces: a Match per (event, rule) and Alerts made of grouped matches."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple


class Match(NamedTuple):
    """One event that satisfied one rule's logic.

    A named tuple rather than a frozen dataclass: one is made per match, and a frozen
    dataclass's ``__init__`` costs four times as much.
    """

    rule_id: str
    event: Mapping[str, Any]
    log_type: str
    time: float | None
    event_id: str
    source: str = ""
    line: int = 0
    extras: Mapping[str, Any] = {}  # noqa: RUF012 - never mutated; a named tuple field default


@dataclass(frozen=True, slots=True)
class Alert:
    """A group of matches of one rule that met the rule's grouping.

    ``id`` depends only on (rule id, group key, window start), so re-running a scan over the same
    events yields the same ids.
    """

    id: str
    rule_id: str
    title: str
    severity: str
    group_key: tuple[str, ...]
    window_start: float | None
    count: int
    event_ids: tuple[str, ...]
    first_time: float | None
    last_time: float | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    techniques: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (times as ISO-8601 UTC)."""
        return {
            "id": self.id,
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity,
            "group_key": list(self.group_key),
            "window_start": iso(self.window_start),
            "first_time": iso(self.first_time),
            "last_time": iso(self.last_time),
            "count": self.count,
            "event_ids": list(self.event_ids),
            "techniques": list(self.techniques),
            "fields": dict(self.fields),
        }


def alert_id(rule_id: str, group_key: tuple[str, ...], window_start: float | None) -> str:
    """Deterministic alert id from (rule, group key, window start)."""
    text = "\x1f".join([rule_id, *group_key, "" if window_start is None else f"{window_start:.3f}"])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO-8601 UTC with milliseconds, or None (also for a time no datetime can
    hold: one value must not end an output)."""
    if ts is None:
        return None
    try:
        moment = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

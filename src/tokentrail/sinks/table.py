"""Rich tables for people: alerts, rules, test results."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tokentrail.alerting.models import Alert, iso

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def alerts_table(alerts: Sequence[Alert], *, max_event_ids: int = 3) -> Table:
    """One row per alert: time, severity, rule, title, group, count and the events it groups."""
    table = Table(title=f"{len(alerts)} alert(s)", show_lines=False, expand=False)
    for col in ("first seen", "severity", "rule", "title", "group", "events", "event ids"):
        table.add_column(col, overflow="fold")
    for a in alerts:
        ids = list(a.event_ids[:max_event_ids]) + ([f"+{len(a.event_ids) - max_event_ids} more"]
                                                   if len(a.event_ids) > max_event_ids else [])
        table.add_row(
            iso(a.first_time) or "-",
            Text(a.severity, style=SEVERITY_STYLE.get(a.severity, "")),
            escape(a.rule_id[:36]),
            escape(a.title),
            escape(", ".join(k for k in a.group_key if k)[:60] or "-"),
            str(a.count),
            escape("\n".join(ids)),
        )
    return table

"""Rich tables for people: alerts, rules, test results."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tokentrail.alerting.models import Alert, iso

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def alerts_table(alerts: Sequence[Alert], *, max_event_ids: int = 2) -> Table:
    """One row per alert: time, severity, title, group, count and the first events it groups
    (rule ids and every event id are in the JSON outputs)."""
    table = Table(title=f"{len(alerts)} alert(s)", show_lines=False, expand=True)
    table.add_column("first seen (UTC)", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("title", overflow="fold", ratio=4)
    table.add_column("group", overflow="fold", ratio=2)
    table.add_column("events", justify="right", no_wrap=True)
    table.add_column("event ids", overflow="fold", ratio=2)
    for a in alerts:
        ids = list(a.event_ids[:max_event_ids]) + ([f"+{len(a.event_ids) - max_event_ids} more"]
                                                   if len(a.event_ids) > max_event_ids else [])
        first = iso(a.first_time)
        table.add_row(
            first[:19].replace("T", " ") if first else "-",
            Text(a.severity, style=SEVERITY_STYLE.get(a.severity, "")),
            escape(a.title),
            escape(_group_text(a)),
            str(a.count),
            escape("\n".join(ids)),
        )
    return table


def _group_text(alert: Alert) -> str:
    """The group key, or "-" when the alert is one event on its own (its key is that event)."""
    if alert.group_key == alert.event_ids[:1]:
        return "-"
    return ", ".join(k for k in alert.group_key if k)[:60] or "-"

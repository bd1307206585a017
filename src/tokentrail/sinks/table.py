"""The alert table people read: one row per alert, sized for an 80-column terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from tokentrail.alerting.models import Alert, iso
from tokentrail.sinks.safe_text import safe_text

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}

# Where an alert's fields name who acted and from where, per log type: Okta, Auth0, Salesforce,
# their ECS forms, then names Panther rules' alert_context() commonly uses. Keys are compared
# without regard to case; the first one present wins. Users come before clients: an Auth0
# client-credentials exchange has no user, so its client is the actor.
ACTOR_FIELDS = (
    "actor.alternateId", "actor.displayName", "actor.id",
    "data.user_name", "data.user_id",
    "USER_NAME", "USERNAME", "USER_ID",
    "user.email", "user.name", "okta.actor.alternate_id", "client.user.name", "source.user.name",
    "actor", "user", "username", "user_id", "email",
    "data.client_name", "data.client_id", "CONNECTED_APP_NAME", "CLIENT_ID", "client_id",
)
IP_FIELDS = (
    "client.ipAddress", "data.ip", "SOURCE_IP", "CLIENT_IP", "source.ip", "client.ip",
    "ip", "ip_address", "ipAddress", "source_ip", "sourceIPAddress",
)


def alerts_table(alerts: Sequence[Alert]) -> RenderableType:
    """One row per alert — time, severity, rule title, actor, source IP, event count — or the
    words "no alerts". Ids and every field are in the JSON outputs; every cell is terminal-safe."""
    if not alerts:
        return Text("no alerts")
    return AlertTable(alerts)


class AlertTable:
    """The table, laid out for the width it is printed at: time, severity, IP and count never
    wrap; the rule title wraps by words; a long actor or IP is cut with an ellipsis."""

    def __init__(self, alerts: Sequence[Alert]) -> None:
        self.rows = [_row(a) for a in alerts]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = self.rows
        count_w = max(len("events"), *(len(r[5]) for r in rows))
        ip_w = min(max(len("source IP"), *(len(r[4].plain) for r in rows)), _IP_WIDTH)
        actor_need = max(len("actor"), *(len(r[3].plain) for r in rows))
        fixed = _TIME_WIDTH + _SEVERITY_WIDTH + ip_w + count_w + 2 * 5  # two spaces between columns
        rest = max(options.max_width - fixed, _MIN_RULE + _MIN_ACTOR)
        rule_need = max(len("rule"), *(len(r[2].plain) for r in rows))
        if rule_need + actor_need <= rest:
            rule_w, actor_w = rule_need, actor_need
        else:  # the title wraps; the actor gets up to two fifths and is cut beyond
            actor_w = min(actor_need, max(_MIN_ACTOR, rest * 2 // 5))
            rule_w = rest - actor_w
        # Between two columns: one space of right padding and the box's one-space separator.
        table = Table(title=f"{len(rows)} alert(s)", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      padding=(0, 1, 0, 0))
        table.add_column("time (UTC)", no_wrap=True, width=_TIME_WIDTH)
        table.add_column("severity", no_wrap=True, width=_SEVERITY_WIDTH)
        table.add_column("rule", overflow="fold", width=rule_w)
        table.add_column("actor", overflow="ellipsis", no_wrap=True, width=actor_w)
        table.add_column("source IP", overflow="ellipsis", no_wrap=True, width=ip_w)
        table.add_column("events", justify="right", no_wrap=True, width=count_w)
        for row in rows:
            table.add_row(*row)
        yield table


_TIME_WIDTH = len("2025-01-31 23:59")
_SEVERITY_WIDTH = len("critical")
_IP_WIDTH = len("255.255.255.255")  # an IPv6 address beyond it is cut
_MIN_RULE, _MIN_ACTOR = 12, 8


def _row(a: Alert) -> tuple[str, Text, Text, Text, Text, str]:
    first = iso(a.first_time)
    return (
        first[:_TIME_WIDTH].replace("T", " ") if first else "-",
        Text(safe_text(a.severity), style=SEVERITY_STYLE.get(a.severity, "")),
        Text(safe_text(a.title)),
        Text(safe_text(alert_field(a.fields, ACTOR_FIELDS) or "-")),
        Text(safe_text(alert_field(a.fields, IP_FIELDS) or "-")),
        str(a.count),
    )


def alert_field(fields: Mapping[str, Any], names: Sequence[str]) -> str | None:
    """The text of the first of ``names`` the alert's fields hold (first element of a list),
    keys compared without regard to case; None when none holds a value."""
    if not fields:
        return None
    by_name = {str(k).lower(): v for k, v in fields.items()}
    for name in names:
        value = by_name.get(name.lower())
        if isinstance(value, list | tuple):
            value = next((v for v in value if v not in (None, "")), None)
        if value not in (None, "") and not isinstance(value, Mapping):
            return str(value)
    return None

"""``tokentrail alerts``: read the SQLite alert store a live run fills."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tokentrail.cli.common import FormatOpt, OutputFormat, fail, ui, write_json_stdout
from tokentrail.cli.help import Command, Group

app = typer.Typer(help="Read the alert store of watch and serve.", no_args_is_help=True, cls=Group)


def register(app_: typer.Typer) -> None:
    """Add ``alerts`` to the app."""
    app_.add_typer(app, name="alerts")


@app.command("list", cls=Command)
def alerts_list(
    store: Annotated[Path, typer.Option("--store", metavar="FILE", help="The SQLite alert store (sqlite: sink).")],
    rule: Annotated[str | None, typer.Option("--rule", metavar="ID", help="Only alerts of this rule id.")] = None,
    severity: Annotated[str | None, typer.Option(
        "--severity", metavar="LEVEL",
        help="Only alerts of this severity or above (informational, low, medium, high, critical).")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="TIME", help="Only alerts whose first event is at or after this ISO-8601 time.")] = None,
    source: Annotated[str | None, typer.Option(
        "--source", metavar="NAME", help="Only alerts of this source (tenant).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", metavar="N", help="At most N alerts.")] = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List stored alerts, oldest first."""
    from tokentrail.sinks.alert_store import SEVERITIES, AlertQuery, AlertStore
    from tokentrail.sinks.base import SinkError
    from tokentrail.sinks.writers import write_json_lines

    if severity is not None and severity.lower() not in SEVERITIES:
        fail(f"--severity {severity!r}: expected one of {', '.join(SEVERITIES)}")
    since_iso = _iso(since) if since else None
    try:
        opened = AlertStore(store, create=False)
        try:
            found = list(opened.query(AlertQuery(rule=rule, min_severity=severity.lower() if severity else None,
                                                 since=since_iso, source=source, limit=limit)))
        finally:
            opened.close()
    except SinkError as exc:
        fail(f"--store {exc}")
    if fmt is OutputFormat.json:
        write_json_stdout({"alerts": found, "count": len(found)})
    elif fmt is OutputFormat.jsonl:
        import sys

        write_json_lines(found, sys.stdout.buffer)
    else:
        show_alerts(found)


def show_alerts(found: list[dict]) -> None:
    """Stored alert documents as the alert table on stdout."""
    from tokentrail.alerting.models import Alert
    from tokentrail.sinks.table import alerts_table

    ui.out.print(alerts_table([_alert(a, Alert) for a in found]))


def _iso(text: str) -> str:
    """``--since`` as the store writes times (UTC, milliseconds, ``Z``)."""
    from datetime import UTC, datetime

    from tokentrail.alerting.models import iso

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--since {text!r}: not an ISO-8601 time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(moment.timestamp()) or ""


def _alert(doc: dict, alert_cls):
    """A stored alert document back as an Alert, for the table."""
    from datetime import datetime

    def ts(value):
        return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()

    return alert_cls(id=doc["id"], rule_id=doc["rule_id"], title=doc.get("title", ""), severity=doc["severity"],
                     group_key=tuple(doc.get("group_key") or ()), window_start=ts(doc.get("window_start")),
                     count=doc.get("count", 0), event_ids=tuple(doc.get("event_ids") or ()),
                     first_time=ts(doc.get("first_time")), last_time=ts(doc.get("last_time")),
                     fields=doc.get("fields") or {}, techniques=tuple(doc.get("techniques") or ()))

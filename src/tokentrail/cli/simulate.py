"""``tokentrail simulate`` and ``tokentrail demo``: simulated logs with attacks mixed in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tokentrail import api
from tokentrail.cli.common import escape, fail, load, ui
from tokentrail.cli.help import Command
from tokentrail.sinks.safe_text import safe_text


def register(app: typer.Typer) -> None:
    """Add the commands to the app."""
    app.command(cls=Command)(simulate)
    app.command(cls=Command)(demo)


def simulate(
    scenarios: Annotated[list[str] | None, typer.Argument(
        metavar="SCENARIO", help="Scenario names; 'all' for every attack, 'benign' for benign traffic only.")] = None,
    events: Annotated[int, typer.Option("--events", "-n", metavar="N", help="About how many events in total.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Random seed (same seed, same logs).")] = 7,
    out_dir: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Directory for the log files.")] = Path("tokentrail-sim"),
    list_: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
    salesforce_csv: Annotated[bool, typer.Option(
        "--salesforce-csv", help="Also write the Salesforce records as EventLogFile CSV.")] = False,
) -> None:
    """Write simulated Okta, Auth0 and Salesforce logs with attack scenarios mixed in."""
    from tokentrail import simulate as sim

    if list_ or not scenarios:
        table = Table(title="scenarios")
        for col in ("name", "source", "rule", "description"):
            table.add_column(col, overflow="fold")
        for name, sc in sorted(sim.SCENARIOS.items()):
            table.add_row(*(escape(x) for x in (name, sc.source, sc.rule_id, sc.description)))
        ui.out.print(table)
        return
    unknown = [s for s in scenarios if s not in sim.SCENARIOS and s not in ("all", "benign")]
    if unknown:
        fail(f"unknown scenario(s): {', '.join(unknown)} (see `tokentrail simulate --list`)")
    written = sim.write_logs(out_dir, scenarios, events=events, seed=seed, salesforce_csv=salesforce_csv)
    for source, path in written.items():
        ui.out.print(safe_text(f"{source}: {path}"), markup=False, highlight=False)


def demo(
    out_dir: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Where to write the demo logs and alerts.")] = Path("tokentrail-demo"),
    events: Annotated[int, typer.Option("--events", "-n", metavar="N", help="About how many events in total.")] = 30_000,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Random seed (same seed, same logs).")] = 7,
) -> None:
    """Simulate a day of Okta, Auth0 and Salesforce logs with attacks, scan them, show the alerts."""
    from tokentrail import simulate as sim
    from tokentrail.sinks.table import alerts_table
    from tokentrail.sinks.writers import write_alerts_jsonl

    with ui.err.status("simulating logs..."):
        written = sim.write_logs(out_dir / "logs", ["all"], events=events, seed=seed)
    loaded = load(None)
    with ui.err.status("scanning..."):
        result = api.scan(list(written.values()), loaded)
    ui.out.print(alerts_table(result.alerts))
    alerts_path = out_dir / "alerts.jsonl"
    with open(alerts_path, "wb") as fh:
        write_alerts_jsonl(result.alerts, fh)
    s = result.stats
    lines = [f"{s.events} events scanned with {result.rule_counts.loaded} bundled rules: {len(result.alerts)} alert(s).",
             f"logs: {', '.join(str(p) for p in written.values())}",
             f"alerts (JSON lines): {alerts_path}",
             f"next: tokentrail scan {out_dir / 'logs'} --format jsonl   |   tokentrail rules list   |   tokentrail test"]
    for line in lines:
        ui.out.print(safe_text(line), markup=False, highlight=False, soft_wrap=True)

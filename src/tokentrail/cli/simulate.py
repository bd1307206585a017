"""``tokentrail simulate`` and ``tokentrail demo``: simulated logs with attacks mixed in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tokentrail import api
from tokentrail.cli.common import fail, load, ui


def register(app: typer.Typer) -> None:
    """Add the commands to the app."""
    app.command()(simulate)
    app.command()(demo)


def simulate(
    scenarios: Annotated[list[str] | None, typer.Argument(help="Scenario names; 'all' for every attack, "
                                                         "'benign' for benign traffic only.")] = None,
    events: Annotated[int, typer.Option("--events", "-n", help="About how many events in total.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same logs).")] = 7,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for the log files.")] = Path("tokentrail-sim"),
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
            table.add_row(name, sc.source, sc.rule_id, sc.description)
        ui.out.print(table)
        return
    unknown = [s for s in scenarios if s not in sim.SCENARIOS and s not in ("all", "benign")]
    if unknown:
        fail(f"unknown scenario(s): {', '.join(unknown)} (see `tokentrail simulate --list`)")
    written = sim.write_logs(out_dir, scenarios, events=events, seed=seed, salesforce_csv=salesforce_csv)
    for source, path in written.items():
        ui.out.print(f"{source}: {path}", markup=False)


def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where to write the demo logs.")] = Path("tokentrail-demo"),
    events: Annotated[int, typer.Option("--events", "-n")] = 30_000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
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
    ui.out.print(f"{s.events} events scanned with {len(loaded.runnable)} bundled rules: "
              f"{len(result.alerts)} alert(s).", soft_wrap=True)
    ui.out.print(f"logs: {', '.join(str(p) for p in written.values())}", markup=False, soft_wrap=True)
    ui.out.print(f"alerts (JSON lines): {alerts_path}", markup=False, soft_wrap=True)
    ui.out.print(f"next: tokentrail scan {out_dir / 'logs'} --format jsonl   |   tokentrail rules list   |   tokentrail test",
              markup=False, soft_wrap=True)

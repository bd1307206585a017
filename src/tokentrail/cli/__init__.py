"""The ``tokentrail`` command: one module per command group, each thin — it parses options,
calls the library and renders with Rich."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tokentrail import __version__
from tokentrail.cli import (
    alerts,
    attack,
    convert,
    coverage,
    feed,
    imitate,
    indicators,
    logs,
    rules,
    scan,
    serve,
    simulate,
    site,
    testing,
    watch,
)
from tokentrail.cli.common import ui
from tokentrail.cli.help import Group
from tokentrail.cli.streams import guard_closed_streams, output_failed
from tokentrail.rules.guard import ctrl_c_stops

app = typer.Typer(help="Find application-access-token theft and abuse in SaaS identity logs.",
                  no_args_is_help=True, add_completion=True, cls=Group)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tokentrail {__version__}")
        raise typer.Exit()


@app.callback()
def _consoles(
    version: Annotated[bool, typer.Option(
        "--version", help="Print TokenTrail's version and exit.", is_eager=True,
        callback=_print_version)] = False,
) -> None:
    """Fresh consoles per invocation, so width and colour follow the terminal of this run."""
    ui.reset()


scan.register(app)
testing.register(app)
simulate.register(app)
coverage.register(app)
indicators.register(app)
convert.register(app)
imitate.register(app)
app.add_typer(rules.app, name="rules")
app.add_typer(attack.app, name="attack")
app.add_typer(feed.app, name="feed")
app.add_typer(logs.app, name="logs")
app.add_typer(site.app, name="site")
watch.register(app)
serve.register(app)
alerts.register(app)


def main() -> None:
    """Console entry point: the app, with failed writes to standard output (closed, full, a
    broken pipe) reported in one line rather than a traceback."""
    guard_closed_streams()
    code: int | str | None = 0
    try:
        try:
            # Ctrl-Cs are counted from here, so one whose interrupt Python dropped while the
            # command loaded (the import system ignores errors of its own callbacks) still stops it.
            with ctrl_c_stops():
                app()
        except SystemExit as stop:
            code = stop.code
        sys.stdout.flush()  # here, not at exit, so a full disk is reported like any other failure
    except OSError as exc:
        code = output_failed(exc)
    raise SystemExit(code)

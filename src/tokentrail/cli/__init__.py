"""The ``tokentrail`` command: one module per command group, each thin — it parses options,
calls the library and renders with Rich."""

from __future__ import annotations

import typer

from tokentrail.cli import attack, coverage, feed, indicators, rules, scan, simulate, testing
from tokentrail.cli.common import ui

app = typer.Typer(help="Find application-access-token theft and abuse in SaaS identity logs.",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def _consoles() -> None:
    """Fresh consoles per invocation, so width and colour follow the terminal of this run."""
    ui.reset()


scan.register(app)
testing.register(app)
simulate.register(app)
coverage.register(app)
indicators.register(app)
app.add_typer(rules.app, name="rules")
app.add_typer(attack.app, name="attack")
app.add_typer(feed.app, name="feed")


def main() -> None:  # pragma: no cover - console entry point
    app()

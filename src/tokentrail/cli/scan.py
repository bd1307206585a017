"""``tokentrail scan``: log files in, alerts out."""

from __future__ import annotations

import contextlib
import enum
import sqlite3
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from tokentrail import api
from tokentrail.cli.common import (
    ConfigOpt,
    FormatOpt,
    HelpersOpt,
    OutputFormat,
    RulesOpt,
    TextSink,
    fail,
    load,
    open_out,
    open_write,
    ui,
)
from tokentrail.errors import TokenTrailError


class Engine(enum.StrEnum):
    """Which engine matches the rules."""

    stream = "stream"
    duckdb = "duckdb"


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command()(scan)


def scan(
    paths: Annotated[list[str], typer.Argument(help="Log files or directories; '-' reads stdin.")],
    rules: RulesOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write alerts here.")] = None,
    matches: Annotated[Path | None, typer.Option(
        "--matches", help="Write one JSON line per matching (event, rule) pair here.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="A malformed log line is fatal.")] = False,
    dead_letter: Annotated[Path | None, typer.Option("--dead-letter", help="Keep malformed lines here.")] = None,
    state: Annotated[Path | None, typer.Option("--state", help="SQLite state file (new_terms history, ...).")] = None,
    helpers: HelpersOpt = None,
    sigma_config: ConfigOpt = None,
    workers: Annotated[int, typer.Option(
        "--workers", "-j", help="Processes for big JSON-lines files (0: one per core; 1: no workers).")] = 0,
    engine: Annotated[Engine, typer.Option(
        "--engine", help="stream (default; pure Python) or duckdb (rules matched in SQL; same alerts; "
                         "the default for Parquet input).")] = None,
) -> None:
    """Scan log files with rules and report alerts."""
    from tokentrail.sinks.table import alerts_table
    from tokentrail.sinks.writers import MatchWriter, write_alerts_jsonl, write_json
    from tokentrail.sources.files import total_bytes
    from tokentrail.state import StateStore

    loaded = load(rules, helpers, sigma_config)
    with contextlib.ExitStack() as stack:
        match_writer = MatchWriter(stack.enter_context(open_write(matches))) if matches else None
        dead = stack.enter_context(open_write(dead_letter)) if dead_letter else None
        try:
            store = StateStore(state) if state else None
        except sqlite3.Error as exc:
            fail(f"{state}: cannot open state: {exc}")
        progress = None
        if ui.err.is_terminal and "-" not in paths:
            bar = stack.enter_context(Progress(TextColumn("scanning"), BarColumn(), DownloadColumn(),
                                               TimeRemainingColumn(), console=ui.err, transient=True))
            task = bar.add_task("scan", total=total_bytes(paths))
            progress = lambda n: bar.advance(task, n)  # noqa: E731
        try:
            from tokentrail.engine.batch_input import wants_batch

            if engine is Engine.duckdb or (engine is None and wants_batch(paths)):
                from tokentrail.engine.batch import scan_batch

                result = scan_batch(paths, loaded, strict=strict, dead_letter=dead, state=store, on_match=match_writer)
            else:
                result = api.scan(paths, loaded, strict=strict, dead_letter=dead, state=store,
                                  on_match=match_writer, progress=progress, workers=workers)
        except TokenTrailError as exc:
            fail(str(exc), 1)
    for e in result.read_errors:
        ui.err.print(f"[yellow]skipped[/]: {escape(str(e))}", highlight=False, soft_wrap=True)
    if result.events_skipped > len(result.read_errors):
        ui.err.print(f"... and {result.events_skipped - len(result.read_errors)} more skipped lines", highlight=False)
    for e in result.rule_errors:
        ui.err.print("[red]rule error[/]: " + escape(f"{e.rule_id} on {e.event_id} ({e.source}:{e.line}): {e.summary}"),
                  highlight=False, soft_wrap=True)
    for e in result.load_errors[len(loaded.errors):]:
        ui.err.print(f"[red]error[/]: {escape(str(e))}", highlight=False, soft_wrap=True)
    s = result.stats
    summary = {"events_read": s.events, "events_skipped": result.events_skipped,
               "matched_events": s.matched_events, "matches": s.matches, "alerts": len(result.alerts),
               "rules_loaded": len(loaded.runnable), "rule_load_errors": len(result.load_errors),
               "rule_errors": len(result.rule_errors)}
    with open_out(output) as fh:
        if fmt is OutputFormat.jsonl:
            write_alerts_jsonl(result.alerts, fh)
        elif fmt is OutputFormat.json:
            write_json({"summary": summary, "alerts": [a.to_dict() for a in result.alerts]}, fh)
        else:
            console = Console(file=TextSink(fh)) if output else ui.out
            console.print(alerts_table(result.alerts))
    ui.err.print(f"{s.events} events read, {result.events_skipped} skipped, {s.matched_events} matched "
              f"({s.matches} matches), {len(result.alerts)} alert(s) from {len(loaded.runnable)} rules"
              + (f"; matches written to {matches}" if matches else ""), highlight=False, markup=False)
    if result.load_errors or result.rule_errors or result.events_skipped:
        raise typer.Exit(1)

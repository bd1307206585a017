"""``tokentrail scan``: log files in, alerts out."""

from __future__ import annotations

import contextlib
import os
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
from tokentrail.errors import StateError, TokenTrailError


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
        "--workers", "-j", help="Processes for big JSON-lines files (0: one per core; 1: no workers; "
        "at most 4 per core).")] = 0,
    keep_duplicates: Annotated[bool, typer.Option(
        "--keep-duplicates", help="Take every event, even one already read (same log type and event id).")] = False,
) -> None:
    """Scan log files with rules and report alerts.

    JSON lines leave as each alert becomes final; table and JSON output are sorted at the end.
    With --state, the state is committed only after every alert is written: a scan killed at any
    moment leaves the state as it was, and running it again gives the alerts of one whole run.
    """
    from tokentrail.sinks.table import alerts_table
    from tokentrail.sinks.writers import AlertLineWriter, MatchWriter, write_json
    from tokentrail.sources.files import total_bytes
    from tokentrail.state import StateStore

    loaded = load(rules, helpers, sigma_config)
    collected: list = []
    with contextlib.ExitStack() as stack:
        # Every output is opened before the scan, so a path that cannot be written stops it first.
        out = stack.enter_context(open_out(output))
        match_writer = MatchWriter(stack.enter_context(open_write(matches))) if matches else None
        dead = stack.enter_context(open_write(dead_letter)) if dead_letter else None
        store = None
        if state:
            try:
                store = StateStore(state)
                stack.callback(store.close)  # uncommitted changes (a failed scan) are dropped
                store.hold()
            except StateError as exc:
                fail(str(exc))
        progress = None
        if ui.err.is_terminal and "-" not in paths:
            bar = stack.enter_context(Progress(TextColumn("scanning"), BarColumn(), DownloadColumn(),
                                               TimeRemainingColumn(), console=ui.err, transient=True))
            task = bar.add_task("scan", total=total_bytes(paths))
            progress = lambda n: bar.advance(task, n)  # noqa: E731
        on_alert = AlertLineWriter(out) if fmt is OutputFormat.jsonl else collected.append
        try:
            result = api.scan(paths, loaded, strict=strict, dead_letter=dead, state=store,
                              on_match=match_writer, on_alert=on_alert, progress=progress, workers=workers,
                              keep_duplicates=keep_duplicates)
        except TokenTrailError as exc:
            fail(str(exc), 1)
        report_problems(result, loaded)
        s = result.stats
        collected.sort(key=lambda a: (a.first_time or 0.0, a.rule_id, a.id))
        summary = {"events_read": s.events, "events_skipped": result.events_skipped,
                   "duplicate_events": s.duplicates, "untimed_events": s.untimed,
                   "matched_events": s.matched_events, "matches": s.matches, "alerts": result.alerts_delivered,
                   "rules_loaded": len(loaded.runnable), "rule_load_errors": len(result.load_errors),
                   "rule_errors": len(result.rule_errors)}
        if fmt is OutputFormat.json:
            write_json({"summary": summary, "alerts": [a.to_dict() for a in collected]}, out)
        elif fmt is OutputFormat.table:
            console = Console(file=TextSink(out)) if output else ui.out
            console.print(alerts_table(collected))
        make_durable(out)
        if store is not None:
            try:
                store.commit()
            except StateError as exc:
                fail(str(exc), 1)
    duplicates = f", {s.duplicates} duplicate(s) dropped" if s.duplicates else ""
    repeats = f" ({result.repeated_alerts} repeated id(s) not written again)" if result.repeated_alerts else ""
    ui.err.print(f"{s.events} events read{duplicates}, {result.events_skipped} skipped, {s.matched_events} matched "
                 f"({s.matches} matches), {result.alerts_delivered} alert(s){repeats} from {len(loaded.runnable)} rules"
                 + (f"; matches written to {matches}" if matches else ""), highlight=False, markup=False)
    if result.load_errors or result.rule_errors or result.events_skipped:
        raise typer.Exit(1)


def report_problems(result, loaded) -> None:
    """One stderr line per problem the scan met (the work went on)."""
    for e in result.read_errors:
        ui.err.print(f"[yellow]skipped[/]: {escape(str(e))}", highlight=False, soft_wrap=True)
    if result.events_skipped > len(result.read_errors):
        ui.err.print(f"... and {result.events_skipped - len(result.read_errors)} more skipped lines", highlight=False)
    for e in result.rule_errors:
        ui.err.print("[red]rule error[/]: " + escape(f"{e.rule_id} on {e.event_id} ({e.source}:{e.line}): {e.summary}"),
                     highlight=False, soft_wrap=True)
    for e in result.load_errors[len(loaded.errors):]:
        ui.err.print(f"[red]error[/]: {escape(str(e))}", highlight=False, soft_wrap=True)
    if result.stats.untimed:
        ui.err.print(f"[yellow]no time[/]: {result.stats.untimed} matched event(s) had no usable time (missing "
                     f"or out of range), first at {escape(result.stats.first_untimed)}; their alerts carry none",
                     highlight=False, soft_wrap=True)


def make_durable(out) -> None:
    """Flush the alert output; a file is synced to disk too (the state commits after it)."""
    out.flush()
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if os.path.isfile(f"/proc/self/fd/{out.fileno()}"):
            os.fsync(out.fileno())

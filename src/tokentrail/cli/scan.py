"""``tokentrail scan``: log files in, alerts out."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
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
    note,
    open_out,
    open_write,
    report,
    require_stdin,
    ui,
)
from tokentrail.cli.help import Command
from tokentrail.engine import ScanResult
from tokentrail.errors import TokenTrailError


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(cls=Command)(scan)


def scan(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH", help="Log files or directories; '-' reads standard input.")],
    rules: RulesOpt = None,
    fmt: FormatOpt = OutputFormat.table,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FILE", help="Write alerts to this file instead of standard output.")] = None,
    matches: Annotated[Path | None, typer.Option(
        "--matches", metavar="FILE", help="Write one JSON line per matching (event, rule) pair here.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first malformed log line.")] = False,
    dead_letter: Annotated[Path | None, typer.Option(
        "--dead-letter", metavar="FILE", help="Keep malformed log lines in this file.")] = None,
    state: Annotated[Path | None, typer.Option(
        "--state", metavar="FILE",
        help="SQLite state carried from scan to scan (new_terms history, Panther caches).")] = None,
    helpers: HelpersOpt = None,
    sigma_config: ConfigOpt = None,
    workers: Annotated[int, typer.Option(
        "--workers", "-j", metavar="N",
        help="Processes for big JSON-lines files (0: one per core; 1: no workers).")] = api.DEFAULT_WORKERS,
) -> None:
    """Scan log files with rules and report alerts (a summary of events and rules goes to stderr)."""
    from tokentrail.sinks.table import alerts_table
    from tokentrail.sinks.writers import MatchWriter, write_alerts_jsonl, write_json
    from tokentrail.sources.files import total_bytes
    from tokentrail.state import StateStore

    require_stdin(paths)
    loaded = load(rules, helpers, sigma_config)
    with contextlib.ExitStack() as stack:
        match_writer = MatchWriter(stack.enter_context(open_write(matches, "--matches"))) if matches else None
        dead = stack.enter_context(open_write(dead_letter, "--dead-letter")) if dead_letter else None
        try:
            store = StateStore(state) if state else None
        except sqlite3.Error as exc:
            fail(f"--state {state}: cannot open: {exc}")
        progress = None
        if ui.err.is_terminal and "-" not in paths:
            bar = stack.enter_context(Progress(TextColumn("scanning"), BarColumn(), DownloadColumn(),
                                               TimeRemainingColumn(), console=ui.err, transient=True))
            task = bar.add_task("scan", total=total_bytes(paths))
            progress = lambda n: bar.advance(task, n)  # noqa: E731
        try:
            result = api.scan(paths, loaded, strict=strict, dead_letter=dead, state=store,
                              on_match=match_writer, progress=progress, workers=workers)
        except TokenTrailError as exc:
            fail(str(exc), 1)
    for e in result.read_errors:
        report("skipped", "yellow", e)
    if result.events_skipped > len(result.read_errors):
        note(f"... and {result.events_skipped - len(result.read_errors)} more skipped lines")
    for e in result.rule_errors:
        report("rule error", "red", f"{e.rule_id} on {e.event_id} ({e.source}:{e.line}): {e.summary}")
    for e in result.load_errors[len(loaded.errors):]:
        report("error", "red", e)
    summary = scan_summary(result)
    with open_out(output) as fh:
        if fmt is OutputFormat.jsonl:
            write_alerts_jsonl(result.alerts, fh)
        elif fmt is OutputFormat.json:
            write_json({"summary": summary, "alerts": [a.to_dict() for a in result.alerts]}, fh)
        else:
            console = Console(file=TextSink(fh)) if output else ui.out
            console.print(alerts_table(result.alerts))
    for line in summary_lines(result):
        note(line)
    if matches:
        note(f"matches written to {matches}")
    if result.load_errors or result.rule_errors or result.events_skipped:
        raise typer.Exit(1)


def scan_summary(result: ScanResult) -> dict[str, object]:
    """The counts of a scan, as the ``--format json`` summary gives them. Rule counts add up:
    ``rules_loaded`` = alerting + correlation stages + failed + not run."""
    s, r = result.stats, result.rule_counts
    return {"events_read": s.events, "events_skipped": result.events_skipped,
            "matched_events": s.matched_events, "matches": s.matches, "step_matches": s.step_matches,
            "alerts": len(result.alerts),
            "rules_loaded": r.loaded, "rules_alerting": r.alerting, "rules_correlation_stages": r.stages,
            "rules_failed": r.failed, "rules_not_run": r.idle,
            "rule_load_errors": len(result.load_errors), "rule_errors": len(result.rule_errors)}


def summary_lines(result: ScanResult) -> list[str]:
    """The scan summary people read on stderr: events, then how the rules divide up."""
    s, r = result.stats, result.rule_counts
    steps = f", {s.step_matches} sequence-step matches" if s.step_matches else ""
    events = (f"{s.events} events read, {result.events_skipped} skipped, {s.matched_events} matched "
              f"({s.matches} matches{steps}), {len(result.alerts)} alert(s)")
    parts = [f"{r.alerting} raise alerts"]
    if r.stages:
        parts.append(f"{r.stages} only feed correlations")
    if r.failed:
        parts.append(f"{r.failed} failed to compile")
    if r.idle:
        parts.append(f"{r.idle} do not run (unsupported or disabled)")
    return [events, f"{r.loaded} rules: " + ", ".join(parts)]

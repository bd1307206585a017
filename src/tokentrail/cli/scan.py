"""``tokentrail scan``: log files in, alerts out."""

from __future__ import annotations

import contextlib
import enum
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from tokentrail import api
from tokentrail.cli.common import (
    ConfigOpt,
    DataModelsOpt,
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
from tokentrail.errors import StateError, TokenTrailError
from tokentrail.rules.loader import LoadResult
from tokentrail.sources.limits import ReadLimits


class Engine(enum.StrEnum):
    """Which engine matches the rules."""

    stream = "stream"
    duckdb = "duckdb"
    spark = "spark"


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
    strict: Annotated[bool, typer.Option(
        "--strict", help="Stop at the first malformed log line or event of no known log type.")] = False,
    dead_letter: Annotated[Path | None, typer.Option(
        "--dead-letter", metavar="FILE",
        help="Keep malformed log lines, over-size records and events of no known log type here.")] = None,
    log_type: Annotated[str | None, typer.Option(
        "--log-type", metavar="NAME",
        help="Give every event this log type instead of detecting it (a TokenTrail name such as okta "
             "or auth0.api, or a Panther name such as Okta.SystemLog or GitHub.Audit).")] = None,
    state: Annotated[Path | None, typer.Option(
        "--state", metavar="FILE",
        help="SQLite state carried from scan to scan (new_terms history, Panther caches).")] = None,
    helpers: HelpersOpt = None,
    data_models: DataModelsOpt = None,
    sigma_config: ConfigOpt = None,
    workers: Annotated[int, typer.Option(
        "--workers", "-j", metavar="N",
        help="Processes for big JSON-lines files (0: one per core; 1: no workers; at most 4 per core).")
    ] = api.DEFAULT_WORKERS,
    engine: Annotated[Engine | None, typer.Option(
        "--engine", metavar="stream|duckdb|spark",
        help="stream (default; pure Python), duckdb (rules matched in SQL; same alerts; "
             "the default for Parquet input) or spark (matched in Apache Spark; same alerts).")] = None,
    spark_master: Annotated[str, typer.Option(
        "--spark-master", metavar="URL", help="Spark master for --engine spark (default local[2]).")] = "local[2]",
    spark_conf: Annotated[list[str] | None, typer.Option(
        "--spark-conf", metavar="K=V", help="A Spark setting for --engine spark (repeatable).")] = None,
    memory_limit: Annotated[str, typer.Option(
        "--memory-limit", metavar="SIZE",
        help="Most memory a duckdb-engine scan may take, the whole process, as DuckDB writes sizes (e.g. 2GB, "
             "500MB): DuckDB gets a share and spills to disk past it; a scan that passes it says so.")] = "2GB",
    keep_duplicates: Annotated[bool, typer.Option(
        "--keep-duplicates", help="Take every event, even one already read (same log type and event id).")] = False,
    max_line_size: Annotated[str | None, typer.Option(
        "--max-line-size", metavar="SIZE",
        help="Longest JSON line or CSV row read (default 32MiB); a longer one is one error.")] = None,
    max_cell_size: Annotated[str | None, typer.Option(
        "--max-cell-size", metavar="SIZE", help="Longest CSV cell read (default 32MiB).")] = None,
    max_document_size: Annotated[str | None, typer.Option(
        "--max-document-size", metavar="SIZE",
        help="Largest JSON value read whole from a .json file (default 256MiB).")] = None,
    no_prefilter: Annotated[bool, typer.Option(
        "--no-prefilter", help="Parse every JSON line whole, even one no rule can match (same results, slower).")
    ] = False,
    max_expanded_size: Annotated[str | None, typer.Option(
        "--max-expanded-size", metavar="SIZE",
        help="Most bytes one compressed file or archive member may expand to (default 64GiB).")] = None,
    report_dir: Annotated[Path | None, typer.Option(
        "--report", metavar="DIR",
        help="Write an HTML report of rule health here: alerts per rule per day, noisiest and dead rules, "
             "top actors and IPs, events by log type, unrecognised events.")] = None,
) -> None:
    """Scan log files with rules and report alerts (a summary of events and rules goes to stderr).

    JSON lines leave as each alert becomes final; table and JSON output are sorted at the end.
    With --state, the state is committed only after every alert is written: a scan killed at any
    moment leaves the state as it was, and running it again gives the alerts of one whole run.
    """
    from tokentrail.sinks.table import alerts_table
    from tokentrail.sinks.writers import AlertLineWriter, MatchWriter, write_json
    from tokentrail.sources.files import total_bytes
    from tokentrail.state import StateStore

    require_stdin(paths)
    limits = read_limits(max_line_size=max_line_size, max_cell_size=max_cell_size,
                         max_document_size=max_document_size, max_expanded_size=max_expanded_size)
    duckdb_memory = memory_size(memory_limit)
    settings = spark_settings(spark_conf or ()) if engine is Engine.spark else {}
    loaded = load(rules, helpers, sigma_config, data_models=data_models)
    collected: list = []
    with contextlib.ExitStack() as stack:
        # Every output is opened before the scan, so a path that cannot be written stops it first.
        out = stack.enter_context(open_out(output))
        match_writer = MatchWriter(stack.enter_context(open_write(matches, "--matches"))) if matches else None
        dead = stack.enter_context(open_write(dead_letter, "--dead-letter")) if dead_letter else None
        store = None
        if state:
            try:
                store = StateStore(state)
                stack.callback(store.close)  # uncommitted changes (a failed scan) are dropped
                store.hold()
            except StateError as exc:
                fail(f"--state {exc}")
        progress = None
        if ui.err.is_terminal and "-" not in paths:
            bar = stack.enter_context(Progress(TextColumn("scanning"), BarColumn(), DownloadColumn(),
                                               TimeRemainingColumn(), console=ui.err, transient=True))
            task = bar.add_task("scan", total=total_bytes(paths))
            progress = lambda n: bar.advance(task, n)  # noqa: E731
        on_alert = AlertLineWriter(out) if fmt is OutputFormat.jsonl else collected.append
        on_match = match_writer
        if report_dir is not None:
            from tokentrail.catalog.site.report import ReportCollector

            health = ReportCollector()
            on_alert, on_match = health.tee(on_alert, match_writer)
        from tokentrail.engine.batch_input import wants_batch

        if engine is Engine.stream and wants_batch(paths):
            # Its readers take text: each row group would be thousands of "malformed JSON" lines.
            fail("--engine stream reads JSON and CSV, not Parquet: use --engine duckdb or spark "
                 "(without --engine, Parquet input picks duckdb)")
        used = engine or (Engine.duckdb if wants_batch(paths) else Engine.stream)
        try:
            if used is Engine.spark:
                from tokentrail.engine.spark import scan_spark

                result = scan_spark(paths, loaded, master=spark_master, conf=settings,
                                    strict=strict, dead_letter=dead, state=store, on_match=on_match,
                                    on_alert=on_alert, limits=limits, keep_duplicates=keep_duplicates)
            elif used is Engine.duckdb:
                from tokentrail.engine.batch import scan_batch

                result = scan_batch(paths, loaded, strict=strict, dead_letter=dead, state=store,
                                    on_match=on_match, on_alert=on_alert, limits=limits,
                                    keep_duplicates=keep_duplicates, memory_limit=duckdb_memory, workers=workers)
            else:
                result = api.scan(paths, loaded, strict=strict, dead_letter=dead, state=store,
                                  on_match=on_match, on_alert=on_alert, progress=progress, workers=workers,
                                  log_type=log_type, limits=limits, keep_duplicates=keep_duplicates,
                                  prefilter=not no_prefilter)
        except TokenTrailError as exc:
            fail(str(exc), 1)
        report_problems(result, loaded)
        collected.sort(key=lambda a: (a.first_time or 0.0, a.rule_id, a.id))
        if fmt is OutputFormat.json:
            write_json({"summary": {**scan_summary(result), "engine": used.value},
                        "alerts": [a.to_dict() for a in collected]}, out)
        elif fmt is OutputFormat.table:
            console = Console(file=TextSink(out)) if output else ui.out
            console.print(alerts_table(collected))
        make_durable(out)
        if store is not None:
            try:
                store.commit()
            except StateError as exc:
                fail(str(exc), 1)
    if result.prefilter_off:
        note(result.prefilter_off)
    if result.memory_note:
        note(result.memory_note)
    for line in summary_lines(result):
        note(line)
    if used is not Engine.stream:
        note(engine_line(used, picked=engine is None, master=spark_master))
    if report_dir is not None:
        write_health_report(report_dir, health.report(result, loaded.rules, paths))
    if matches:
        note(f"matches written to {matches}")
    if result.load_errors or result.rule_errors or result.events_skipped:
        raise typer.Exit(1)


def memory_size(text: str) -> str:
    """``--memory-limit`` checked here, so a typo (or a size of nothing, which no budget can be
    cut from) is one clear line rather than DuckDB's error."""
    found = re.fullmatch(r"\s*(\d+(\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", text, re.IGNORECASE)
    if found is None or float(found.group(1)) == 0:
        fail(f"--memory-limit {text!r}: give a size such as 2GB or 500MB")
    return text.strip()


def spark_settings(items: Iterable[str]) -> dict[str, str]:
    """``--spark-conf`` checked before the scan: a setting without ``=`` is an option error."""
    from tokentrail.engine.spark import parse_conf

    try:
        return parse_conf(items)
    except TokenTrailError as exc:
        fail(str(exc))


def engine_line(used: Engine, *, picked: bool, master: str) -> str:
    """The summary's line naming the engine that matched the rules, when it is not the default
    (``--format json`` gives ``engine`` always): a Parquet scan without ``--engine`` is on DuckDB
    by choice of the input, which a user should not have to guess."""
    why = " (picked for Parquet input)" if picked else ""
    where = f" (master {master})" if used is Engine.spark else ""
    return f"engine: {used.value}{why}{where}"


def write_health_report(out: Path, health) -> None:
    """Write the scan's HTML report (``--report``) and say where it is."""
    from tokentrail.catalog.site.report_page import write_report

    try:
        page = write_report(out, health)
    except TokenTrailError as exc:
        fail(f"--report {exc}")
    note(f"report written to {page}")


def report_problems(result: ScanResult, loaded: LoadResult) -> None:
    """One stderr line per problem the scan met (the work went on)."""
    for e in result.read_errors:
        report("skipped", "yellow", e)
    if result.events_skipped > len(result.read_errors):
        note(f"... and {result.events_skipped - len(result.read_errors)} more skipped lines")
    for path, reason in result.skipped_files:
        report("skipped", "yellow", f"{path}: {reason}")
    if result.files_skipped > len(result.skipped_files):
        note(f"... and {result.files_skipped - len(result.skipped_files)} more skipped files")
    for e in result.rule_errors:
        report("rule error", "red", f"{e.rule_id} on {e.event_id} ({e.source}:{e.line}): {e.summary}")
    for e in result.load_errors[len(loaded.errors):]:
        report("error", "red", e)
    if result.stats.untimed:
        report("no time", "yellow", f"{result.stats.untimed} matched event(s) had no usable time (missing or "
               f"out of range), first at {result.stats.first_untimed}; their alerts carry none")


def make_durable(out) -> None:
    """Flush the alert output; a file is synced to disk too (the state commits after it)."""
    out.flush()
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if os.path.isfile(f"/proc/self/fd/{out.fileno()}"):
            os.fsync(out.fileno())


def scan_summary(result: ScanResult) -> dict[str, object]:
    """The counts of a scan, as the ``--format json`` summary gives them. Rule counts add up:
    ``rules_loaded`` = alerting + correlation stages + failed + not run."""
    s, r = result.stats, result.rule_counts
    return {"events_read": s.events, "events_skipped": result.events_skipped,
            "duplicate_events": s.duplicates, "untimed_events": s.untimed,
            "matched_events": s.matched_events, "matches": s.matches, "step_matches": s.step_matches,
            "alerts": result.alerts_delivered,
            "rules_loaded": r.loaded, "rules_alerting": r.alerting, "rules_correlation_stages": r.stages,
            "rules_failed": r.failed, "rules_not_run": r.idle,
            "rule_load_errors": len(result.load_errors), "rule_errors": len(result.rule_errors),
            "files_skipped": result.files_skipped,
            "skipped_files": [{"path": p, "reason": why} for p, why in result.skipped_files],
            **s.summary_json(), **stream_workers(result)}


def stream_workers(result: ScanResult) -> dict[str, object]:
    """``stream_workers`` of a duckdb-engine scan whose JSON lines the streaming engine's worker
    processes matched (``{"files", "events", "workers"}``); nothing otherwise."""
    return {"stream_workers": result.stream_workers} if result.stream_workers else {}


def summary_lines(result: ScanResult) -> list[str]:
    """The scan summary people read on stderr: events, then how the rules divide up."""
    s, r = result.stats, result.rule_counts
    steps = f", {s.step_matches} sequence-step matches" if s.step_matches else ""
    duplicates = f", {s.duplicates} duplicate(s) dropped" if s.duplicates else ""
    repeats = f" ({result.repeated_alerts} repeated id(s) not written again)" if result.repeated_alerts else ""
    events = (f"{s.events} events read{duplicates}, {result.events_skipped} skipped, {s.matched_events} matched "
              f"({s.matches} matches{steps}), {result.alerts_delivered} alert(s){repeats}")
    parts = [f"{r.alerting} raise alerts"]
    if r.stages:
        parts.append(f"{r.stages} only feed correlations")
    if r.failed:
        parts.append(f"{r.failed} failed to compile")
    if r.idle:
        parts.append(f"{r.idle} do not run (unsupported or disabled)")
    lines = [events, f"{r.loaded} rules: " + ", ".join(parts), *s.summary_lines()]
    if result.stream_workers:
        w = result.stream_workers
        lines.append(f"{w['events']} events of {w['files']} JSON-lines file(s) matched by the streaming engine "
                     f"in {w['workers']} worker processes")
    return lines


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1000, "kib": 1 << 10, "m": 1 << 20, "mb": 1000**2,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1000**3, "gib": 1 << 30}


def parse_size(option: str, text: str) -> int:
    """A size such as ``4096``, ``32MiB`` or ``2G`` in bytes; a bad one stops with one line."""
    number = text.strip().rstrip("bBiI")
    digits = number.rstrip("kKmMgG")
    unit = text.strip()[len(digits):].lower()
    if not digits.isdigit() or unit not in _UNITS:
        fail(f"{option} {text!r}: not a size (bytes, or a number with KiB, MiB, GiB)")
    return int(digits) * _UNITS[unit]


def read_limits(**sizes: str | None) -> ReadLimits:
    """The reader's limits with the sizes given on the command line."""
    given = {f"{name.removesuffix('_size')}_bytes": parse_size("--" + name.replace("_", "-"), text)
             for name, text in sizes.items() if text is not None}
    try:
        return ReadLimits(**given)
    except TokenTrailError as exc:
        fail(str(exc))

"""The ``tokentrail`` command: parse options, call the library, render with Rich.

Errors print one line each on stderr; a command exits non-zero when anything went wrong, after
doing all the work it could.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tokentrail import api
from tokentrail.errors import TokenTrailError
from tokentrail.rules.loader import LoadContext, LoadResult
from tokentrail.rules.model import PythonLogic, Rule

app = typer.Typer(help="Find application-access-token theft and abuse in SaaS identity logs.",
                  no_args_is_help=True, add_completion=False)
rules_app = typer.Typer(help="List and validate rules.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

out = Console()
err = Console(stderr=True)


@app.callback()
def _consoles() -> None:
    """Fresh consoles per invocation, so width and colour follow the terminal of this run."""
    global out, err
    out = Console()
    err = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    json = "json"


RulesOpt = Annotated[list[Path] | None, typer.Option(
    "-r", "--rules", help="Rule file or directory (repeatable). Default: the bundled pack.")]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
HelpersOpt = Annotated[list[Path] | None, typer.Option(
    "--helpers", help="Directory of Panther global helpers (repeatable).")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--sigma-config", help="YAML file of Sigma `expand` placeholders: {placeholders: {name: [values]}}.")]


def _context(helpers: Sequence[Path] | None, sigma_config: Path | None, allow_python: bool) -> LoadContext:
    placeholders: dict[str, tuple[str, ...]] = {}
    if sigma_config is not None:
        import yaml

        try:
            data = yaml.safe_load(sigma_config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            _fail(f"{sigma_config}: cannot read Sigma config: {exc}")
        raw = data.get("placeholders", data) if isinstance(data, dict) else {}
        if not isinstance(raw, dict):
            _fail(f"{sigma_config}: 'placeholders' must map each name to a list of values")
        placeholders = {str(k): tuple(str(x) for x in (v if isinstance(v, list) else [v])) for k, v in raw.items()}
    return LoadContext(placeholders=placeholders, helper_dirs=tuple(helpers or ()), allow_python=allow_python)


def _load(rules: Sequence[Path] | None, helpers=None, sigma_config=None, *, quiet: bool = False) -> LoadResult:
    """Load the named rules (Python rules allowed: the user named the paths) or the bundled pack."""
    if rules:
        result = api.load_rules(rules, context=_context(helpers, sigma_config, allow_python=True))
    else:
        result = api.load_rules(None, context=_context(helpers, sigma_config, allow_python=False))
    if not quiet:
        for e in result.errors:
            err.print(f"[red]error[/]: {escape(str(e))}", highlight=False, soft_wrap=True)
        python = [r for r in result.runnable if isinstance(r.logic, PythonLogic)]
        if python:
            err.print(f"about to run {len(python)} Python rule(s) from "
                      f"{', '.join(sorted({str(p) for p in (rules or [])}))}", highlight=False, markup=False)
    return result


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]error[/]: {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _open_write(path: Path) -> IO[bytes]:
    """Open an output file, or stop with one line naming it (exit 2)."""
    try:
        return open(path, "wb")
    except OSError as exc:
        _fail(f"{path}: cannot write: {exc.strerror}")


@contextlib.contextmanager
def _open_out(path: Path | None) -> Iterator[IO[bytes]]:
    if path is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
    else:
        with _open_write(path) as fh:
            yield fh


@app.command()
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
) -> None:
    """Scan log files with rules and report alerts."""
    from tokentrail.sinks.table import alerts_table
    from tokentrail.sinks.writers import MatchWriter, write_alerts_jsonl, write_json
    from tokentrail.sources.files import total_bytes
    from tokentrail.state import StateStore

    loaded = _load(rules, helpers, sigma_config)
    with contextlib.ExitStack() as stack:
        match_writer = MatchWriter(stack.enter_context(_open_write(matches))) if matches else None
        dead = stack.enter_context(_open_write(dead_letter)) if dead_letter else None
        try:
            store = StateStore(state) if state else None
        except sqlite3.Error as exc:
            _fail(f"{state}: cannot open state: {exc}")
        progress = None
        if err.is_terminal and "-" not in paths:
            bar = stack.enter_context(Progress(TextColumn("scanning"), BarColumn(), DownloadColumn(),
                                               TimeRemainingColumn(), console=err, transient=True))
            task = bar.add_task("scan", total=total_bytes(paths))
            progress = lambda n: bar.advance(task, n)  # noqa: E731
        try:
            result = api.scan(paths, loaded, strict=strict, dead_letter=dead, state=store,
                              on_match=match_writer, progress=progress, workers=workers)
        except TokenTrailError as exc:
            _fail(str(exc), 1)
    for e in result.read_errors:
        err.print(f"[yellow]skipped[/]: {escape(str(e))}", highlight=False, soft_wrap=True)
    if result.events_skipped > len(result.read_errors):
        err.print(f"... and {result.events_skipped - len(result.read_errors)} more skipped lines", highlight=False)
    for e in result.rule_errors:
        err.print("[red]rule error[/]: " + escape(f"{e.rule_id} on {e.event_id} ({e.source}:{e.line}): {e.summary}"),
                  highlight=False, soft_wrap=True)
    for e in result.load_errors[len(loaded.errors):]:
        err.print(f"[red]error[/]: {escape(str(e))}", highlight=False, soft_wrap=True)
    s = result.stats
    summary = {"events_read": s.events, "events_skipped": result.events_skipped,
               "matched_events": s.matched_events, "matches": s.matches, "alerts": len(result.alerts),
               "rules_loaded": len(loaded.runnable), "rule_load_errors": len(result.load_errors),
               "rule_errors": len(result.rule_errors)}
    with _open_out(output) as fh:
        if fmt is OutputFormat.jsonl:
            write_alerts_jsonl(result.alerts, fh)
        elif fmt is OutputFormat.json:
            write_json({"summary": summary, "alerts": [a.to_dict() for a in result.alerts]}, fh)
        else:
            console = Console(file=_TextSink(fh)) if output else out
            console.print(alerts_table(result.alerts))
    err.print(f"{s.events} events read, {result.events_skipped} skipped, {s.matched_events} matched "
              f"({s.matches} matches), {len(result.alerts)} alert(s) from {len(loaded.runnable)} rules"
              + (f"; matches written to {matches}" if matches else ""), highlight=False, markup=False)
    if result.load_errors or result.rule_errors or result.events_skipped:
        raise typer.Exit(1)


class _TextSink:
    """Lets a Rich console write text into a binary file."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh

    def write(self, text: str) -> int:
        self.fh.write(text.encode())
        return len(text)

    def flush(self) -> None:
        self.fh.flush()


def _rule_rows(rules: Sequence[Rule]) -> list[dict]:
    return [{
        "id": r.id, "title": r.title, "format": r.format, "severity": r.severity,
        "kind": type(r.logic).__name__ if r.logic is not None else "none",
        "techniques": list(r.techniques), "log_types": list(r.log_types) or [r.logsource.product or "any"],
        "tests": len(r.tests), "path": r.path, "status": "unsupported" if r.unsupported else
        ("disabled" if not r.enabled else "ok"), "reason": r.unsupported,
    } for r in rules]


@rules_app.command("list")
def rules_list(rules: RulesOpt = None, fmt: FormatOpt = OutputFormat.table,
               helpers: HelpersOpt = None, sigma_config: ConfigOpt = None) -> None:
    """List rules with their format, severity, ATT&CK techniques and tests."""
    loaded = _load(rules, helpers, sigma_config, quiet=fmt is not OutputFormat.table)
    rows = _rule_rows(loaded.rules)
    if fmt is not OutputFormat.table:
        import orjson

        from tokentrail.sinks.writers import write_json

        if fmt is OutputFormat.json:
            write_json(rows, sys.stdout.buffer)
        else:
            for row in rows:
                sys.stdout.buffer.write(orjson.dumps(row) + b"\n")
        raise typer.Exit(1 if loaded.errors else 0)
    table = Table(title=f"{len(rows)} rule(s)")
    for col in ("id", "title", "format", "kind", "severity", "ATT&CK", "source", "tests", "status"):
        table.add_column(col, overflow="fold")
    for row in rows:
        cells = (row["id"][:36], row["title"], row["format"], row["kind"], row["severity"],
                 " ".join(row["techniques"]), ", ".join(row["log_types"]), str(row["tests"]),
                 row["status"] if not row["reason"] else f"{row['status']}: {row['reason']}")
        table.add_row(*map(escape, cells))
    out.print(table)
    if loaded.errors:
        raise typer.Exit(1)


_GUIDE_KEYS = ("note", "runbook", "explanation", "prevention", "comments")


def _grouping_text(rule: Rule) -> str:
    g = rule.grouping
    parts = []
    if g.group_by:
        parts.append("by " + ", ".join(g.group_by))
    if g.window is not None:
        parts.append(f"within {g.window:g}s")
    if g.threshold > 1:
        parts.append(f">= {g.threshold} matches")
    if g.distinct_field:
        parts.append(f">= {g.distinct_threshold} distinct {g.distinct_field}")
    if g.new_terms:
        parts.append(f"new terms {', '.join(g.new_terms)} (history {g.history or 0:g}s)")
    return "; ".join(parts)


@rules_app.command("show")
def rules_show(rule_id: Annotated[str, typer.Argument(help="Rule id, name, or the start of an id.")],
               rules: RulesOpt = None, fmt: FormatOpt = OutputFormat.table,
               helpers: HelpersOpt = None, sigma_config: ConfigOpt = None) -> None:
    """One rule in full: metadata, ATT&CK, stages, indicators, output fields, investigation guide."""
    from rich.markdown import Markdown
    from rich.panel import Panel

    from tokentrail.engine.plan import log_types_of
    from tokentrail.rules.describe import logic_stages, rule_indicators

    loaded = _load(rules, helpers, sigma_config, quiet=True)
    found = [r for r in loaded.rules if rule_id in (r.id, r.name)] or [
        r for r in loaded.rules if r.id.startswith(rule_id)]
    if len(found) != 1:
        _fail(f"{len(found)} rules match {rule_id!r}" + (": " + ", ".join(r.id for r in found[:5]) if found else ""))
    rule = found[0]
    stages = logic_stages(rule)
    inds = rule_indicators(rule)
    guide = {k: rule.metadata[k] for k in _GUIDE_KEYS if rule.metadata.get(k)}
    if fmt is not OutputFormat.table:
        from tokentrail.sinks.writers import write_json

        write_json({
            **_rule_rows([rule])[0], "description": rule.description, "tactics": list(rule.tactics),
            "routes_to": list(log_types_of(rule)), "stages": [{"name": n, "logic": t} for n, t in stages],
            "indicators": [{"field": i.field, "op": i.op, "values": list(i.values), "negated": i.negated}
                           for i in inds],
            "output_fields": [{"label": o.label, "field": o.field} for o in rule.output_fields],
            "guide": guide, "references": list(rule.references), "false_positives": list(rule.false_positives),
            "metadata": dict(rule.metadata),
        }, sys.stdout.buffer)
        return
    head = Table.grid(padding=(0, 2))
    for label, value in (("id", rule.id), ("format", rule.format), ("severity", rule.severity),
                         ("status", rule.unsupported or rule.status), ("ATT&CK", " ".join(rule.techniques)),
                         ("tactics", " ".join(rule.tactics)), ("log types", ", ".join(log_types_of(rule))),
                         ("grouping", _grouping_text(rule)), ("file", rule.path), ("tests", str(len(rule.tests)))):
        if value:
            head.add_row(f"[bold]{label}[/]", escape(value))
    out.print(Panel(head, title=escape(rule.title), expand=False))
    if rule.description:
        out.print(escape(rule.description.strip()))
    stage_table = Table(title="stages")
    stage_table.add_column("stage")
    stage_table.add_column("logic", overflow="fold")
    for name, text in stages:
        stage_table.add_row(escape(name), escape(text))
    out.print(stage_table)
    if inds:
        ind_table = Table(title="indicators")
        for col in ("field", "kind", "values"):
            ind_table.add_column(col, overflow="fold")
        for i in inds:
            ind_table.add_row(escape(i.field), ("not " if i.negated else "") + i.op, escape("\n".join(i.values)))
        out.print(ind_table)
    if rule.output_fields:
        of = Table(title="output fields")
        of.add_column("field")
        of.add_column("source")
        for o in rule.output_fields:
            of.add_row(escape(o.label), escape(o.field))
        out.print(of)
    for key, text in guide.items():
        body = text if isinstance(text, str) else "\n".join(f"- {x}" for x in text)
        out.print(Panel(Markdown(body), title=key.replace("note", "investigation guide"), expand=False))


@rules_app.command("validate")
def rules_validate(rules: RulesOpt = None, fmt: FormatOpt = OutputFormat.table,
                   helpers: HelpersOpt = None, sigma_config: ConfigOpt = None) -> None:
    """Load rules and compile them for every log type; list every problem; exit 1 on any."""
    from tokentrail.engine.plan import build_plan

    loaded = _load(rules, helpers, sigma_config, quiet=True)
    plan = build_plan(loaded.rules)
    problems = [str(e) for e in [*loaded.errors, *plan.errors]]
    problems += [f"{r.path}: {r.id}: unsupported: {r.unsupported}" for r in loaded.unsupported]
    if fmt is not OutputFormat.table:
        from tokentrail.sinks.writers import write_json

        write_json({"rules": len(loaded.rules), "ok": len(loaded.runnable), "problems": problems}, sys.stdout.buffer)
    else:
        for p in problems:
            err.print(f"[red]error[/]: {escape(p)}", highlight=False, soft_wrap=True)
        out.print(f"{len(loaded.rules)} rule(s) loaded, {len(loaded.runnable)} runnable, {len(problems)} problem(s)")
    if problems:
        raise typer.Exit(1)


@app.command("test")
def test_rules(
    rules: Annotated[list[Path] | None, typer.Argument(help="Rule files or directories (default: bundled pack).")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write a JUnit XML report here.")] = None,
    filter_: Annotated[list[str] | None, typer.Option(
        "--filter", help="Only rules whose id, title or log type contains this text, or that match "
        "pat's Key=v1,v2 form (RuleID, LogTypes, Severity, Tags, AnalysisType; shell patterns). Repeatable.")] = None,
    fmt: FormatOpt = OutputFormat.table,
    helpers: HelpersOpt = None,
    sigma_config: ConfigOpt = None,
) -> None:
    """Run the tests embedded in rules (Sigma `tests:`, sidecar `.tests.yml`, Panther `Tests`)."""
    from tokentrail.engine.testing import run_rule_tests
    from tokentrail.sinks.junit import write_junit

    loaded = _load(rules, helpers, sigma_config, quiet=fmt is not OutputFormat.table)
    selected = [r for r in loaded.rules if _selected(r, filter_)]
    results = run_rule_tests(selected, context_rules=loaded.rules)
    if junit:
        try:
            write_junit(results, junit)
        except OSError as exc:
            _fail(f"{junit}: cannot write: {exc.strerror}")
    failed = [r for r in results if not r.passed]
    if fmt is not OutputFormat.table:
        from tokentrail.sinks.writers import write_json

        write_json({"passed": len(results) - len(failed), "failed": len(failed),
                    "results": [asdict(r) for r in results]},
                   sys.stdout.buffer)
    else:
        table = Table(title="rule tests")
        for col in ("rule", "test", "expected", "result", "detail"):
            table.add_column(col, overflow="fold")
        for r in results:
            table.add_row(escape(r.rule_title), escape(r.name), str(r.expected).lower(),
                          "[green]pass[/]" if r.passed else "[red]FAIL[/]", escape(r.detail))
        out.print(table)
        untested = [r.id for r in selected if not r.tests and r.logic is not None]
        out.print(f"{len(results) - len(failed)} passed, {len(failed)} failed"
                  + (f"; {len(untested)} rule(s) without tests" if untested else ""))
    if failed or loaded.errors:
        raise typer.Exit(1)


def _selected(rule: Rule, filters: Sequence[str] | None) -> bool:
    """pat-style ``Key=v1,v2`` filters must all hold; of the plain words, any one must appear in
    the rule's id, title or log types."""
    if not filters:
        return True
    from tokentrail.engine.plan import log_types_of
    from tokentrail.formats.panther import matches_filter

    keyed = [f for f in filters if "=" in f]
    plain = [f for f in filters if "=" not in f]
    if keyed and not matches_filter(rule, keyed):
        return False
    # Routed log types too: a Sigma rule names a logsource, not log types.
    hay = " ".join([rule.id, rule.title, *log_types_of(rule),
                    *map(str, rule.metadata.get("panther_log_types", ()))]).lower()
    return not plain or any(f.lower() in hay for f in plain)


@app.command()
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
        out.print(table)
        return
    unknown = [s for s in scenarios if s not in sim.SCENARIOS and s not in ("all", "benign")]
    if unknown:
        _fail(f"unknown scenario(s): {', '.join(unknown)} (see `tokentrail simulate --list`)")
    written = sim.write_logs(out_dir, scenarios, events=events, seed=seed, salesforce_csv=salesforce_csv)
    for source, path in written.items():
        out.print(f"{source}: {path}", markup=False)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where to write the demo logs.")] = Path("tokentrail-demo"),
    events: Annotated[int, typer.Option("--events", "-n")] = 30_000,
    seed: Annotated[int, typer.Option("--seed")] = 7,
) -> None:
    """Simulate a day of Okta, Auth0 and Salesforce logs with attacks, scan them, show the alerts."""
    from tokentrail import simulate as sim
    from tokentrail.sinks.table import alerts_table
    from tokentrail.sinks.writers import write_alerts_jsonl

    with err.status("simulating logs..."):
        written = sim.write_logs(out_dir / "logs", ["all"], events=events, seed=seed)
    loaded = _load(None)
    with err.status("scanning..."):
        result = api.scan(list(written.values()), loaded)
    out.print(alerts_table(result.alerts))
    alerts_path = out_dir / "alerts.jsonl"
    with open(alerts_path, "wb") as fh:
        write_alerts_jsonl(result.alerts, fh)
    s = result.stats
    out.print(f"{s.events} events scanned with {len(loaded.runnable)} bundled rules: "
              f"{len(result.alerts)} alert(s).", soft_wrap=True)
    out.print(f"logs: {', '.join(str(p) for p in written.values())}", markup=False, soft_wrap=True)
    out.print(f"alerts (JSON lines): {alerts_path}", markup=False, soft_wrap=True)
    out.print(f"next: tokentrail scan {out_dir / 'logs'} --format jsonl   |   tokentrail rules list   |   tokentrail test",
              markup=False, soft_wrap=True)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    app()

"""``tokentrail test``: run the tests embedded in rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tokentrail.cli.common import (
    ConfigOpt,
    DataModelsOpt,
    FormatOpt,
    HelpersOpt,
    OutputFormat,
    RulesOpt,
    escape,
    fail,
    load,
    ui,
    write_json_stdout,
)
from tokentrail.cli.help import Command
from tokentrail.rules.model import Rule

if TYPE_CHECKING:  # the engine loads when the command runs, not when the CLI starts
    from tokentrail.engine.testing import TestResult

# Above this many results the table lists only failed and skipped rows (Rich takes seconds to
# render thousands of rows); --all lists every one.
FULL_TABLE_LIMIT = 100


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("test", cls=Command)(test_rules)


def test_rules(
    paths: Annotated[list[Path] | None, typer.Argument(
        metavar="PATH", help="Rule files or directories, as with -r (default: the bundled pack).")] = None,
    rules: RulesOpt = None,
    junit: Annotated[Path | None, typer.Option(
        "--junit", metavar="FILE", help="Write a JUnit XML report here.")] = None,
    filter_: Annotated[list[str] | None, typer.Option(
        "--filter", metavar="TEXT", help="Only rules whose id, title or log type contains this text, or that match "
        "pat's Key=v1,v2 form (RuleID, LogTypes, Severity, Tags, AnalysisType; shell patterns). Repeatable.")] = None,
    fmt: FormatOpt = OutputFormat.table,
    helpers: HelpersOpt = None,
    data_models: DataModelsOpt = None,
    sigma_config: ConfigOpt = None,
    show_all: Annotated[bool, typer.Option(
        "--all", help=f"List every test in the table; over {FULL_TABLE_LIMIT} results it lists only "
        "failed and skipped ones (--format json always has them all).")] = False,
) -> None:
    """Run the tests embedded in rules (Sigma `tests:`, sidecar `.tests.yml`, Panther `Tests`)."""
    from tokentrail.engine.testing import run_rule_tests
    from tokentrail.sinks.junit import write_junit

    loaded = load([*(paths or ()), *(rules or ())], helpers, sigma_config, data_models=data_models,
                  quiet=fmt is not OutputFormat.table)
    selected = [r for r in loaded.rules if _selected(r, filter_)]
    results = run_rule_tests(selected, context_rules=loaded.rules)
    if junit:
        try:
            write_junit(results, junit)
        except OSError as exc:
            fail(f"--junit {junit}: cannot write: {exc.strerror}")
    failed = [r for r in results if not r.passed]
    skipped = [r for r in results if r.skipped]
    passed = len(results) - len(failed) - len(skipped)
    if fmt is not OutputFormat.table:
        write_json_stdout({"passed": passed, "failed": len(failed), "skipped": len(skipped),
                           "results": [asdict(r) for r in results],
                           "skipped_files": [{"file": f, "reason": why} for f, why in loaded.skipped]})
    else:
        listed = results if show_all or len(results) <= FULL_TABLE_LIMIT else [
            r for r in results if r.skipped or not r.passed]
        table = Table(title="rule tests")
        for col in ("rule", "test", "expected", "result", "detail"):
            table.add_column(col, overflow="fold")
        for r in listed:
            table.add_row(escape(r.rule_title), escape(r.name), str(r.expected).lower(),
                          _verdict(r), escape(r.detail))
        if listed:
            ui.out.print(table)
        untested = [r.id for r in selected if not r.tests and r.logic is not None]
        left_out = len(results) - len(listed)
        ui.out.print(f"{passed} passed, {len(failed)} failed, {len(skipped)} skipped"
                     + (f"; {len(untested)} rule(s) without tests" if untested else "")
                     + (f"; {left_out} passing test(s) not listed (--all lists them)" if left_out else ""))
    if failed or loaded.errors:
        raise typer.Exit(1)


def _verdict(result: TestResult) -> str:
    """The result column: skip, pass or FAIL."""
    if result.skipped:
        return "[yellow]skip[/]"
    return "[green]pass[/]" if result.passed else "[red]FAIL[/]"


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

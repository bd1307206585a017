"""``tokentrail test``: run the tests embedded in rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tokentrail.cli.common import (
    ConfigOpt,
    FormatOpt,
    HelpersOpt,
    OutputFormat,
    fail,
    load,
    ui,
    write_json_stdout,
)
from tokentrail.rules.model import Rule


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("test")(test_rules)


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

    loaded = load(rules, helpers, sigma_config, quiet=fmt is not OutputFormat.table)
    selected = [r for r in loaded.rules if _selected(r, filter_)]
    results = run_rule_tests(selected, context_rules=loaded.rules)
    if junit:
        try:
            write_junit(results, junit)
        except OSError as exc:
            fail(f"{junit}: cannot write: {exc.strerror}")
    failed = [r for r in results if not r.passed]
    if fmt is not OutputFormat.table:
        write_json_stdout({"passed": len(results) - len(failed), "failed": len(failed),
                    "results": [asdict(r) for r in results]})
    else:
        table = Table(title="rule tests")
        for col in ("rule", "test", "expected", "result", "detail"):
            table.add_column(col, overflow="fold")
        for r in results:
            table.add_row(escape(r.rule_title), escape(r.name), str(r.expected).lower(),
                          "[green]pass[/]" if r.passed else "[red]FAIL[/]", escape(r.detail))
        ui.out.print(table)
        untested = [r.id for r in selected if not r.tests and r.logic is not None]
        ui.out.print(f"{len(results) - len(failed)} passed, {len(failed)} failed"
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

"""``tokentrail indicators``: the most shared (field, operator, value) indicators of a rule corpus."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tokentrail.cli.common import FormatOpt, OutputFormat, RulesOpt, load, ui, write_json_stdout
from tokentrail.cli.help import Command


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(cls=Command)(indicators)


def indicators(
    rules: RulesOpt = None,
    top: Annotated[int, typer.Option("--top", "-n", metavar="N", help="How many indicators to list.")] = 20,
    min_rules: Annotated[int, typer.Option("--min-rules", metavar="N", help="List indicators shared by at least this "
                                                               "many rules (1: every indicator).")] = 2,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """The indicators most rules look for (fields compared in one schema), and the rules behind each."""
    from tokentrail.catalog.indicators import indicator_corpus

    loaded = load(rules)
    corpus = indicator_corpus(loaded.runnable)
    shared = corpus.shared(top=top, min_rules=max(1, min_rules))
    if fmt is not OutputFormat.table:
        write_json_stdout([{
            "family": s.family, "field": s.field, "op": s.op, "value": s.value, "negated": s.negated,
            "rules": [{"id": rid, "title": corpus.titles.get(rid, rid)} for rid in s.rules],
        } for s in shared])
    else:
        table = Table(title=f"indicators shared by {max(1, min_rules)}+ of {len(corpus.rows)} rules")
        for col in ("rules", "log type", "field", "kind", "value", "rule titles"):
            table.add_column(col, overflow="fold")
        for s in shared:
            table.add_row(str(len(s.rules)), s.family or "-", escape(s.field), ("not " if s.negated else "") + s.op,
                          escape(s.value), escape("\n".join(corpus.titles.get(r, r) for r in s.rules)))
        ui.out.print(table)
    if loaded.errors:
        raise typer.Exit(1)

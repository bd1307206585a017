"""``tokentrail rules``: list, show and validate rules."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Annotated

import typer
from rich import box
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
from tokentrail.cli.help import Command, Group
from tokentrail.convert.model import Conversion
from tokentrail.rules.describe import grouping_text, rule_kind
from tokentrail.rules.model import Rule
from tokentrail.sinks.safe_text import safe_text

app = typer.Typer(help="List, show and validate rules.", no_args_is_help=True, cls=Group)

SHORT_ID = 8  # the shortest id prefix shown; `rules show` takes any start of an id


def short_ids(ids: Sequence[str]) -> dict[str, str]:
    """Each id's shortest prefix of at least ``SHORT_ID`` characters that no other id starts with
    (the whole id when it is a prefix of another)."""
    width = SHORT_ID
    while len({i[:width] for i in ids}) < len(set(ids)) and width < max(map(len, ids), default=0):
        width += 1
    return {i: i[:width] for i in ids}


def _rule_rows(rules: Sequence[Rule]) -> list[dict]:
    return [{
        "id": r.id, "title": r.title, "format": r.format, "severity": r.severity,
        "kind": rule_kind(r),
        "techniques": list(r.techniques), "log_types": list(r.log_types) or [r.logsource.product or "any"],
        "tests": len(r.tests), "path": r.path, "status": "unsupported" if r.unsupported else
        ("disabled" if not r.enabled else "ok"), "reason": r.unsupported,
    } for r in rules]


@app.command("list", cls=Command)
def rules_list(rules: RulesOpt = None, fmt: FormatOpt = OutputFormat.table,
               helpers: HelpersOpt = None, data_models: DataModelsOpt = None, sigma_config: ConfigOpt = None) -> None:
    """List rules: short id, title, format and kind, severity, ATT&CK techniques, tests, status
    (the reason a rule does not run follows the table; log types are in `rules show` and the
    JSON forms)."""
    loaded = load(rules, helpers, sigma_config, data_models=data_models, quiet=fmt is not OutputFormat.table)
    rows = _rule_rows(loaded.rules)
    if fmt is not OutputFormat.table:
        from tokentrail.sinks.writers import write_json_lines

        if fmt is OutputFormat.json:
            write_json_stdout(rows)
        else:
            write_json_lines(rows, sys.stdout.buffer)
        raise typer.Exit(1 if loaded.errors else 0)
    table = Table(title=f"{len(rows)} rule(s)", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=(0, 1, 0, 0))
    table.add_column("id", no_wrap=True)
    table.add_column("title")
    table.add_column("kind", max_width=12)
    table.add_column("severity", no_wrap=True)
    table.add_column("ATT&CK", no_wrap=True)
    table.add_column("tests", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    short = short_ids([row["id"] for row in rows])
    for row in rows:
        cells = (short[row["id"]], row["title"], f"{row['format']} {row['kind']}", row["severity"],
                 "\n".join(row["techniques"]), str(row["tests"]), row["status"])
        table.add_row(*(escape(c, keep_newlines=True) for c in cells))
    ui.out.print(table)
    for row in rows:  # below the table, where a reason has room to be read
        if row["reason"]:
            ui.out.print(f"{escape(short[row['id']])}: {escape(row['status'])}: {escape(row['reason'])}",
                         highlight=False, soft_wrap=True)
    if loaded.errors:
        raise typer.Exit(1)


_GUIDE_KEYS = ("note", "runbook", "explanation", "prevention", "comments")


def find_rule(rules: Sequence[Rule], text: str) -> list[Rule]:
    """The rules ``text`` names: by exact id, name or title; else by title without regard to
    case; else by the start of an id."""
    for found in ([r for r in rules if text in (r.id, r.name, r.title)],
                  [r for r in rules if r.title.casefold() == text.casefold()],
                  [r for r in rules if r.id.startswith(text)]):
        if found:
            return found
    return []


def _corpus_counts(rules: Sequence[Rule], rule: Rule) -> Iterator[list[int]]:
    """Per indicator of ``rule``, in order: for each of its values, how many other loaded rules share it."""
    from tokentrail.catalog.indicators import indicator_corpus
    from tokentrail.rules.describe import rule_indicators

    rows = iter(indicator_corpus(rules).for_rule(rule.id))
    for ind in rule_indicators(rule):
        yield [next(rows).count for _ in ind.values or ("",)]


@app.command("show", cls=Command)
def rules_show(rule_id: Annotated[str, typer.Argument(
                   metavar="RULE", help="Rule id, name or exact title, or the start of an id.")],
               rules: RulesOpt = None, fmt: FormatOpt = OutputFormat.table,
               helpers: HelpersOpt = None, data_models: DataModelsOpt = None, sigma_config: ConfigOpt = None) -> None:
    """One rule in full: metadata, ATT&CK, stages, indicators, output fields, investigation guide."""
    from rich.markdown import Markdown
    from rich.panel import Panel

    from tokentrail.convert import portability
    from tokentrail.engine.plan import log_types_of
    from tokentrail.rules.describe import logic_stages, rule_indicators

    loaded = load(rules, helpers, sigma_config, data_models=data_models, quiet=True)
    found = find_rule(loaded.rules, rule_id)
    if len(found) != 1:
        fail(f"{len(found)} rules match {rule_id!r}" + (": " + ", ".join(r.id for r in found[:5]) if found else ""))
    rule = found[0]
    stages = logic_stages(rule)
    inds = rule_indicators(rule)
    corpus = _corpus_counts(loaded.rules, rule)
    guide = {k: rule.metadata[k] for k in _GUIDE_KEYS if rule.metadata.get(k)}
    conversions = conversions_of(rule, loaded.rules)
    if fmt is not OutputFormat.table:
        write_json_stdout({
            **_rule_rows([rule])[0], "description": rule.description, "tactics": list(rule.tactics),
            "routes_to": list(log_types_of(rule)), "stages": [{"name": n, "logic": t} for n, t in stages],
            "indicators": [{"field": i.field, "op": i.op, "values": list(i.values), "negated": i.negated,
                            "corpus": next(corpus)} for i in inds],
            "output_fields": [{"label": o.label, "field": o.field} for o in rule.output_fields],
            "guide": guide, "references": list(rule.references), "false_positives": list(rule.false_positives),
            "metadata": dict(rule.metadata),
            "portability": portability(conversions),
            "conversions": [{"target": c.target, "status": c.status, "caveats": list(c.caveats),
                             "query": c.query} for c in conversions],
        })
        return
    head = Table.grid(padding=(0, 2))
    for label, value in (("id", rule.id), ("format", rule.format), ("kind", rule_kind(rule)),
                         ("severity", rule.severity),
                         ("status", rule.unsupported or rule.status), ("ATT&CK", " ".join(rule.techniques)),
                         ("tactics", " ".join(rule.tactics)), ("log types", ", ".join(log_types_of(rule))),
                         ("grouping", grouping_text(rule)), ("file", rule.path), ("tests", str(len(rule.tests)))):
        if value:
            head.add_row(f"[bold]{label}[/]", escape(value))
    ui.out.print(Panel(head, title=escape(rule.title), expand=False))
    if rule.description:
        ui.out.print(escape(_reflowed(rule.description), keep_newlines=True))
    stage_table = Table(title="stages")
    stage_table.add_column("stage")
    stage_table.add_column("logic", overflow="fold")
    for name, text in stages:
        stage_table.add_row(escape(name), escape(text))
    ui.out.print(stage_table)
    if inds:
        ind_table = Table(title="indicators")
        for col in ("field", "kind", "values", "corpus"):
            ind_table.add_column(col, overflow="fold")
        for i in inds:
            ind_table.add_row(escape(i.field), ("not " if i.negated else "") + i.op,
                              escape("\n".join(i.values), keep_newlines=True),
                              "\n".join(str(n) for n in next(corpus)))
        ui.out.print(ind_table)
    if rule.output_fields:
        of = Table(title="output fields")
        of.add_column("field")
        of.add_column("source")
        for o in rule.output_fields:
            of.add_row(escape(o.label), escape(o.field))
        ui.out.print(of)
    for key, text in guide.items():
        body = text if isinstance(text, str) else "\n".join(f"- {x}" for x in text)
        ui.out.print(Panel(Markdown(safe_text(body, keep_newlines=True)),
                           title=key.replace("note", "investigation guide"), expand=False))
    score = portability(conversions)
    conv_table = Table(title=f"conversions (portability {'n/a' if score is None else f'{score}%'}; "
                             "tokentrail convert writes the queries)")
    for col in ("target", "status", "caveats"):
        conv_table.add_column(col, overflow="fold")
    for c in conversions:
        conv_table.add_row(escape(c.target), c.status.replace("_", " "),
                           escape("\n".join(c.caveats), keep_newlines=True))
    ui.out.print(conv_table)


def conversions_of(rule: Rule, rules: Sequence[Rule]) -> list[Conversion]:
    """The rule converted to every target (correlations find the rules they name in ``rules``)."""
    from tokentrail.convert import TARGETS, convert

    return [convert(rule, target, rules=rules) for target in TARGETS]


def _reflowed(text: str) -> str:
    """Paragraphs of ``text`` with their line breaks joined, so the terminal wraps them at its
    own width (rule files wrap descriptions at their authors' width)."""
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n")]
    return "\n\n".join(p for p in paragraphs if p)


AllowUnknownOpt = Annotated[bool, typer.Option(
    "--allow-unknown-fields",
    help="Report fields the rules' log types do not have as warnings instead of errors.")]


def _lift_report(rules) -> list[dict]:
    """For each Python rule: whether its ``rule()`` lifted into the IR, or what stopped it."""
    from tokentrail.rules.model import PythonLogic

    return [{"rule": r.id, "path": r.path, "lifted": r.logic.lifted is not None, "reason": r.logic.not_lifted}
            for r in rules if isinstance(r.logic, PythonLogic)]


@app.command("validate", cls=Command)
def rules_validate(rules: RulesOpt = None, fmt: FormatOpt = OutputFormat.table,
                   helpers: HelpersOpt = None, data_models: DataModelsOpt = None, sigma_config: ConfigOpt = None,
                   allow_unknown_fields: AllowUnknownOpt = False) -> None:
    """Load rules, compile them for every log type they route to as a scan does, and check every
    field they read exists there; list every problem; exit 1 on any."""
    from tokentrail.engine.plan import build_plan, log_types_of
    from tokentrail.schemas.fieldcheck import check_rules

    loaded = load(rules, helpers, sigma_config, data_models=data_models, quiet=True)
    plan = build_plan(loaded.rules)
    problems = [str(e) for e in [*loaded.errors, *plan.errors]]
    problems += [f"{r.path}: {r.id}: unsupported: {r.unsupported}" for r in loaded.unsupported]
    unknown = check_rules(loaded.runnable, log_types_of)
    warnings = [str(u) for u in unknown] if allow_unknown_fields else []
    if not allow_unknown_fields:
        problems += [str(u) for u in unknown]
    if fmt is not OutputFormat.table:
        write_json_stdout({"rules": len(loaded.rules), "ok": len(loaded.runnable), "problems": problems,
                           "warnings": warnings, "unknown_fields": [u.as_dict() for u in unknown],
                           "python_lifted": _lift_report(loaded.rules)})
    else:
        for p in problems:
            ui.err.print(f"[red]error[/]: {escape(p)}", highlight=False, soft_wrap=True)
        for w in warnings:
            ui.err.print(f"[yellow]warning[/]: {escape(w)}", highlight=False, soft_wrap=True)
        ui.out.print(f"{len(loaded.rules)} rule(s) loaded, {len(loaded.runnable)} runnable, "
                     f"{len(problems)} problem(s), {len(unknown)} unknown field(s)")
    if problems:
        raise typer.Exit(1)

"""``tokentrail convert``: rules to Sigma, SIEM queries, data-lake SQL and vendor log searches."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tokentrail.cli.common import ConfigOpt, RulesOpt, escape, fail, load, note, report, ui, write_json_stdout
from tokentrail.cli.help import Command
from tokentrail.convert import TARGETS, Conversion, portability
from tokentrail.convert.fidelity import applies
from tokentrail.rules.model import Rule

# File name endings per target for --output.
_SUFFIX = {"sigma": ".yml", "splunk": ".spl", "lucene": ".lucene", "esql": ".esql", "eql": ".eql",
           "kusto": ".kql", "okta": ".okta-filter.txt", "auth0": ".auth0-search.txt"}
_INTERNAL = "conversion failed:"


class ConvertFormat(StrEnum):
    text = "text"
    json = "json"


class Schema(StrEnum):
    native = "native"
    ecs = "ecs"


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command("convert", cls=Command)(convert)


def convert(
    to: Annotated[list[str], typer.Option(
        "--to", "-t", metavar="TARGET",
        help="Target (repeatable): " + ", ".join(TARGETS) + "; 'all' for every one.")],
    rules: RulesOpt = None,
    schema: Annotated[Schema | None, typer.Option(
        "--schema", metavar="SCHEMA",
        help="Field names: native (the vendor's) or ecs. Default: each target's own (Splunk native, "
             "Elastic ECS, Kusto the Sentinel table's columns).")] = None,
    fmt: Annotated[ConvertFormat, typer.Option(
        "--format", "-f", metavar="FORMAT", help="Output format: text (for people) or json.")] = ConvertFormat.text,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="DIR", help="Write one file per rule and target into DIR.")] = None,
    sigma_config: ConfigOpt = None,
) -> None:
    """Convert rules to other query languages, saying per rule and target what is lost."""
    targets = _targets(to)
    # Quiet: converting never runs a Python rule, so the notice that some are about to run is wrong here.
    loaded = load(rules, sigma_config=sigma_config, quiet=True)
    for error in loaded.errors:
        report("error", "red", error)
    chosen = [r for r in loaded.rules if r.enabled]
    from tokentrail.convert.registry import convert_all  # pySigma's backends: only for this command

    conversions = convert_all(chosen, targets, schema=schema.value if schema else None)
    by_rule = {r.id: [c for c in conversions if c.rule_id == r.id] for r in chosen}
    failed = 0
    for c in conversions:
        if c.status == "not_convertible" and applies(c):
            internal = c.caveats[0].startswith(_INTERNAL)
            failed += internal
            report("error" if internal else "not converted", "red" if internal else "yellow",
                   f"{c.path or c.rule_id}: {c.target}: {c.caveats[0]}")
    files = _write_files(output, chosen, by_rule) if output is not None else {}
    if fmt is ConvertFormat.json:
        write_json_stdout({"rules": [_rule_json(r, by_rule[r.id], files) for r in chosen],
                           "summary": _summary(conversions)})
    else:
        for rule in chosen:
            _print_rule(rule, by_rule[rule.id], files)
    counts = _summary(conversions)
    note(f"{len(chosen)} rule(s), {len(targets)} target(s): {counts['exact']} exact, "
         f"{counts['caveats']} with caveats, {counts['not_convertible']} not convertible")
    if loaded.errors or failed:
        raise typer.Exit(1)


def _targets(names: Sequence[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name == "all":
            out.extend(TARGETS)
        elif name in TARGETS:
            out.append(name)
        else:
            fail(f"--to {name}: unknown target (known: {', '.join(TARGETS)}, all)")
    return list(dict.fromkeys(out))


def _summary(conversions: Sequence[Conversion]) -> dict[str, int]:
    counts = {"exact": 0, "caveats": 0, "not_convertible": 0}
    for c in conversions:
        counts[c.status] += 1
    return counts


def _file_stems(rules: Sequence[Rule]) -> dict[str, str]:
    from tokentrail.convert.sigma import rule_name

    stems = [Path(r.path).stem if r.path else rule_name(r.id) for r in rules]
    return {r.id: stem if stems.count(stem) == 1 else f"{stem}.{rule_name(r.id)}"
            for r, stem in zip(rules, stems, strict=True)}


def _write_files(directory: Path, rules: Sequence[Rule],
                 by_rule: dict[str, list[Conversion]]) -> dict[tuple[str, str], str]:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--output {directory}: cannot create: {exc.strerror or exc}")
    stems = _file_stems(rules)
    written: dict[tuple[str, str], str] = {}
    for rule in rules:
        for c in by_rule[rule.id]:
            if c.status == "not_convertible":
                continue
            suffix = _SUFFIX.get(c.target) or f".{c.target.split(':', 1)[-1]}.sql"
            path = directory / f"{stems[rule.id]}{suffix}"
            try:
                path.write_text(c.query if c.query.endswith("\n") else c.query + "\n", encoding="utf-8")
            except OSError as exc:
                fail(f"--output {path}: cannot write: {exc.strerror or exc}")
            written[(rule.id, c.target)] = str(path)
    return written


def _rule_json(rule: Rule, conversions: Sequence[Conversion], files: dict[tuple[str, str], str]) -> dict:
    return {
        "id": rule.id, "title": rule.title, "format": rule.format, "path": rule.path,
        "portability": portability(conversions),
        "conversions": [
            {"target": c.target, "status": c.status, "query": c.query, "caveats": list(c.caveats),
             **({"file": files[(rule.id, c.target)]} if (rule.id, c.target) in files else {})}
            for c in conversions
        ],
    }


_STATUS_TEXT = {"exact": "[green]exact[/]", "caveats": "[yellow]with caveats[/]",
                "not_convertible": "[red]not convertible[/]"}


def _print_rule(rule: Rule, conversions: Sequence[Conversion], files: dict[tuple[str, str], str]) -> None:
    score = portability(conversions)
    shown = "n/a" if score is None else f"{score}%"
    ui.out.print(f"[bold]{escape(rule.title or rule.id)}[/] ({escape(rule.id)}) portability {shown}",
                 highlight=False, soft_wrap=True)
    for c in conversions:
        ui.out.print(f"  [bold]{escape(c.target)}[/]: {_STATUS_TEXT[c.status]}", highlight=False)
        for caveat in c.caveats:
            ui.out.print(f"    - {escape(caveat)}", highlight=False, soft_wrap=True)
        where = files.get((rule.id, c.target))
        if where:
            ui.out.print(f"    -> {escape(where)}", highlight=False, soft_wrap=True)
        elif c.query:
            body = "\n".join("    " + line for line in c.query.rstrip("\n").splitlines())
            ui.out.print(escape(body, keep_newlines=True), highlight=False, soft_wrap=True)

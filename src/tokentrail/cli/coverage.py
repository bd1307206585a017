"""``tokentrail coverage``: the ATT&CK matrix of a rule set, verified by running the simulator."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tokentrail.cli.common import RulesOpt, escape, fail, load, open_out, ui, write_json_stdout
from tokentrail.cli.help import Command
from tokentrail.errors import TokenTrailError
from tokentrail.sinks.writers import write_json


class CoverageFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"
    navigator = "navigator"


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(cls=Command)(coverage)


def coverage(
    rules: RulesOpt = None,
    platform: Annotated[list[str] | None, typer.Option(
        "--platform", "-p", metavar="TEXT", help="ATT&CK platform (repeatable). Default: SaaS, Identity Provider, IaaS, "
                                 "Office Suite.")] = None,
    fmt: Annotated[CoverageFormat, typer.Option(
        "--format", "-f", metavar="table|json|markdown|navigator", help="Output format.")] = CoverageFormat.table,
    against: Annotated[Path | None, typer.Option(
        "--against", metavar="PATH", help="A threat's Navigator layer: report its techniques' coverage, gaps first.")] = None,
    events: Annotated[int, typer.Option("--events", "-n", metavar="N", help="Simulated events per scenario run.")] = 2_000,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Simulator seed.")] = 11,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip the simulation: tags only.")] = False,
    all_rows: Annotated[bool, typer.Option("--all", help="Table/Markdown: list gaps too.")] = False,
    out: Annotated[Path | None, typer.Option("-o", "--out", metavar="PATH", help="Write to this file (default: stdout).")] = None,
    rule_url: Annotated[str, typer.Option(
        "--rule-url", metavar="TEXT", help="Navigator: link to each rule's page; {id} is replaced by the rule id.")] = "rules/{id}.html",
    atomic: Annotated[bool, typer.Option(
        "--atomic", help="List the cloud Atomic Red Team tests instead: the rules firing on each test's simulated "
                         "evidence, a gap mark, or 'no evidence we read'.")] = False,
) -> None:
    """ATT&CK coverage: each technique verified (a tagged rule fires on its simulated scenario and
    not on benign traffic), tagged only, or a gap. With --atomic, the same per Atomic Red Team test."""
    from tokentrail.catalog import coverage as cov_mod
    from tokentrail.catalog import navigator
    from tokentrail.catalog.attack import load_attack
    from tokentrail.catalog.coverage_report import MARKS, coverage_json, coverage_markdown
    from tokentrail.catalog.verify import verify_rules

    if "{id}" not in rule_url:
        fail(f"--rule-url {rule_url!r} must contain {{id}}")
    loaded = load(rules)
    if atomic:
        if against is not None or no_verify or fmt is CoverageFormat.navigator:
            fail("--atomic runs each test's simulated evidence: it takes no --against, --no-verify or --format navigator")
        _print_atomic(loaded.runnable, fmt, out, events=events, seed=seed)
        raise typer.Exit(1 if loaded.errors else 0)
    try:
        attack = load_attack()
        verification = None
        if not no_verify:
            with ui.err.status("simulating scenarios and benign traffic..."):
                verification = verify_rules(loaded.runnable, events=events, seed=seed)
            for rid, count in sorted(verification.rule_errors.items()):
                ui.err.print(f"warning: rule {rid} raised errors on {count} simulated event(s); "
                             "it may miss its scenarios", markup=False, highlight=False)
        if against is not None:
            threat = navigator.against(against, loaded.runnable, attack, verification)
    except TokenTrailError as exc:
        fail(str(exc))
    if against is not None:
        _print_against(threat, fmt)
        raise typer.Exit(1 if any(t.status in ("gap", "unknown") for t in threat) or loaded.errors else 0)
    try:
        cov = cov_mod.coverage(loaded.runnable, attack, verification,
                               platforms=platform or cov_mod.DEFAULT_PLATFORMS)
    except TokenTrailError as exc:
        fail(str(exc))
    if fmt in (CoverageFormat.json, CoverageFormat.navigator):
        data = coverage_json(cov) if fmt is CoverageFormat.json else navigator.navigator_layer(cov, rule_url=rule_url)
        with open_out(out) as fh:
            write_json(data, fh)
    elif fmt is CoverageFormat.markdown:
        text = coverage_markdown(cov, include_gaps=all_rows)
        with open_out(out) as fh:
            fh.write(text.encode())
    else:
        counts = cov.counts()
        table = Table(title=f"ATT&CK {cov.attack_version} coverage: {', '.join(cov.platforms)} — "
                            f"{counts['verified']} verified, {counts['tagged']} tagged only, {counts['gap']} gaps")
        for col in ("tactic", "technique", "name", "status", "rules / note"):
            table.add_column(col, overflow="fold")
        for tactic, techs in cov.by_tactic():
            for t in techs:
                if t.status == "gap" and not all_rows:
                    continue
                detail = ", ".join(cov.rule_titles.get(r, r) for r in (t.verified_by or t.rules))
                table.add_row(tactic.name, t.id, t.name, MARKS[t.status], detail + (f" ({t.note})" if t.note else ""))
        ui.out.print(table)
        for rid in cov.noisy:
            ui.err.print(f"warning: rule {cov.rule_titles.get(rid, rid)} alerts on benign simulated traffic",
                         markup=False, highlight=False)
        for tid, ids in cov.unknown_tags.items():
            ui.err.print(f"warning: {tid} (tagged by {len(ids)} rule(s)) is not in the ATT&CK data", markup=False)
    if loaded.errors:
        raise typer.Exit(1)


def _print_against(threat, fmt: CoverageFormat) -> None:
    rows = [{"technique": t.id, "name": t.name, "status": t.status, "rules": list(t.rules), "note": t.note}
            for t in threat]
    if fmt in (CoverageFormat.json, CoverageFormat.navigator):
        gaps = [t.id for t in threat if t.status in ("gap", "unknown")]
        write_json_stdout({"techniques": rows, "gaps": gaps})
        return
    table = Table(title=f"threat layer: {sum(t.status == 'gap' for t in threat)} gap(s) of {len(threat)}")
    for col in ("technique", "name", "status", "rules / note"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["technique"], r["name"], r["status"], ", ".join(r["rules"]) or r["note"])
    ui.out.print(table)


def _print_atomic(rules, fmt: CoverageFormat, out: Path | None, *, events: int, seed: int) -> None:
    from tokentrail.catalog.atomic import atomic_coverage
    from tokentrail.catalog.atomic_report import ATOMIC_MARKS, atomic_counts, atomic_json, atomic_markdown

    try:
        with ui.err.status("simulating the Atomic tests' evidence..."):
            results = atomic_coverage(rules, events=events, seed=seed)
    except TokenTrailError as exc:
        fail(str(exc))
    titles = {r.id: r.title for r in rules}
    if fmt is CoverageFormat.json:
        with open_out(out) as fh:
            write_json(atomic_json(results, titles), fh)
        return
    if fmt is CoverageFormat.markdown:
        with open_out(out) as fh:
            fh.write(atomic_markdown(results, titles).encode())
        return
    counts = atomic_counts(results)
    table = Table(title=f"Atomic Red Team tests: {counts['covered']} covered, {counts['gap']} gaps, "
                        f"{counts['no-evidence']} with no evidence we read")
    for col in ("technique", "Atomic test", "platforms", "status", "rules"):
        table.add_column(col, overflow="fold")
    for r in results:
        technique = ", ".join(r.test.techniques)
        table.add_row(escape(technique), escape(r.test.name), escape(", ".join(r.test.platforms)),
                      ATOMIC_MARKS[r.status], escape(", ".join(titles.get(rid, rid) for rid in r.firing_rule_ids)))
    ui.out.print(table)

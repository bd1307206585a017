"""``tokentrail site``: the static catalog site (plain HTML readable from ``file://``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tokentrail.cli.common import (
    ConfigOpt,
    DataModelsOpt,
    FormatOpt,
    HelpersOpt,
    OutputFormat,
    RulesOpt,
    fail,
    load,
    report,
    ui,
    write_json_stdout,
)
from tokentrail.cli.feed import BriefsOpt
from tokentrail.cli.help import Command, Group
from tokentrail.errors import TokenTrailError

app = typer.Typer(help="The static catalog site: rules, ATT&CK coverage, briefs and feeds as HTML.",
                  no_args_is_help=True, cls=Group)


@app.command("build", cls=Command)
def site_build(
    out: Annotated[Path, typer.Argument(metavar="DIR", help="Where to write the site (created if missing).")],
    rules: RulesOpt = None,
    briefs: BriefsOpt = None,
    scan_report: Annotated[Path | None, typer.Option(
        "--report", metavar="DIR",
        help="A scan report directory (`scan --report DIR`): shown inside the site, linked from the rule pages.")] = None,
    platform: Annotated[list[str] | None, typer.Option(
        "--platform", "-p", metavar="TEXT",
        help="ATT&CK platform of the coverage matrix (repeatable). Default: SaaS, Identity Provider, IaaS, "
             "Office Suite.")] = None,
    no_verify: Annotated[bool, typer.Option(
        "--no-verify", help="Skip the simulation: coverage from tags only, no Atomic test results.")] = False,
    events: Annotated[int, typer.Option(
        "--events", "-n", metavar="N", help="Simulated events per scenario run (coverage verification).")] = 2_000,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Simulator seed.")] = 11,
    fmt: FormatOpt = OutputFormat.table,
    helpers: HelpersOpt = None,
    data_models: DataModelsOpt = None,
    sigma_config: ConfigOpt = None,
) -> None:
    """Write the catalog: a searchable rule index, a page per rule (body, stages, indicators with
    corpus counts, tests, guide, briefs), per ATT&CK technique (rules, Atomic tests), the coverage
    matrix, brief pages and JSON Feeds. Open DIR/index.html in a browser; no server is needed."""
    from tokentrail.catalog.briefs import load_briefs
    from tokentrail.catalog.coverage import DEFAULT_PLATFORMS
    from tokentrail.catalog.site import build_site
    from tokentrail.catalog.site.report import read_report

    loaded = load(rules, helpers, sigma_config, data_models=data_models)
    found = load_briefs(briefs)
    for err in found.errors:
        report("error", "red", err)
    try:
        scanned = read_report(scan_report) if scan_report is not None else None
        with ui.err.status("building the site..."):
            built = build_site(out, loaded.rules, briefs=found.briefs, verify=not no_verify, events=events,
                               seed=seed, platforms=platform or DEFAULT_PLATFORMS, report=scanned)
    except TokenTrailError as exc:
        fail(str(exc))
    summary = {"index": str(built.index), "rules": built.rules, "techniques": built.techniques,
               "briefs": built.briefs, "feeds": list(built.feeds), "pages": built.pages,
               "report": str(built.report) if built.report else None, "verified": built.verified,
               "seconds": round(built.seconds, 2)}
    if fmt is OutputFormat.table:
        ui.out.print(f"{built.index}: {built.rules} rule pages, {built.techniques} technique pages, "
                     f"{built.briefs} briefs, {len(built.feeds)} feeds"
                     + (f", scan report {built.report}" if built.report else "")
                     + f" in {built.seconds:.1f} s", markup=False, highlight=False, soft_wrap=True)
    else:
        write_json_stdout(summary)
    if loaded.errors or found.errors:
        raise typer.Exit(1)

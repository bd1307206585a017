"""``tokentrail feed``: threat briefs as JSON Feed 1.1, linked to the rules that detect them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tokentrail.cli.common import FormatOpt, OutputFormat, RulesOpt, fail, load, ui, write_json_stdout
from tokentrail.cli.help import Command, Group
from tokentrail.errors import TokenTrailError

app = typer.Typer(help="Threat briefs as JSON Feed 1.1, linked to rules.", no_args_is_help=True, cls=Group)

BriefsOpt = Annotated[list[Path] | None, typer.Option(
    "--briefs", "-b", metavar="PATH", help="Brief file or directory of Markdown briefs (repeatable). Default: the bundled ones.")]


@app.command("build", cls=Command)
def feed_build(
    out: Annotated[Path, typer.Option("-o", "--out", metavar="PATH", help="Where to write the feed (JSON).")],
    tag: Annotated[str | None, typer.Option("--tag", metavar="TEXT", help="Only briefs with this tag (one feed per tag).")] = None,
    rules: RulesOpt = None,
    briefs: BriefsOpt = None,
    title: Annotated[str, typer.Option("--title", metavar="TEXT", help="The feed's title.")] = "TokenTrail threat briefs",
    home_page_url: Annotated[str, typer.Option("--home-page-url", metavar="TEXT", help="The feed's home page URL.")] = "",
    feed_url: Annotated[str, typer.Option("--feed-url", metavar="TEXT", help="Where the feed will be published.")] = "",
) -> None:
    """Write a JSON Feed 1.1 of the briefs, each with a _tokentrail extension: linked rules, techniques."""
    from tokentrail.catalog.briefs import load_briefs
    from tokentrail.catalog.feed import build_feed, write_feed

    loaded = load(rules)
    found = load_briefs(briefs)
    for err in found.errors:
        ui.err.print(f"[red]error[/]: {escape(str(err))}", highlight=False, soft_wrap=True)
    feed = build_feed(found.briefs, loaded.runnable, tag=tag, title=title, home_page_url=home_page_url,
                      feed_url=feed_url)
    try:
        write_feed(feed, out)
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror}")
    links = sum(len(b.extensions["_tokentrail"]["rules"]) for b in feed.items)
    ui.out.print(f"{out}: {len(feed.items)} brief(s), {links} rule link(s)", markup=False)
    if found.errors or loaded.errors:
        raise typer.Exit(1)


@app.command("read", cls=Command)
def feed_read(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A JSON Feed 1.x file.")],
    rules: RulesOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """List a feed's items and the loaded rules each links to (explicit ids or the evidence it names)."""
    from tokentrail.catalog.feed import read_feed
    from tokentrail.catalog.linking import link_rules, rule_event_types

    try:
        feed = read_feed(path)
    except TokenTrailError as exc:
        fail(str(exc))
    loaded = load(rules)
    events = rule_event_types(loaded.runnable)
    rows = []
    for item in feed.items:
        links = link_rules(item, loaded.runnable, events)
        known = {link.rule_id for link in links}
        listed = [r for r in item.rules if r not in known]  # named by the feed, not loaded here
        rows.append((item, links, listed))
    if fmt is not OutputFormat.table:
        write_json_stdout({"title": feed.title, "items": [{
            "id": item.id, "title": item.title, "date_published": item.date_published,
            "rules": [{"id": link.rule_id, "title": link.title, "reason": link.reason} for link in links],
            "rules_not_loaded": listed,
        } for item, links, listed in rows]})
    else:
        table = Table(title=f"{feed.title}: {len(feed.items)} item(s)")
        for col in ("published", "id", "title", "linked rules"):
            table.add_column(col, overflow="fold")
        for item, links, listed in rows:
            lines = [f"{link.title} ({_why(link.reason)})" for link in links] + [f"{r} (not loaded)" for r in listed]
            table.add_row(item.date_published[:10], escape(item.id), escape(item.title),
                          escape("\n".join(lines)) or "-")
        ui.out.print(table)
    if loaded.errors:
        raise typer.Exit(1)


def _why(reason: str) -> str:
    """An explicit id read from a feed was named by the feed itself."""
    return "named by the feed" if reason == "id" else reason

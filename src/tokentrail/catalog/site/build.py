"""``build_site``: every page of the catalog from a loaded rule set.

Pages: ``index.html`` (search and filters), ``rules/ID.html``, ``techniques/TID.html``,
``coverage.html`` (the matrix), ``briefs/index.html`` and a page per brief, ``feeds/*.json``
(JSON Feed 1.1, all briefs and one per tag), and ``report/index.html`` when a scan report is
given. Coverage is verified by running the simulator unless ``verify`` is False.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from markupsafe import Markup, escape

from tokentrail.catalog.atomic import atomic_coverage
from tokentrail.catalog.attack import AttackData, load_attack
from tokentrail.catalog.briefs import Brief, load_briefs, render_markdown
from tokentrail.catalog.coverage import DEFAULT_PLATFORMS, coverage
from tokentrail.catalog.coverage_report import MARKS
from tokentrail.catalog.feed import brief_tags, build_feed, feed_document
from tokentrail.catalog.indicators import indicator_corpus
from tokentrail.catalog.linking import brief_text, link_rules, rule_event_types
from tokentrail.catalog.site.conversions import find_converter, rule_conversions
from tokentrail.catalog.site.paths import brief_page, feed_file, rule_anchor, rule_page
from tokentrail.catalog.site.render import PageWriter, json_script
from tokentrail.catalog.site.report import ScanReport
from tokentrail.catalog.site.report_page import SITE_REPORT, report_context
from tokentrail.catalog.site.rule_view import RuleView, families_of, rule_view
from tokentrail.catalog.site.search import search_records
from tokentrail.catalog.site.technique_view import STATUS_TEXT, technique_views
from tokentrail.catalog.verify import DEFAULT_EVENTS, DEFAULT_SEED, verify_rules
from tokentrail.rules.model import SEVERITIES, Correlation, Rule


@dataclass(frozen=True)
class SiteBuild:
    """What a build wrote: page counts, the feeds, and where the index and report are."""

    out: Path
    rules: int
    techniques: int
    briefs: int
    feeds: tuple[str, ...]
    pages: int
    report: Path | None
    seconds: float
    verified: bool

    @property
    def index(self) -> Path:
        return self.out / "index.html"


def build_site(out: Path, rules: Sequence[Rule], *, briefs: Sequence[Brief] | None = None,
               attack: AttackData | None = None, verify: bool = True, events: int = DEFAULT_EVENTS,
               seed: int = DEFAULT_SEED, platforms: Sequence[str] = DEFAULT_PLATFORMS,
               report: ScanReport | None = None) -> SiteBuild:
    """Write the catalog of ``rules`` into ``out``; ``briefs`` default to the bundled ones.
    Raises ``SiteError`` when a page cannot be written (``ConfigError`` for an unknown platform)."""
    started = time.perf_counter()
    attack = attack or load_attack()
    runnable = [r for r in rules if r.runnable]
    briefs = load_briefs().briefs if briefs is None else tuple(briefs)
    verification = verify_rules(runnable, events=events, seed=seed) if verify else None
    cov = coverage(runnable, attack, verification, platforms=platforms)
    atomic = atomic_coverage(runnable, verification, events=events, seed=seed) if verify else ()
    corpus = indicator_corpus(r for r in rules if r.logic is not None)
    page_of = {r.id: rule_page(r.id) for r in rules}
    titles = {r.id: r.title for r in rules}
    techniques = technique_views(cov, attack, titles, page_of, atomic)
    technique_pages = {tid: view.page for tid, view in techniques.items()}
    events_of = rule_event_types(runnable)
    links = {b.id: link_rules(b, runnable, events_of) for b in briefs}
    briefs_of: dict[str, list[tuple[str, str, str]]] = {}
    for brief in briefs:
        for link in links[brief.id]:
            briefs_of.setdefault(link.rule_id, []).append((brief.title, brief_page(brief.id), link.reason))
    converter = find_converter()
    families = rule_families(rules)
    views = [rule_view(r, corpus=corpus, attack=attack, page_of=page_of, technique_pages=technique_pages,
                       families=families[r.id],
                       event_types=events_of.get(r.id, ("", frozenset()))[1], briefs=briefs_of.get(r.id, ()),
                       conversions=rule_conversions(r, converter, rules) if r.runnable else None)
             for r in sorted(rules, key=lambda r: (r.title.casefold(), r.id))]
    writer = PageWriter(out)
    writer.static()
    common = {"report_page": SITE_REPORT if report is not None else None, "site": True}
    _rule_pages(writer, views, report, common)
    tactic_names = {k: t.name for t in attack.tactics for k in (t.id.casefold(), t.shortname, t.name.casefold())}
    writer.page("index.html", "index.html", rules=views, data=json_script(search_records(views, tactic_names)),
                formats=sorted({v.rule.format for v in views}),
                families=sorted({f for v in views for f in v.families}),
                severities=[s for s in SEVERITIES if any(v.rule.severity == s for v in views)],
                tactics=[t.name for t in attack.tactics if any(t.name in (row.tactic for row in v.attack) for v in views)],
                counts=cov.counts(), **common)
    for view in techniques.values():
        writer.page(view.page, "technique.html", t=view, status_text=STATUS_TEXT, **common)
    writer.page("coverage.html", "coverage.html", cov=cov, technique_pages=technique_pages, marks=MARKS,
                verified=verification is not None, **common)
    feeds = _feeds(writer, briefs, runnable)
    writer.page("briefs/index.html", "briefs.html", briefs=briefs, links=links, feeds=feeds, **common)
    for brief in briefs:
        writer.page(brief_page(brief.id), "brief.html", brief=brief, body=brief_body(brief), links=links[brief.id],
                    page_of=page_of, feeds=feeds, **common)
    if report is not None:
        writer.page(SITE_REPORT, "report.html", **report_context(report, page_of), **common)
    return SiteBuild(out, len(views), len(techniques), len(briefs), tuple(path for _, path, _ in feeds),
                     writer.written, out / SITE_REPORT if report is not None else None,
                     time.perf_counter() - started, verification is not None)


def rule_families(rules: Sequence[Rule]) -> dict[str, tuple[str, ...]]:
    """Each rule's log type families; a correlation's are those of the rules it correlates (its
    own logsource, often none, would route it everywhere)."""
    own = {r.id: families_of(r) for r in rules}
    by_ref = {**{r.name: own[r.id] for r in rules if r.name}, **own}
    out = {}
    for rule in rules:
        logic = rule.logic
        refs = [s.rule_ref for s in logic.steps if s.rule_ref] if isinstance(logic, Correlation) else []
        found = tuple(dict.fromkeys(f for ref in refs for f in by_ref.get(ref, ())))
        out[rule.id] = found or own[rule.id]
    return out


def brief_body(brief: Brief) -> Markup:
    """A brief's body as safe HTML: its Markdown rendered here (raw HTML escaped); a brief read
    from a feed has only HTML, which is not trusted: its text is shown instead."""
    if brief.content_text:
        return Markup(render_markdown(brief.content_text))
    return Markup("".join(f"<p>{escape(p)}</p>" for p in brief_text(replace(brief, title="", summary="")).split("\n\n")
                          if p.strip()))


def _rule_pages(writer: PageWriter, views: Sequence[RuleView], report: ScanReport | None, common: dict) -> None:
    for view in views:
        health = report.rule(view.rule.id) if report is not None else None
        writer.page(view.page, "rule.html", v=view, r=view.rule, health=health,
                    report_anchor=rule_anchor(view.rule.id), **common)


def _feeds(writer: PageWriter, briefs: Sequence[Brief], rules: Sequence[Rule]) -> list[tuple[str, str, int]]:
    """Write the JSON Feeds (all briefs, then one per tag); (label, path, items) of each. The rules
    are linked once, for the feed of all briefs; each tag's feed takes its items from there."""
    everything = build_feed(briefs, rules)
    tags = sorted({t.casefold() for b in briefs for t in brief_tags(b)})
    made = []
    for tag in (None, *tags):
        feed = everything if tag is None else replace(
            everything, title=f"{everything.title} — {tag}",
            items=tuple(b for b in everything.items if tag in {t.casefold() for t in brief_tags(b)}))
        path = feed_file(tag)
        writer.text(path, json.dumps(feed_document(feed), ensure_ascii=False, indent=2) + "\n")
        made.append((tag or "all briefs", path, len(feed.items)))
    return made

"""JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) of threat briefs: read, build, write.

Reading keeps every key the model does not hold — the extensions (``_cs_*``, ``_tokentrail``) and
any other — of the feed and of each item verbatim, so a read/write round trip gives the same
document. Vendors, products, severities and the rest fall back to ``_cs_*`` keys when the
``_tokentrail`` extension does not give them; ``brief_tags`` adds ``_cs_tags`` to the tags. Building writes our ``_tokentrail`` extension: the linked rules and the techniques.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tokentrail.catalog.briefs import Brief, BriefError
from tokentrail.catalog.linking import link_rules, rule_event_types
from tokentrail.rules.model import Rule

VERSION = "https://jsonfeed.org/version/1.1"
EXTENSION = "_tokentrail"
_ITEM_FIELDS = ("id", "url", "title", "summary", "content_html", "content_text", "date_published",
                "date_modified")
_FEED_FIELDS = ("title", "home_page_url", "feed_url", "description", "language")


@dataclass(frozen=True)
class Feed:
    """A JSON Feed: its top-level fields, its items as briefs, the rest of its keys verbatim."""

    title: str
    items: tuple[Brief, ...]
    home_page_url: str = ""
    feed_url: str = ""
    description: str = ""
    language: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    version: str = VERSION


def parse_feed(text: str, source: str = "") -> Feed:
    """A JSON Feed 1.x document; raises ``BriefError`` naming the file (and line of a JSON error)."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BriefError(f"not JSON: {exc.msg}", file=source, line=getattr(exc, "lineno", None)) from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/1"):
        raise BriefError("not a JSON Feed 1.x document (no jsonfeed.org version URL)", file=source)
    raw_items = doc.get("items")
    if not isinstance(raw_items, list) or not isinstance(doc.get("title"), str):
        raise BriefError("a JSON Feed needs a title and a list of items", file=source)
    items = []
    for i, item in enumerate(raw_items):
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise BriefError(f"items[{i}] has no id", file=source)
        items.append(_brief(item, source))
    known = {"version", "items", *_FEED_FIELDS}
    return Feed(title=doc["title"], items=tuple(items),
                **{k: str(doc.get(k, "")) for k in _FEED_FIELDS if k != "title"},
                extra={k: v for k, v in doc.items() if k not in known}, source=source, version=doc["version"])


def read_feed(path: Path) -> Feed:
    """``parse_feed`` of a file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BriefError(f"cannot read: {exc}", file=str(path)) from exc
    return parse_feed(text, str(path))


def _brief(item: Mapping[str, Any], source: str) -> Brief:
    ours = item.get(EXTENSION) if isinstance(item.get(EXTENSION), Mapping) else {}

    def listed(key: str, fallback: str) -> tuple[str, ...]:
        value = ours.get(key, item.get(fallback, []))
        if key == "rules" and isinstance(value, list):
            value = [r.get("id") if isinstance(r, Mapping) else r for r in value]
        return tuple(str(v) for v in value if v not in (None, "")) if isinstance(value, list) else ()

    tags = item.get("tags", [])
    held = {*_ITEM_FIELDS, *(("tags",) if isinstance(tags, list) else ())}
    extensions = {k: v for k, v in item.items() if k not in held}
    return Brief(
        id=str(item["id"]), title=str(item.get("title", "")),
        **{k: str(item.get(k, "")) for k in _ITEM_FIELDS if k not in ("id", "title")},
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        vendors=listed("vendors", "_cs_vendors"), products=listed("products", "_cs_products"),
        severities=listed("severities", "_cs_severities"), techniques=listed("techniques", "_cs_techniques"),
        event_types=listed("event_types", "_cs_event_types"), rules=listed("rules", "_cs_rules"),
        extensions=extensions, source=source,
    )


def feed_document(feed: Feed) -> dict[str, Any]:
    """The JSON Feed document of ``feed``: what was read comes back as it was."""
    doc: dict[str, Any] = {"version": feed.version, "title": feed.title}
    doc.update({k: getattr(feed, k) for k in _FEED_FIELDS if k != "title" and getattr(feed, k)})
    doc.update(feed.extra)
    doc["items"] = [_item(b) for b in feed.items]
    return doc


def _item(brief: Brief) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(brief, k) for k in _ITEM_FIELDS if getattr(brief, k)}
    if brief.tags:
        out["tags"] = list(brief.tags)
    out.update(brief.extensions)
    return out


def write_feed(feed: Feed, path: Path) -> None:
    """Write the feed as UTF-8 JSON."""
    path.write_text(json.dumps(feed_document(feed), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def build_feed(briefs: Sequence[Brief], rules: Sequence[Rule], *, tag: str | None = None,
               title: str = "TokenTrail threat briefs", home_page_url: str = "", feed_url: str = "",
               description: str = "Threat briefs on application-access-token abuse, linked to the rules that "
                                  "detect them.") -> Feed:
    """A feed of the briefs tagged ``tag`` (all when None), newest first, each item carrying the
    ``_tokentrail`` extension: linked rules (id, title, why), techniques and the evidence named."""
    chosen = [b for b in briefs if tag is None or tag.casefold() in {t.casefold() for t in brief_tags(b)}]
    chosen.sort(key=lambda b: (b.date_published, b.id), reverse=True)
    events = rule_event_types(rules)
    items = []
    for brief in chosen:
        links = link_rules(brief, rules, events)
        ours = {"rules": [{"id": link.rule_id, "title": link.title, "reason": link.reason} for link in links],
                "techniques": list(brief.techniques), "vendors": list(brief.vendors),
                "products": list(brief.products), "severities": list(brief.severities),
                "event_types": list(brief.event_types)}
        extensions = {**{k: v for k, v in brief.extensions.items() if k != EXTENSION}, EXTENSION: ours}
        items.append(replace(brief, extensions=extensions))
    name = f"{title} — {tag}" if tag else title
    return Feed(title=name, items=tuple(items), home_page_url=home_page_url, feed_url=feed_url,
                description=description, language="en")


def brief_tags(brief: Brief) -> tuple[str, ...]:
    """The brief's tags, and a feed item's ``_cs_tags`` too."""
    extra = brief.extensions.get("_cs_tags", [])
    return tuple(dict.fromkeys([*brief.tags, *(str(t) for t in extra if isinstance(extra, list))]))

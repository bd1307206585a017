"""Threat briefs: the model, and the Markdown-with-front-matter files of content/briefs/.

A brief file is YAML front matter between ``---`` lines (id, title, summary, dates, tags, vendors,
products, severities, techniques, event_types, rules) and a Markdown body, rendered to HTML with
raw HTML escaped. Files that cannot be read are errors with file and line; the others still load.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from tokentrail.content import CONTENT_DIR
from tokentrail.errors import TokenTrailError

BRIEFS_DIR = CONTENT_DIR / "briefs"
_LISTS = ("tags", "vendors", "products", "severities", "techniques", "event_types", "rules")
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


class BriefError(TokenTrailError):
    """A brief or a feed cannot be read."""


@dataclass(frozen=True)
class Brief:
    """A threat brief: what JSON Feed carries plus the evidence it names for linking rules.

    ``rules`` are explicit rule ids; ``event_types``, ``techniques`` and ``products`` are evidence
    that links it to rules too (see ``catalog.linking``). ``extensions`` keeps every key of a feed
    item the model does not hold (``_cs_*``, ``_tokentrail``, ``authors``...) verbatim, for a
    faithful round trip.
    """

    id: str
    title: str
    summary: str = ""
    content_html: str = ""
    content_text: str = ""
    url: str = ""
    date_published: str = ""
    date_modified: str = ""
    tags: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    extensions: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class BriefSet:
    """Briefs that loaded and the errors of those that did not."""

    briefs: tuple[Brief, ...]
    errors: tuple[BriefError, ...] = ()


def render_markdown(text: str) -> str:
    """Markdown (CommonMark) as HTML; raw HTML in the source is escaped, not passed through."""
    return MarkdownIt("commonmark", {"html": False}).render(text)


def parse_brief(text: str, source: str = "") -> Brief:
    """One brief from its Markdown text with front matter; raises ``BriefError`` naming the line."""
    if not text.startswith("---"):
        raise BriefError("no front matter: the file must start with a '---' line", file=source, line=1)
    end = text.find("\n---", 3)
    if end < 0:
        raise BriefError("front matter is not closed by a '---' line", file=source, line=1)
    try:
        meta = yaml.safe_load(text[3:end]) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise BriefError(f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}", file=source,
                         line=line) from exc
    if not isinstance(meta, dict):
        raise BriefError("front matter must be a mapping", file=source, line=2)
    missing = [k for k in ("id", "title") if not meta.get(k)]
    if missing:
        raise BriefError(f"front matter lacks {', '.join(missing)}", file=source, line=2)
    lists = {k: _strings(meta.get(k), k, source) for k in _LISTS}
    bad = [t for t in lists["techniques"] if not _TECHNIQUE.match(t)]
    if bad:
        raise BriefError(f"not ATT&CK technique ids: {', '.join(bad)}", file=source, line=2)
    body = text[end + 4:].split("\n", 1)[1] if "\n" in text[end + 4:] else ""
    return Brief(
        id=str(meta["id"]), title=str(meta["title"]), summary=str(meta.get("summary", "")).strip(),
        content_html=render_markdown(body), content_text=body.strip() + "\n" if body.strip() else "",
        url=str(meta.get("url", "")), date_published=_date(meta.get("date_published"), source),
        date_modified=_date(meta.get("date_modified") or meta.get("date_published"), source),
        source=source, **lists)


def load_briefs(paths: Iterable[Path] | None = None) -> BriefSet:
    """Briefs from Markdown files and directories of them (default: the bundled content/briefs/)."""
    files: list[Path] = []
    for path in paths if paths is not None else [BRIEFS_DIR]:
        files += sorted(path.rglob("*.md")) if path.is_dir() else [path]
    briefs, errors = [], []
    for file in files:
        try:
            briefs.append(parse_brief(file.read_text(encoding="utf-8"), str(file)))
        except OSError as exc:
            errors.append(BriefError(f"cannot read: {exc.strerror}", file=str(file)))
        except BriefError as exc:
            errors.append(exc)
    seen: dict[str, str] = {}
    kept = []
    for brief in briefs:
        if brief.id in seen:
            errors.append(BriefError(f"brief id {brief.id!r} is also used by {seen[brief.id]}", file=brief.source))
            continue
        seen[brief.id] = brief.source
        kept.append(brief)
    return BriefSet(tuple(kept), tuple(errors))


def _strings(value: Any, key: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str | int | float):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise BriefError(f"'{key}' must be a list of strings", file=source, line=2)
    return tuple(str(v) for v in value)


def _date(value: Any, source: str) -> str:
    """RFC 3339 text (JSON Feed's date form) from a YAML date, datetime or string."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day, 12, tzinfo=dt.UTC)
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise BriefError(f"not a date: {value!r}", file=source, line=2) from exc
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")

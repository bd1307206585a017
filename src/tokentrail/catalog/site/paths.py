"""Where each page of the site lives, and the file-name-safe slug of a rule id.

A slug depends on the rule id alone, so the scan report and the catalog, built apart, agree on
every rule's page. Ids that are safe file names already are kept; any other (a slash, a space,
a leading dot, characters outside ASCII) is cleaned and suffixed with a hash of the id, so two
ids that clean to the same text still get two pages.
"""

from __future__ import annotations

import hashlib
import re

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str) -> str:
    """A file name for ``text`` (a rule, brief or tag id): the text itself when safe, else a
    cleaned form plus eight hex digits of its hash."""
    if _SAFE.fullmatch(text) and not text.endswith("."):
        return text
    cleaned = _UNSAFE_RUN.sub("-", text).strip("-.")[:60] or "x"
    return f"{cleaned}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def rule_page(rule_id: str) -> str:
    """A rule's page, relative to the site's root."""
    return f"rules/{slug(rule_id)}.html"


def technique_page(technique_id: str) -> str:
    """A technique's page, relative to the site's root."""
    return f"techniques/{slug(technique_id)}.html"


def brief_page(brief_id: str) -> str:
    """A brief's page, relative to the site's root."""
    return f"briefs/{slug(brief_id)}.html"


def feed_file(tag: str | None) -> str:
    """The JSON Feed of one tag (all briefs when None), relative to the site's root."""
    return "feeds/all.json" if tag is None else f"feeds/{slug(tag.casefold())}.json"


def rule_anchor(rule_id: str) -> str:
    """The id of a rule's section in the scan report."""
    return "rule-" + slug(rule_id)

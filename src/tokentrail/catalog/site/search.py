"""The index page's search data: one small record per rule, embedded in the page as JSON
(``file://`` pages cannot fetch a separate file), read by ``static/site.js``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokentrail.catalog.site.rule_view import RuleView

MAX_TERMS = 200  # indicator values kept per rule for search


def search_records(views: Sequence[RuleView], tactic_names: dict[str, str]) -> list[dict[str, Any]]:
    """Per rule, in the order of the index table: page, and the words search and filters read.
    ``s`` holds the searchable text (title, id, techniques, event types and other indicator
    values, log types), lower-cased as the script lower-cases what is typed."""
    records = []
    for view in views:
        rule = view.rule
        tactics = sorted({row.tactic for row in view.attack if row.tactic} |
                         {tactic_names.get(str(t).lower(), "") for t in rule.tactics} - {""})
        values = list(dict.fromkeys(v.value for g in view.indicators for v in g.values))[:MAX_TERMS]
        text = " ".join([rule.title, rule.id, rule.name or "", *rule.techniques, *view.event_types, *values,
                         *view.families, *view.log_types, *rule.tags])
        records.append({"p": view.page, "f": rule.format, "l": list(view.families), "v": rule.severity,
                        "t": tactics, "s": text.lower()})
    return records

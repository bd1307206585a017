"""Map a Sigma document's descriptive keys onto ``Rule`` fields; keep every other key as metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tokentrail.errors import RuleLoadError
from tokentrail.formats.sigma.documents import plain
from tokentrail.rules.model import OutputField, RuleTest

# Keys that become Rule fields or logic; everything else is kept in Rule.metadata.
CONSUMED = frozenset({
    "title", "id", "name", "description", "status", "level", "tags", "logsource", "references",
    "falsepositives", "fields", "detection", "tests",
})

SEVERITY = {"informational": "info", "low": "low", "medium": "medium", "high": "high",
            "critical": "critical"}

# The ATT&CK enterprise tactics, by the short names Sigma tags use.
TACTICS = frozenset({
    "reconnaissance", "resource-development", "initial-access", "execution", "persistence",
    "privilege-escalation", "defense-evasion", "credential-access", "discovery",
    "lateral-movement", "collection", "command-and-control", "exfiltration", "impact",
})

_TECHNIQUE = re.compile(r"attack\.(t\d{4}(?:\.\d{3})?)", re.IGNORECASE)

# Marks the kind of Sigma document a Rule came from ("rule", "correlation" or "filter").
KIND_KEY = "sigma_kind"

# The 1-based line where the rule's YAML document starts, for errors raised after loading.
LINE_KEY = "line"


def rule_fields(doc: Mapping[str, Any], *, fallback_id: str, kind: str,
                line: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``Rule`` taken from the descriptive keys of ``doc``.

    The id is the Sigma ``id``, else its ``name``, else ``fallback_id`` (derived from the file).
    ``line`` (where the document starts) is kept in the metadata under ``LINE_KEY``.
    """
    tags = tuple(str(t) for t in doc.get("tags") or ())
    level = doc.get("level")
    # Rules and correlations run their tests; a filter never runs alone, so it keeps them as data.
    consumed = CONSUMED if kind in ("rule", "correlation") else CONSUMED - {"tests"}
    metadata = {k: plain(v) for k, v in doc.items() if k not in consumed}
    metadata[KIND_KEY] = kind
    if line is not None:
        metadata[LINE_KEY] = line
    fields: dict[str, Any] = {
        "id": str(doc.get("id") or doc.get("name") or fallback_id),
        "title": str(doc.get("title") or ""),
        "name": str(doc["name"]) if doc.get("name") is not None else None,
        "description": str(doc.get("description") or "").strip(),
        "tags": tags,
        "techniques": techniques(tags),
        "tactics": tactics(tags),
        "references": tuple(str(r) for r in doc.get("references") or ()),
        "false_positives": tuple(str(f) for f in doc.get("falsepositives") or ()),
        "output_fields": tuple(OutputField(label=str(f), field=str(f)) for f in doc.get("fields") or ()),
        "metadata": metadata,
    }
    if isinstance(level, str) and level.lower() in SEVERITY:
        fields["severity"] = SEVERITY[level.lower()]
    if doc.get("status") is not None:
        fields["status"] = str(doc["status"])
    return fields


def techniques(tags: tuple[str, ...]) -> tuple[str, ...]:
    """ATT&CK technique ids named by ``attack.tNNNN[.NNN]`` tags, e.g. ``T1550.001``."""
    found = (m.group(1).upper() for t in tags if (m := _TECHNIQUE.fullmatch(t)))
    return tuple(dict.fromkeys(found))


def tactics(tags: tuple[str, ...]) -> tuple[str, ...]:
    """ATT&CK tactic short names named by ``attack.<tactic>`` tags (underscores read as dashes)."""
    found = (
        name for t in tags
        if t.lower().startswith("attack.")
        and (name := t[len("attack."):].lower().replace("_", "-")) in TACTICS
    )
    return tuple(dict.fromkeys(found))


def parse_tests(entries: Any, *, file: str, line: int | None,
                correlation: bool = False) -> tuple[RuleTest, ...]:
    """Embedded tests: a list of ``{name, expected, event}`` mappings.

    With ``correlation``, each test gives a list of events instead (see ``parse_test``).
    """
    if not isinstance(entries, list):
        shape = "{name, expected, events}" if correlation else "{name, expected, event}"
        raise RuleLoadError(f"'tests' must be a list of {shape}", file=file, line=line)
    return tuple(parse_test(entry, n, file=file, line=line, correlation=correlation)
                 for n, entry in enumerate(entries, start=1))


def parse_test(entry: Any, n: int, *, file: str, line: int | None,
               correlation: bool = False) -> RuleTest:
    """Test number ``n``: ``{name, expected, event}`` for a detection rule.

    A correlation test lists the events to feed through the rule set, as ``events: [...]`` or
    ``event: {events: [...]}``; its ``RuleTest.event`` is ``{"events": [...]}`` either way.
    """
    if not isinstance(entry, Mapping):
        raise RuleLoadError(f"test {n} must be a mapping", file=file, line=line)
    name = str(entry.get("name") or f"test {n}")
    expected = entry.get("expected")
    if not isinstance(expected, bool):
        raise RuleLoadError(f"test {name!r}: 'expected' must be true or false", file=file, line=line)
    event = entry.get("event")
    if not correlation:
        if not isinstance(event, Mapping):
            raise RuleLoadError(f"test {name!r}: 'event' must be a mapping", file=file, line=line)
        return RuleTest(name=name, expected=expected, event=plain(event))
    events = entry.get("events")
    if events is None and isinstance(event, Mapping):
        events = event.get("events")
    if not isinstance(events, list) or not all(isinstance(e, Mapping) for e in events):
        raise RuleLoadError(f"test {name!r}: a correlation test needs a list of event mappings "
                            "under 'events' (or 'event: {events: [...]}')", file=file, line=line)
    return RuleTest(name=name, expected=expected, event={"events": plain(events)})

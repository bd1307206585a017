"""What a rule page shows, gathered from a loaded rule: the facts seeds 000-002 put on a catalog
page (metadata, ATT&CK table, rule body, stages and predicates, indicators with corpus counts,
output fields, grouping, tests, investigation guide), as plain data for the templates.

Everything here is text; the templates escape it. The only HTML made here is Markdown rendered
by ``briefs.render_markdown``, which escapes raw HTML in its source.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from markupsafe import Markup

from tokentrail.catalog.attack import AttackData
from tokentrail.catalog.briefs import render_markdown
from tokentrail.catalog.indicators import IndicatorCorpus, IndicatorRow
from tokentrail.catalog.site.conversions import ConversionView
from tokentrail.engine.plan import log_types_of
from tokentrail.rules.describe import grouping_text, logic_stages, rule_kind
from tokentrail.rules.model import PythonLogic, Rule
from tokentrail.schemas.registry import registry

MAX_BODY_CHARS = 200_000  # a rule file larger than this is shown cut, with a note
MAX_TEST_CHARS = 20_000
FORMAT_LABELS = {"sigma": "Sigma", "elastic": "Elastic", "panther": "Panther"}
# Metadata keys shown in the header, in this order, with their labels (Elastic's as seed 001 has them).
DETAIL_KEYS = (
    ("author", "Author"), ("date", "Date"), ("modified", "Modified"), ("rule_type", "Rule type"),
    ("language", "Query language"), ("index", "Indices"), ("risk_score", "Risk score"),
    ("interval", "Runs every"), ("from", "Searches from"), ("max_signals", "Maximum alerts per run"),
    ("maturity", "Maturity"), ("version", "Version"), ("license", "Licence"),
    ("creation_date", "Created"), ("updated_date", "Updated"), ("integration", "Integration"),
)
GUIDE_KEYS = (("note", "Investigation guide"), ("runbook", "Runbook"), ("explanation", "Explanation"),
              ("prevention", "Prevention"), ("comments", "Comments"))
# Keys that are the loader's bookkeeping or shown elsewhere on the page, never as "other fields".
_HIDDEN_KEYS = {"line", "sigma_kind", "scenario", "query", "query_line", "field_dialect", "threat",
                "correlation", "interval_seconds", "lookback_seconds", "unmapped_log_types", "detection",
                "logsource", "tests", "source"}


@dataclass(frozen=True, slots=True)
class IndicatorValue:
    """One value of an indicator and the other rules looking for it."""

    value: str
    count: int
    others: tuple[tuple[str, str], ...]  # (rule id, page) of the first few others


@dataclass(frozen=True, slots=True)
class IndicatorGroup:
    """One (field, kind) row of the indicator table with its values."""

    field: str
    kind: str
    values: tuple[IndicatorValue, ...]


@dataclass(frozen=True, slots=True)
class AttackRow:
    """One tactic of the ATT&CK table and the rule's techniques under it: (id, name, page)."""

    tactic: str
    tactic_id: str
    techniques: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class Body:
    """A file of the rule's source: its name, the language to label it and its text."""

    name: str
    language: str
    text: str
    cut: bool = False


@dataclass(frozen=True, slots=True)
class TestView:
    """A rule's embedded test: its name, the verdict it expects and the event as JSON."""

    name: str
    expected: bool
    event: str


@dataclass(frozen=True, slots=True)
class Section:
    """A titled piece of prose (an investigation guide, a runbook), as safe HTML."""

    title: str
    html: Markup


@dataclass(frozen=True)
class RuleView:
    """Everything a rule page shows."""

    rule: Rule
    page: str
    format_label: str
    kind: str
    families: tuple[str, ...]
    log_types: tuple[str, ...]
    details: tuple[tuple[str, str], ...]
    attack: tuple[AttackRow, ...]
    bodies: tuple[Body, ...]
    stages: tuple[tuple[str, str], ...]
    condition: tuple[tuple[str, str], ...]
    indicators: tuple[IndicatorGroup, ...]
    grouping: str
    tests: tuple[TestView, ...]
    guide: tuple[Section, ...]
    other_fields: tuple[tuple[str, str], ...]
    briefs: tuple[tuple[str, str, str], ...] = ()  # (title, page, why)
    conversions: tuple[ConversionView, ...] | None = None  # None: no converter installed
    event_types: tuple[str, ...] = ()


def families_of(rule: Rule) -> tuple[str, ...]:
    """The log type families a rule runs on (okta, auth0, ...), for the index's filter."""
    reg = registry()
    found = []
    for name in log_types_of(rule):
        lt = reg.get(name)
        found.append(lt.family if lt is not None else name)
    return tuple(dict.fromkeys(found)) or ((rule.logsource.product,) if rule.logsource.product else ())


def rule_view(rule: Rule, *, corpus: IndicatorCorpus, attack: AttackData, page_of: Mapping[str, str],
              technique_pages: Mapping[str, str], event_types: frozenset[str] = frozenset(),
              briefs: Sequence[tuple[str, str, str]] = (), families: tuple[str, ...] | None = None,
              conversions: tuple[ConversionView, ...] | None = None) -> RuleView:
    """The page of one rule; ``page_of`` gives every loaded rule's page (for corpus links),
    ``technique_pages`` the technique pages the site has; ``families`` (default: the rule's own)
    the log type families the index filters it under."""
    bodies = rule_bodies(rule)
    return RuleView(
        rule=rule, page=page_of[rule.id], format_label=FORMAT_LABELS.get(rule.format, rule.format),
        kind=rule_kind(rule), families=families_of(rule) if families is None else families, log_types=log_types_of(rule),
        details=_details(rule), attack=attack_rows(rule, attack, technique_pages), bodies=bodies,
        stages=_stages(rule, bodies), condition=tuple(logic_stages(rule)),
        indicators=indicator_groups(corpus.for_rule(rule.id), page_of), grouping=grouping_text(rule),
        tests=tuple(_test(t) for t in rule.tests), guide=_guide(rule), other_fields=_other_fields(rule),
        briefs=tuple(briefs), conversions=conversions, event_types=tuple(sorted(event_types)))


def attack_rows(rule: Rule, attack: AttackData, pages: Mapping[str, str]) -> tuple[AttackRow, ...]:
    """The rule's techniques under their tactics, in matrix order. A technique is put under the
    tactics the rule declares where it belongs to any, else under all of its own; techniques the
    ATT&CK data does not know come last, under no tactic."""
    by_key = {}
    for t in attack.tactics:
        by_key.update({t.id.casefold(): t.shortname, t.shortname: t.shortname, t.name.casefold(): t.shortname})
    declared = {by_key.get(str(t).casefold().replace("_", "-")) for t in rule.tactics} - {None}
    placed: dict[str, list[str]] = {}
    unknown = []
    for tid in rule.techniques:
        tech = attack.techniques.get(tid)
        if tech is None:
            unknown.append(tid)
            continue
        under = [s for s in tech.tactics if s in declared] or list(tech.tactics)
        for shortname in under:
            placed.setdefault(shortname, []).append(tid)
    rows = []
    for tactic in attack.tactics:
        ids = placed.get(tactic.shortname)
        if ids:
            rows.append(AttackRow(tactic.name, tactic.id, tuple(
                (tid, attack.techniques[tid].name, pages.get(tid, attack.techniques[tid].url)) for tid in ids)))
    if unknown:
        rows.append(AttackRow("", "", tuple((tid, "(not in the ATT&CK data)", "") for tid in unknown)))
    return tuple(rows)


def indicator_groups(rows: Sequence[IndicatorRow], page_of: Mapping[str, str]) -> tuple[IndicatorGroup, ...]:
    """Indicator rows grouped by field and kind in the order of the detection, each value with its
    corpus count (how many *other* loaded rules look for it)."""
    groups: dict[tuple[str, str], list[IndicatorValue]] = {}
    for row in rows:
        kind = ("not " if row.negated else "") + row.op + (" (cased)" if row.cased else "")
        others = tuple((o, page_of.get(o, "")) for o in row.others[:12])
        groups.setdefault((row.field, kind), []).append(IndicatorValue(row.value, row.count, others))
    return tuple(IndicatorGroup(f, k, tuple(vs)) for (f, k), vs in groups.items())


def rule_bodies(rule: Rule) -> tuple[Body, ...]:
    """The source files of a rule as written: its document of a multi-rule YAML file, and a
    Panther rule's Python file. A file that cannot be read is shown as a note."""
    bodies = []
    if rule.path:
        bodies.append(_body(Path(rule.path), rule.metadata.get("line")))
    if isinstance(rule.logic, PythonLogic) and rule.logic.path and rule.logic.path != rule.path:
        bodies.append(_body(Path(rule.logic.path), None))
    return tuple(bodies)


# libyaml's loader and dumper when PyYAML has them: ten times faster than the pure-Python ones.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_LANGUAGES = {".yml": "yaml", ".yaml": "yaml", ".toml": "toml", ".py": "python", ".json": "json",
              ".md": "markdown"}


def _body(path: Path, line: object) -> Body:
    language = _LANGUAGES.get(path.suffix.lower(), "text")
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            text = fh.read(MAX_BODY_CHARS * 4)
    except OSError as exc:
        return Body(path.name, "text", f"(cannot read {path}: {exc.strerror or exc})")
    if isinstance(line, int) and line > 0 and language == "yaml":
        text = _yaml_document(text, line)
    cut = len(text) > MAX_BODY_CHARS
    return Body(path.name, language, text[:MAX_BODY_CHARS], cut)


def _yaml_document(text: str, line: int) -> str:
    """The YAML document of a multi-document file that starts at 1-based ``line``."""
    lines = text.splitlines()
    start = max(line - 1, 0)
    if start < len(lines) and lines[start].strip() == "---":
        start += 1
    end = next((i for i in range(start, len(lines)) if lines[i].rstrip() in ("---", "...")), len(lines))
    return "\n".join(lines[start:end]).strip("\n") + "\n"


def _stages(rule: Rule, bodies: Sequence[Body]) -> tuple[tuple[str, str], ...]:
    """Stages and predicates as the rule's own format writes them: a Sigma rule's condition and
    each named search of its detection (seed 000), an Elastic rule's query; else the rendered
    logic."""
    if rule.format == "sigma" and bodies and bodies[0].language == "yaml":
        try:
            doc = yaml.load(bodies[0].text, Loader=_SafeLoader)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("detection"), dict):
            detection = doc["detection"]
            stages = [("condition", _plain_yaml(detection.get("condition", "")))]
            stages += [(str(name), _plain_yaml({name: value})) for name, value in detection.items()
                       if name != "condition"]
            return tuple(stages)
        if isinstance(doc, dict) and isinstance(doc.get("correlation"), dict):
            return (("correlation", _plain_yaml(doc["correlation"])),)
    query = rule.metadata.get("query")
    if rule.format == "elastic" and isinstance(query, str) and query.strip():
        return ((str(rule.metadata.get("language") or "query"), query.strip()),)
    return tuple(logic_stages(rule))


def _plain_yaml(value: Any) -> str:
    if isinstance(value, str):
        return value
    return yaml.dump(value, Dumper=_SafeDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False).strip()


def _details(rule: Rule) -> tuple[tuple[str, str], ...]:
    rows = []
    for key, label in DETAIL_KEYS:
        value = rule.metadata.get(key)
        if value not in (None, "", [], ()):
            rows.append((label, _scalar_text(value)))
    return tuple(rows)


def _scalar_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _guide(rule: Rule) -> tuple[Section, ...]:
    sections = []
    for key, title in GUIDE_KEYS:
        value = rule.metadata.get(key)
        if not value:
            continue
        text = value if isinstance(value, str) else "\n".join(f"- {v}" for v in value) if isinstance(
            value, list | tuple) else str(value)
        sections.append(Section(title, Markup(render_markdown(text))))
    if rule.false_positives:
        text = "\n".join(f"- {fp}" for fp in rule.false_positives)
        sections.append(Section("False positives", Markup(render_markdown(text))))
    return tuple(sections)


def _other_fields(rule: Rule) -> tuple[tuple[str, str], ...]:
    """Keys of the rule file the page shows nowhere else (seed 000's ``splunk``, ``tenant_logs``)."""
    shown = {k for k, _ in DETAIL_KEYS} | {k for k, _ in GUIDE_KEYS} | _HIDDEN_KEYS
    rows = []
    for key, value in rule.metadata.items():
        if key in shown or value in (None, "", [], {}):
            continue
        rows.append((str(key), value if isinstance(value, str) else _plain_yaml(value)))
    return tuple(rows)


def _test(test: Any) -> TestView:
    try:
        event = json.dumps(test.event, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        event = repr(test.event)
    if len(event) > MAX_TEST_CHARS:
        event = event[:MAX_TEST_CHARS] + "\n… (cut)"
    return TestView(test.name, test.expected, event)

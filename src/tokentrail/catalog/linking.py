"""Which rules detect what a brief describes.

A brief links to a rule by an explicit rule id, or by evidence it names:
  * an event type — listed in ``event_types`` or written in its text as a whole word — that the
    rule looks for in its log type's event-type field (``eventType``, ``data.type``,
    ``EVENT_TYPE``; ECS ``event.action`` maps there);
  * when it names no event type: an ATT&CK technique the rule is tagged with.
Evidence links need the brief's products (else its vendors), when it names any, to include the
rule's log type family, so an Okta brief never links an Auth0 rule.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tokentrail.catalog.briefs import Brief
from tokentrail.catalog.indicators import family_of, indicator_corpus
from tokentrail.rules.model import Rule
from tokentrail.schemas.registry import registry

_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class RuleLink:
    """A rule a brief links to and why (``id``, ``event type X``, ``technique T``)."""

    rule_id: str
    title: str
    reason: str


def rule_event_types(rules: Iterable[Rule]) -> dict[str, tuple[str, frozenset[str]]]:
    """Rule id -> (family, event types the rule looks for, as written) for rules with any;
    a ``startswith`` value counts as an event type (prefix) too."""
    chosen = list(rules)
    corpus = indicator_corpus(chosen)
    anchors = {lt.family: lt.anchor_field for lt in registry().log_types if lt.name == lt.family}
    out = {}
    for rule in chosen:
        family = family_of(rule)
        anchor = anchors.get(family)
        found = frozenset(r.value for r in corpus.for_rule(rule.id)
                          if anchor and r.schema_field == anchor and r.op in ("eq", "startswith") and not r.negated
                          and r.value)
        if found:
            out[rule.id] = (family, found)
    return out


def brief_text(brief: Brief) -> str:
    """The words of a brief (title, summary, body) with HTML tags and entities undone."""
    body = brief.content_text or html.unescape(_TAG.sub(" ", brief.content_html))
    return " ".join((brief.title, brief.summary, body))


def link_rules(brief: Brief, rules: Sequence[Rule],
               events: Mapping[str, tuple[str, frozenset[str]]] | None = None) -> list[RuleLink]:
    """The rules ``brief`` links to, each once, with the first reason found."""
    events = rule_event_types(rules) if events is None else events
    text = brief_text(brief)
    named = {e.casefold() for e in brief.event_types}
    places = {p.casefold() for p in (brief.products or brief.vendors)}
    links: dict[str, RuleLink] = {}
    for rule in rules:
        if rule.id in brief.rules:
            links[rule.id] = RuleLink(rule.id, rule.title, "id")
    for rule in rules:
        family, kinds = events.get(rule.id, (family_of(rule), frozenset()))
        if rule.id in links or (places and not any(family and family in p for p in places)):
            continue
        hit = next((k for k in sorted(kinds) if _named(k, named) or _names(text, k)), None)
        if hit is not None:
            links[rule.id] = RuleLink(rule.id, rule.title, f"event type {hit}")
    if not named and not any(link.reason.startswith("event type") for link in links.values()):
        for rule in rules:
            shared = sorted(set(brief.techniques) & set(rule.techniques))
            family = family_of(rule)
            if rule.id not in links and shared and (not places or any(family and family in p for p in places)):
                links[rule.id] = RuleLink(rule.id, rule.title, f"technique {shared[0]}")
    return list(links.values())


def _named(kind: str, named: set[str]) -> bool:
    """Whether a listed event type is ``kind`` or starts with it (a rule's ``startswith`` value)."""
    folded = kind.casefold()
    return any(n == folded or n.startswith(folded + ".") for n in named)


def _names(text: str, word: str) -> bool:
    """Whether ``word`` occurs in ``text`` as a whole token (not inside a longer dotted name; a
    full stop ending the sentence is fine)."""
    return re.search(rf"(?<![\w.]){re.escape(word)}(?!\w|\.\w)", text, re.IGNORECASE) is not None

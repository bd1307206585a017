"""Recognise events the generated checks do not place: the slow path of log-type detection.

Tried in order, only for events no canonical check claimed:
  1. Panther exports: ``p_log_type`` decides. A name of a family TokenTrail knows picks the
     family member whose keys the event has (any case; else the family's base log type), with
     its keys folded to canonical case; any other Panther name is its generic log type.
  2. Wrappers: a Splunk export line (``{"preview": false, "result": {...}}``), a Splunk event
     whose ``_raw`` holds the JSON text of the native event (inside ``result`` or at the top),
     and an ECS document of no known dataset whose ``event.original`` holds the native event.
     The inner event is detected in its turn (wrappers and all) and is what rules read.
  3. Keys in another case: the ``detect`` key sets are matched regardless of case; the event is
     then renamed to its log type's canonical case (``casefold``).
A recognised event comes back as ``Recognised(log_type, event_to_read)``; a Panther generic log
type whose event needs no change comes back as its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from tokentrail.schemas.access import reader
from tokentrail.schemas.casefold import fold_keys, has_folded
from tokentrail.schemas.lookup import generic_log_type, panther_family
from tokentrail.schemas.registry import Registry


@dataclass(frozen=True, slots=True)
class Recognised:
    """An event recognised only once reshaped: ``event`` is what rules must read."""

    log_type: str
    event: Mapping[str, Any]


def build_reshaper(reg: Registry, detect: Callable[[Mapping[str, Any]], Any]) -> Callable[[Mapping[str, Any]], Any]:
    """The slow path for a registry; ``detect`` (the full detector) recognises unwrapped events."""
    # Each alternative as (lower-cased first key, the rest of its path) pairs: most fail at the
    # first key, looked up in one map of the event's lower-cased top-level keys.
    natives = tuple(
        (lt.name, lt.family, tuple(tuple((k.split(".", 1)[0].lower(), k.partition(".")[2]) for k in keys)
                                   for keys in (*lt.detect, *lt.detect_fallback)))
        for lt in reg.log_types if not lt.is_ecs and (lt.detect or lt.detect_fallback)
    )
    bases = {lt.family for lt in reg.log_types}

    def by_case(event: Mapping[str, Any], family: str | None = None) -> str | None:
        low: dict[str, Any] = {}
        for key in event:
            if key.__class__ is str:
                low.setdefault(key.lower(), key)
        for name, fam, alternatives in natives:
            if family is not None and fam != family:
                continue
            for keys in alternatives:
                for head, rest in keys:
                    key = low.get(head)
                    if key is None or (rest and not has_folded(event[key], rest)):
                        break
                else:
                    return name
        return None

    def folded(name: str, event: Mapping[str, Any]) -> Recognised:
        return Recognised(name, fold_keys(event, name))

    def by_panther(event: Mapping[str, Any], panther_name: str) -> Any:
        family = panther_family(panther_name)
        if family is None:
            return panther_name if generic_log_type(panther_name) is not None else None
        name = by_case(event, family) or (family if family in bases else None)
        return None if name is None else folded(name, event)

    def reshape(event: Mapping[str, Any]) -> Any:
        panther_name = event.get("p_log_type")
        if panther_name.__class__ is str:
            return by_panther(event, panther_name)
        inner = unwrap(event)
        if inner is not None:
            # Detected in full, wrappers and all: each level is parsed from a shorter string
            # than the one holding it, so this ends.
            found = detect(inner)
            return found if found is None or found.__class__ is Recognised else Recognised(found, inner)
        name = by_case(event)
        return None if name is None else folded(name, event)

    return reshape


_read_original = reader("event.original")


def unwrap(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The event a wrapper holds (Splunk ``result``/``_raw``, ECS ``event.original``), or None."""
    result = event.get("result")
    if result.__class__ is dict:
        return _json_object(result.get("_raw")) or result
    raw = event.get("_raw")
    if raw.__class__ is str:
        return _json_object(raw)
    return _json_object(_read_original(event))


def _json_object(text: Any) -> dict[str, Any] | None:
    """The JSON object a string holds, or ``None`` (not a string, not JSON, not an object)."""
    if text.__class__ is not str or not text.lstrip().startswith("{"):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if value.__class__ is dict else None

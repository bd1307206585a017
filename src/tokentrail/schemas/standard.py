"""The standard fields Panther adds to every event it stores, for Python rules that read them.

``p_log_type`` (the Panther name of the log type), ``p_event_time`` (the event's time, UTC, as
``YYYY-MM-DD hh:mm:ss.ffffff``) and the ``p_any_<kind>`` indicator lists: every distinct value of
the fields the log type's data file marks under ``indicators:`` (``ip_addresses`` keeps values
that are IP addresses, ``emails`` values holding an ``@``; other kinds keep any non-empty text),
in the order found. Values an event already carries (a Panther export) are kept as they are.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from tokentrail.schemas.access import reader, time_reader
from tokentrail.schemas.lookup import log_type_info
from tokentrail.schemas.registry import registry

Values = Callable[[Mapping[str, Any]], list[str]]


def with_panther_fields(event: Mapping[str, Any], log_type: str) -> Mapping[str, Any]:
    """``event`` plus the Panther standard fields it lacks (a new dict; the event is unchanged)."""
    return panther_fields(log_type)(event)


@cache
def panther_fields(log_type: str) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    """The function adding Panther's standard fields to events of ``log_type``, built once."""
    lt = log_type_info(log_type)
    reg = registry()
    base = reg.get(lt.family) if lt is not None else None
    names = (lt.panther_log_types if lt is not None else ()) or (base.panther_log_types if base else ())
    name = names[0] if names else ""
    per_value = reader(base.anchor_field) if name.endswith(".*") and base is not None else None
    when = time_reader(log_type)
    kinds = tuple((f"p_any_{kind}", _collector(kind, fields))
                  for kind, fields in (lt.indicators if lt is not None else {}).items())

    def add(event: Mapping[str, Any]) -> Mapping[str, Any]:
        out = dict(event)
        if "p_log_type" not in out:
            if per_value is not None:
                # A family of Panther log types (Salesforce.*): the event type names the member.
                value = per_value(event)
                if value.__class__ is str and value:
                    out["p_log_type"] = name[:-1] + value
            elif name:
                out["p_log_type"] = name
        if "p_event_time" not in out:
            seconds = when(event)
            if seconds is not None:
                out["p_event_time"] = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        for key, collect in kinds:
            if key not in out:
                values = collect(event)
                if values:
                    out[key] = values
        return out

    return add


def _collector(kind: str, fields: tuple[str, ...]) -> Values:
    keep = _KEEP.get(kind, _is_text)
    paths = tuple(tuple(f.split(".")) for f in fields)

    def collect(event: Mapping[str, Any]) -> list[str]:
        found: dict[str, None] = {}
        for path in paths:
            for value in _values(event, path, 0):
                if value.__class__ is str and keep(value):
                    found[value] = None
        return list(found)

    return collect


def _values(obj: Any, path: tuple[str, ...], i: int) -> list[Any]:
    """Every value at ``path`` below ``obj``; lists fan out."""
    if obj.__class__ is list:
        return [v for item in obj for v in _values(item, path, i)]
    if i == len(path):
        return [obj]
    if not isinstance(obj, Mapping):
        return []
    sub = obj.get(path[i])
    return [] if sub is None else _values(sub, path, i + 1)


def _is_text(value: str) -> bool:
    return bool(value.strip())


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    return True


def _is_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain)


_KEEP: dict[str, Callable[[str], bool]] = {"ip_addresses": _is_ip, "emails": _is_email}

"""Read one value from an event by a dotted path, the event's time and its id.

Paths resolve as a literal dotted key first (flattened ECS documents: ``{"event.id": ...}``), then
through nested objects, trying literal dotted keys for the rest of the path at each level
(``{"event": {"id": ...}}``, ``{"data": {"date": ...}}``). Unlike rule fields, these reads take the
first value found and never fan out over lists: a time or an id is one scalar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from tokentrail.schemas.lookup import log_type_info
from tokentrail.schemas.timeparse import parse_time

_MISSING = object()
Reader = Callable[[Mapping[str, Any]], Any]


def value_at(event: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (literal dotted key or nested objects), ``None`` when absent."""
    return reader(path)(event)


@cache
def reader(path: str) -> Reader:
    """A function reading ``path`` from events, built once per path."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        return lambda event: event.get(path)
    head, _, rest = path.partition(".")
    if len(parts) == 2:

        def read_pair(event: Mapping[str, Any]) -> Any:
            value = event.get(path, _MISSING)
            if value is not _MISSING:
                return value
            sub = event.get(head)
            if type(sub) is dict:
                return sub.get(rest)
            return None if sub is None else _value_or_none(_walk(event, parts, 0))

        return read_pair

    def read(event: Mapping[str, Any]) -> Any:
        value = event.get(path, _MISSING)
        if value is not _MISSING:
            return value
        return _value_or_none(_walk(event, parts, 0))

    return read


def _value_or_none(value: Any) -> Any:
    return None if value is _MISSING else value


def _walk(obj: Any, parts: tuple[str, ...], i: int) -> Any:
    if i == len(parts):
        return obj
    if not isinstance(obj, Mapping):
        return _MISSING
    for j in range(i + 1, len(parts) + 1):
        key = parts[i] if j == i + 1 else ".".join(parts[i:j])
        sub = obj.get(key, _MISSING)
        if sub is not _MISSING:
            found = _walk(sub, parts, j)
            if found is not _MISSING:
                return found
    return _MISSING


@cache
def time_reader(log_type: str) -> Callable[[Mapping[str, Any]], float | None]:
    """A function giving an event's time for ``log_type`` (see ``event_time``), built once."""
    lt = log_type_info(log_type)
    readers = tuple(reader(f) for f in lt.time_fields) if lt else ()

    def read_time(event: Mapping[str, Any]) -> float | None:
        for read in readers:
            value = read(event)
            if value is not None:
                parsed = parse_time(value)
                if parsed is not None:
                    return parsed
        return None

    return read_time


@cache
def id_reader(log_type: str) -> Callable[[Mapping[str, Any]], str | None]:
    """A function giving an event's vendor id for ``log_type`` (see ``event_id``), built once."""
    lt = log_type_info(log_type)
    readers = tuple(reader(f) for f in lt.id_fields) if lt else ()

    def read_id(event: Mapping[str, Any]) -> str | None:
        for read in readers:
            value = read(event)
            if value.__class__ is str:
                if value:
                    return value
            elif value is not None and not isinstance(value, Mapping | list):
                return str(value)
        return None

    return read_id


def event_time(event: Mapping[str, Any], log_type: str) -> float | None:
    """Epoch seconds from the event's own time field(s), tried in the log type's order.

    ``None`` when the log type is unknown or no time field holds a parseable timestamp.
    """
    return time_reader(log_type)(event)


def event_id(event: Mapping[str, Any], log_type: str) -> str | None:
    """The vendor's id of the event (Okta ``uuid``, Auth0 ``log_id``, ...), as a string."""
    return id_reader(log_type)(event)

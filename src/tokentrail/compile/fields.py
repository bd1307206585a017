"""Field resolution against raw event dicts, as ``rules/ir.py`` defines it.

A field getter returns every value found at the path (lists fan out, literal dotted keys are
tried, ``{}`` marks array elements). Getters are built once per field and reused per event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Getter = Callable[[Mapping[str, Any]], list[Any]]
Presence = Callable[[Mapping[str, Any]], bool]

_MISSING = object()


def split_field(field: str) -> tuple[str, ...]:
    """Split a rule field into path parts; ``{}`` suffixes vanish since lists fan out anyway."""
    return tuple(part[:-2] if part.endswith("{}") else part for part in field.split("."))


def _lookup(obj: Mapping[str, Any], key: str, ci: bool) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING and ci:
        low = key.lower()
        for k, v in obj.items():
            if k.lower() == low:
                return v
    return value


def _walk(obj: Any, parts: tuple[str, ...], i: int, ci: bool, out: list[Any]) -> None:
    """Append to ``out`` every value reached from ``obj`` by ``parts[i:]``; a present key holding
    ``None`` is appended as ``None``; a leaf list is expanded into its elements."""
    if i == len(parts):
        if isinstance(obj, list):
            for el in obj:
                if isinstance(el, list):
                    _walk(el, parts, i, ci, out)
                else:
                    out.append(el)
        else:
            out.append(obj)
        return
    if isinstance(obj, list):
        for el in obj:
            _walk(el, parts, i, ci, out)
        return
    if not isinstance(obj, Mapping):
        return
    for j in range(i + 1, len(parts) + 1):
        key = parts[i] if j == i + 1 else ".".join(parts[i:j])
        value = _lookup(obj, key, ci)
        if value is not _MISSING:
            _walk(value, parts, j, ci, out)


def _present(obj: Any, parts: tuple[str, ...], i: int, ci: bool) -> bool:
    if i == len(parts):
        return True
    if isinstance(obj, list):
        return any(_present(el, parts, i, ci) for el in obj)
    if not isinstance(obj, Mapping):
        return False
    for j in range(i + 1, len(parts) + 1):
        value = _lookup(obj, ".".join(parts[i:j]), ci)
        if value is not _MISSING and _present(value, parts, j, ci):
            return True
    return False


def make_getter(field: str, *, ci_fields: bool = False) -> Getter:
    """A function returning the list of values at ``field`` in an event (empty when missing).

    Plain nested objects are read directly (the common case, and the fast one); lists, literal
    dotted keys and — for ``ci_fields`` — other spellings of a key are tried only when that
    direct read finds nothing, so their cost is paid by the events that need them.
    """
    parts = split_field(field)

    def get(event: Mapping[str, Any]) -> list[Any]:
        value = _direct(event, parts)
        return [value] if value is not _MISSING else _every_value(event, parts, ci_fields)

    return get


def make_first(field: str, *, ci_fields: bool = False) -> Callable[[Mapping[str, Any]], Any]:
    """A function returning the first value at ``field`` in an event (None when missing):
    ``make_getter(field)(event)[0]``, without building the list in the common case."""
    parts = split_field(field)

    def first(event: Mapping[str, Any]) -> Any:
        value = _direct(event, parts)
        if value is not _MISSING:
            return value
        values = _every_value(event, parts, ci_fields)
        return values[0] if values else None

    return first


def _direct(event: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    """The value reached through plain objects (not a list), or _MISSING: then that value alone
    is the field's, with no dotted key or other spelling to try."""
    value = event.get(parts[0], _MISSING)
    for part in parts[1:]:
        if value.__class__ is not dict:
            return _MISSING
        value = value.get(part, _MISSING)
    return _MISSING if value.__class__ is list else value


def _every_value(event: Mapping[str, Any], parts: tuple[str, ...], ci_fields: bool) -> list[Any]:
    """Every value by every route (lists, literal dotted keys; other spellings for ``ci_fields``
    only when the exact keys find nothing)."""
    out: list[Any] = []
    _walk(event, parts, 0, False, out)
    if not out and ci_fields:
        _walk(event, parts, 0, True, out)
    return out


def make_presence(field: str, *, ci_fields: bool = False) -> Presence:
    """A function telling whether ``field`` is present in an event (a null value counts)."""
    parts = split_field(field)
    return lambda event: _present(event, parts, 0, ci_fields)


def iter_strings(obj: Any):
    """Every scalar value anywhere in ``obj``, as text (for full-text keyword search)."""
    if isinstance(obj, Mapping):
        for value in obj.values():
            yield from iter_strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from iter_strings(value)
    elif obj is not None:
        yield text_of(obj)


def text_of(value: Any) -> str | None:
    """The string form a scalar is compared by: ``true``/``false`` for booleans, decimal numbers."""
    if value.__class__ is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def number_of(value: Any) -> float | None:
    """The numeric value of a number or a numeric string (booleans are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None

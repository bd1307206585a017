"""A Panther-compatible, read-only view of one event.

Wrapping is lazy: ``PantherEvent(raw)`` stores a reference and nothing else; nested objects and
lists are wrapped only when a rule reads them, and the lower-case key index of an object is
built only when an exact-case lookup misses. Keys are case-insensitive, as in Panther.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from tokentrail.schemas import parse_time

MISSING = object()
# Where an event's time lives when Panther's ``p_event_time`` is absent (native vendor exports).
_TIME_FIELDS = (
    ("p_event_time",),
    ("published",),
    ("date",),
    ("data", "date"),
    ("TIMESTAMP_DERIVED",),
    ("TIMESTAMP",),
    ("@timestamp",),
    ("timestamp",),
)


def get_ci(data: Mapping[str, Any], key: Any) -> Any:
    """``data[key]`` with a case-insensitive fallback; ``MISSING`` when absent."""
    value = data.get(key, MISSING)
    if value is MISSING and isinstance(key, str):
        low = key.lower()
        for k, v in data.items():
            if isinstance(k, str) and k.lower() == low:
                return v
    return value


def wrap(value: Any) -> Any:
    """Read-only view of a JSON value: objects and lists are wrapped, scalars returned as is."""
    if isinstance(value, dict):
        return ImmutableCaseInsensitiveDict(value)
    if isinstance(value, list):
        return ImmutableList(value)
    return value


def to_plain(value: Any) -> Any:
    """The plain JSON structure under a (possibly wrapped, possibly nested) value."""
    if isinstance(value, ImmutableCaseInsensitiveDict | ImmutableList):
        return value._data
    if isinstance(value, Mapping):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


class ImmutableCaseInsensitiveDict(Mapping[str, Any]):
    """Read-only mapping over a JSON object with case-insensitive key lookup."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        value = get_ci(self._data, key)
        if value is MISSING:
            raise KeyError(key)
        return wrap(value)

    def get(self, key: str, default: Any = None) -> Any:
        value = get_ci(self._data, key)
        return default if value is MISSING else wrap(value)

    def __contains__(self, key: object) -> bool:
        return get_ci(self._data, key) is not MISSING

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == to_plain(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def to_dict(self) -> dict[str, Any]:
        """A mutable deep copy of the underlying object."""
        return copy.deepcopy(dict(self._data))


class ImmutableList(Sequence[Any]):
    """Read-only sequence over a JSON array; elements are wrapped when read."""

    __slots__ = ("_data",)

    def __init__(self, data: Sequence[Any]) -> None:
        self._data = data

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return ImmutableList(self._data[index])
        return wrap(self._data[index])

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[Any]:
        return map(wrap, self._data)

    def __contains__(self, item: object) -> bool:
        return to_plain(item) in self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ImmutableList | list | tuple):
            return list(self._data) == to_plain(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Any) -> list[Any]:
        return list(self) + list(other)

    def __radd__(self, other: Any) -> list[Any]:
        return list(other) + list(self)

    def __repr__(self) -> str:
        return f"ImmutableList({self._data!r})"


def deep_get_raw(data: Any, keys: Sequence[Any]) -> Any:
    """Follow ``keys`` through nested objects (case-insensitive); ``MISSING`` if any is absent.

    A ``None`` met before the end counts as absent.
    """
    value = data
    for key in keys:
        if isinstance(value, Mapping):
            value = get_ci(value, key)
            if value is MISSING:
                return MISSING
        else:
            return MISSING
    return value


def deep_walk_raw(data: Any, keys: Sequence[Any]) -> list[Any]:
    """Every distinct value reached by ``keys``, descending into each element of lists met on the way.

    Values keep first-seen order; list values at the end are flattened one level.
    """
    found: list[Any] = []

    def add(value: Any) -> None:
        if value is None:
            return
        if isinstance(value, list):
            for item in value:
                add(item)
        elif value not in found:
            found.append(value)

    def walk(node: Any, i: int) -> None:
        if i == len(keys):
            add(node)
        elif isinstance(node, Mapping):
            nxt = get_ci(node, keys[i])
            if nxt is not MISSING and nxt is not None:
                walk(nxt, i + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, i)

    walk(data, 0)
    return found


DataModelResolver = Callable[[Mapping[str, Any]], Any]


class PantherEvent(ImmutableCaseInsensitiveDict):
    """The event object Panther rules receive: a read-only mapping plus Panther's helpers.

    ``models`` maps a raw event to its data model (or ``None``); it is called only by ``udm``.
    """

    __slots__ = ("_models",)

    def __init__(self, data: Mapping[str, Any], models: DataModelResolver | None = None) -> None:
        self._data = data
        self._models = models

    def deep_get(self, *keys: str, default: Any = None) -> Any:
        """The value at the path ``keys`` through nested objects, or ``default`` if absent/null."""
        value = deep_get_raw(self._data, keys)
        return default if value is MISSING or value is None else wrap(value)

    def deep_walk(self, *keys: str, default: Any = None, return_val: str = "all") -> Any:
        """Like ``deep_get`` but fans out over lists; ``return_val`` is first, last or all.

        ``all`` returns the single value when only one was found, else the list of them.
        """
        if return_val not in ("first", "last", "all"):
            raise ValueError(f"return_val must be first, last or all, not {return_val!r}")
        found = deep_walk_raw(self._data, keys)
        if not found:
            return default
        if return_val == "first":
            return wrap(found[0])
        if return_val == "last":
            return wrap(found[-1])
        return wrap(found[0]) if len(found) == 1 else ImmutableList(found)

    def udm(self, *key: str, default: Any = None) -> Any:
        """A data-model field of this event; keys the model does not define read the event itself."""
        model = self._models(self._data) if self._models is not None else None
        if model is not None and len(key) == 1 and model.defines(key[0]):
            value = model.value(key[0], self)
            return default if value is None else wrap(to_plain(value))
        return self.deep_get(*key, default=default)

    def udm_path(self, key: str) -> str | None:
        """The path (or method name) the data model maps ``key`` to, or ``None``."""
        model = self._models(self._data) if self._models is not None else None
        return model.path_of(key) if model is not None else None

    def event_time_epoch(self) -> int | None:
        """Event time as whole epoch seconds (``p_event_time``, else the vendor's time field), read
        as the engine reads event times."""
        for path in _TIME_FIELDS:
            value = deep_get_raw(self._data, path)
            if value is not MISSING:
                epoch = parse_time(value)
                if epoch is not None:
                    return int(epoch)
        return None

    def lookup(self, *args: Any, **kwargs: Any) -> None:
        """Lookup-table enrichment; TokenTrail has no lookup tables, so nothing is ever found."""
        return None

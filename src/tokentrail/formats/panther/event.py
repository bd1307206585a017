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

    copy = to_dict

    def raw_view(self) -> Mapping[str, Any]:
        """The wrapped object itself, not a copy: treat it as read-only."""
        return self._data


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

    def copy(self) -> list[Any]:
        """A mutable deep copy of the underlying array."""
        return copy.deepcopy(list(self._data))

    as_list = copy


def json_encoder(value: Any) -> Any:
    """``json.dumps(..., default=json_encoder)``: the plain JSON under a wrapped value."""
    if isinstance(value, ImmutableCaseInsensitiveDict | ImmutableList):
        return value._data
    raise TypeError(f"object of type {type(value).__name__} is not JSON serializable")


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


def deep_walk_raw(data: Any, keys: Sequence[Any], default: Any = None, return_val: str = "all") -> Any:
    """Panther's ``deep_walk`` on plain JSON: follow ``keys`` through objects; where a list is met
    before the keys run out, walk each element and collect the distinct values found (lists
    among them flattened one level), then pick ``return_val`` (first, last or all: one value
    bare, several as a list). The value at the end of the path is returned as it is (a list
    stays a list); an empty list, a null, or a path that stops early gives ``default``.
    """
    if not keys:
        return default if value_is_empty(data) else data
    if isinstance(data, Mapping):
        nxt = get_ci(data, keys[0])
        return deep_walk_raw(default if nxt is MISSING else nxt, keys[1:], default, return_val)
    if not isinstance(data, list | tuple):
        return default
    found: list[Any] = []
    for item in data:
        value = deep_walk_raw(item, keys, default, return_val)
        if value is None:
            continue
        for one in value if isinstance(value, list | tuple) else (value,):
            if one not in found:
                found.append(one)
    if not found:
        return default
    if return_val == "first":
        return found[0]
    if return_val == "last":
        return found[-1]
    return found[0] if len(found) == 1 else found


def value_is_empty(value: Any) -> bool:
    """``None``, an empty list, or lists holding only empty lists: what ``deep_walk`` treats as absent."""
    if value is None:
        return True
    return isinstance(value, list | tuple) and all(
        isinstance(v, list | tuple) and value_is_empty(v) for v in value
    )


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
        """Like ``deep_get`` but fans out over lists met on the way; ``return_val`` is first,
        last or all (see ``deep_walk_raw``). Values come back as plain JSON, as Panther's do."""
        if return_val not in ("first", "last", "all"):
            raise ValueError(f"return_val must be first, last or all, not {return_val!r}")
        return deep_walk_raw(self._data, keys, default, return_val)

    def udm(self, *key: str, default: Any = None) -> Any:
        """A data-model field of this event. A name the model maps is read through it (``default``
        when that finds nothing); any other key is read from ``p_udm``, then from the event
        itself, and an empty or false value counts as absent there, as in Panther."""
        model = self._models(self._data) if self._models is not None else None
        if model is not None and len(key) == 1 and model.defines(key[0]):
            value = model.value(key[0], self)
            return default if value is None else wrap(to_plain(value))
        for path in (("p_udm", *key), key):
            value = deep_get_raw(self._data, path)
            if value is not MISSING and value:
                return wrap(value)
        return default

    def udm_path(self, key: str) -> str | None:
        """The path (or method name) the data model maps ``key`` to, or ``None``."""
        model = self._models(self._data) if self._models is not None else None
        return model.path_of(key, self) if model is not None else None

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

    def lookup(self, lookup_name: str, lookup_key: str) -> Any:
        """Lookup-table enrichment. TokenTrail has no lookup tables; as in ``pat test``, a test
        event may carry the answer under ``_mocked_lookup_data_.<table>.<key>``."""
        return self.deep_get("_mocked_lookup_data_", lookup_name, lookup_key)

    json_encoder = staticmethod(json_encoder)

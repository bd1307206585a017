"""Panther's caching helpers (string sets, counters, dictionaries with a TTL), kept in a
TokenTrail ``StateStore`` instead of DynamoDB.

Every key holds one record, as a Panther cache item does: a counter, a string set and a
dictionary may live side by side under the same key and share its expiry. Expiry times are
epoch seconds and are compared with the *event* time of the event being evaluated (set by the
detection before it calls the rule), so a scan over last month's logs ages entries as the
logs did; with no event time the wall clock is used. Expired entries read as absent, always
(Panther's ``force_ttl_check`` is accepted and implied).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

NAMESPACE = "panther.cache"


class KeyValueStore(Protocol):
    """The part of ``tokentrail.state.StateStore`` the helpers use."""

    def get(self, ns: str, key: str, default: Any = None) -> Any: ...

    def put(self, ns: str, key: str, value: Any, *, expires: float | None = None) -> None: ...

    def delete(self, ns: str, key: str) -> None: ...


class MemoryStore:
    """A dict-backed store for unit tests: no SQLite, nothing outlives the test."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], Any] = {}

    def get(self, ns: str, key: str, default: Any = None) -> Any:
        return self._data.get((ns, key), default)

    def put(self, ns: str, key: str, value: Any, *, expires: float | None = None) -> None:
        self._data[(ns, key)] = value

    def delete(self, ns: str, key: str) -> None:
        self._data.pop((ns, key), None)


_store: KeyValueStore | None = None
# The PantherEvent being evaluated; the detection sets it so TTLs follow event time.
current_event: Any = None


def configure_state(store: KeyValueStore | None) -> None:
    """Use ``store`` for every cache call from now on (``None``: a fresh in-memory store)."""
    global _store
    _store = store


def _get_store() -> KeyValueStore:
    global _store
    if _store is None:
        from tokentrail.state import StateStore

        _store = StateStore()
    return _store


@contextmanager
def isolated_state(store: KeyValueStore | None = None) -> Iterator[KeyValueStore]:
    """Run a block against its own store (default: an empty ``MemoryStore``), then restore."""
    global _store, current_event
    saved = (_store, current_event)
    _store = store if store is not None else MemoryStore()
    try:
        yield _store
    finally:
        _store, current_event = saved


def _now() -> float:
    event = current_event
    if event is not None:
        epoch = event.event_time_epoch()
        if epoch is not None:
            return float(epoch)
    return time.time()


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"epoch_seconds must be a number, not {type(value).__name__}")
    return float(value)


def _read(key: str) -> dict[str, Any]:
    if not isinstance(key, str):
        raise TypeError(f"cache keys are strings, not {type(key).__name__}")
    record = _get_store().get(NAMESPACE, key)
    if not record:
        return {}
    expires = record.get("expires")
    if expires is not None and expires <= _now():
        return {}
    return record


def _write(key: str, record: dict[str, Any], epoch_seconds: Any = None) -> None:
    expires = _epoch(epoch_seconds)
    if expires is not None:
        record["expires"] = expires
    _get_store().put(NAMESPACE, key, record)


def _strings(value: str | Iterable[str]) -> set[str]:
    items = {value} if isinstance(value, str) else set(value)
    bad = [v for v in items if not isinstance(v, str)]
    if bad:
        raise TypeError(f"string sets hold strings, not {type(bad[0]).__name__}")
    return items


# -- counters ---------------------------------------------------------------------------------
def get_counter(key: str, force_ttl_check: bool = False) -> int:
    """The counter at ``key`` (0 when absent or expired)."""
    return int(_read(key).get("counter", 0))


def increment_counter(key: str, val: int = 1, epoch_seconds: Any = None) -> int:
    """Add ``val`` to the counter at ``key`` and return the new value."""
    record = dict(_read(key))
    record["counter"] = int(record.get("counter", 0)) + int(val)
    _write(key, record, epoch_seconds)
    return record["counter"]


def reset_counter(key: str) -> None:
    """Set the counter at ``key`` back to 0."""
    record = dict(_read(key))
    if record.pop("counter", None) is not None:
        _write(key, record)


# -- string sets ------------------------------------------------------------------------------
def get_string_set(key: str, force_ttl_check: bool = False) -> set[str]:
    """The string set at ``key`` (empty when absent or expired)."""
    return set(_read(key).get("strings", ()))


def put_string_set(key: str, val: Iterable[str], epoch_seconds: Any = None) -> None:
    """Replace the string set at ``key``; an empty ``val`` removes it."""
    items = _strings(val)
    if not items:
        reset_string_set(key)
        return
    record = dict(_read(key))
    record["strings"] = sorted(items)
    _write(key, record, epoch_seconds)


def add_to_string_set(key: str, val: str | Iterable[str], epoch_seconds: Any = None) -> set[str]:
    """Add one string (or several) to the set at ``key``; return the new set."""
    record = dict(_read(key))
    items = set(record.get("strings", ())) | _strings(val)
    record["strings"] = sorted(items)
    _write(key, record, epoch_seconds)
    return items


def remove_from_string_set(key: str, val: str | Iterable[str]) -> set[str]:
    """Remove one string (or several) from the set at ``key``; return what is left."""
    record = dict(_read(key))
    items = set(record.get("strings", ())) - _strings(val)
    record["strings"] = sorted(items)
    _write(key, record)
    return items


def reset_string_set(key: str) -> None:
    """Remove the string set at ``key``."""
    record = dict(_read(key))
    if record.pop("strings", None) is not None:
        _write(key, record)


# -- dictionaries -----------------------------------------------------------------------------
def get_dictionary(key: str, force_ttl_check: bool = False, fail_on_json_error: bool = True) -> dict:
    """The dictionary at ``key`` (empty when absent or expired)."""
    return dict(_read(key).get("dict", {}))


def put_dictionary(key: str, val: Mapping[str, Any], epoch_seconds: Any = None) -> None:
    """Store a JSON-serialisable dictionary at ``key``."""
    if not isinstance(val, Mapping):
        raise TypeError(f"put_dictionary stores a dict, not {type(val).__name__}")
    from tokentrail.formats.panther.event import to_plain

    record = dict(_read(key))
    record["dict"] = to_plain(val)
    _write(key, record, epoch_seconds)


# -- expiry and thresholds -------------------------------------------------------------------
def set_key_expiration(key: str, epoch_seconds: Any) -> None:
    """Expire everything stored at ``key`` at ``epoch_seconds``."""
    _write(key, dict(_read(key)), epoch_seconds)


def evaluate_threshold(key: str, threshold: int = 10, expiry_seconds: int = 3600) -> bool:
    """Count a hit at ``key``; True (and the count restarts) once ``threshold`` hits fall within
    ``expiry_seconds`` of the first one."""
    hits = increment_counter(key)
    if hits == 1:
        set_key_expiration(key, _now() + expiry_seconds)
    if hits >= threshold:
        reset_counter(key)
        return True
    return False


def check_account_age(key: Any) -> bool:
    """Whether a new-user/new-account indicator rule stored ``key`` (a non-empty string) as a
    string set that has not expired."""
    return isinstance(key, str) and key != "" and bool(get_string_set(key, force_ttl_check=True))

"""Events held in API order, as the bytes the API sends, with more appended while serving."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from typing import Any

import orjson

Key = tuple[Any, ...]


class EventStore:
    """Events sorted by ``key`` (the API's order), each kept as its JSON bytes.

    Appending is thread-safe and may happen while requests are served; an event whose key sorts
    before the newest goes into its place (as a late-arriving log line does).
    """

    def __init__(self, key: Callable[[dict[str, Any]], Key], events: Iterable[dict[str, Any]] = ()) -> None:
        self._key = key
        self._lock = threading.Lock()
        self._keys: list[Key] = []
        self._raw: list[bytes] = []
        self.extend(events)

    def extend(self, events: Iterable[dict[str, Any]]) -> int:
        """Add ``events``; returns how many."""
        added = 0
        dumps = orjson.dumps
        pending = sorted(((self._key(e), dumps(e)) for e in events), key=lambda kr: kr[0])
        with self._lock:
            for key, raw in pending:
                if not self._keys or key >= self._keys[-1]:
                    self._keys.append(key)
                    self._raw.append(raw)
                else:
                    at = bisect.bisect_right(self._keys, key)
                    self._keys.insert(at, key)
                    self._raw.insert(at, raw)
                added += 1
        return added

    def __len__(self) -> int:
        return len(self._keys)

    def after(self, key: Key) -> int:
        """Index of the first event whose key sorts after ``key``."""
        with self._lock:
            return bisect.bisect_right(self._keys, key)

    def before(self, key: Key) -> int:
        """Index of the first event whose key is not before ``key``."""
        with self._lock:
            return bisect.bisect_left(self._keys, key)

    def key(self, index: int) -> Key:
        """The key of the event at ``index``."""
        return self._keys[index]

    def raw(self, start: int, stop: int) -> list[bytes]:
        """The JSON bytes of events ``start`` to ``stop``."""
        with self._lock:
            return self._raw[start:stop]

    def events(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Events ``start`` to ``stop``, decoded."""
        return [orjson.loads(r) for r in self.raw(start, len(self) if stop is None else stop)]


def json_array(raw: list[bytes]) -> bytes:
    """The JSON array of already-encoded values."""
    return b"[" + b",".join(raw) + b"]"

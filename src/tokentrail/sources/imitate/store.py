"""Events held in API order, as the bytes the API sends, with more appended while serving."""

from __future__ import annotations

import bisect
import threading
from array import array
from collections.abc import Callable, Iterable
from typing import Any

import orjson

Key = tuple[Any, ...]


class EventStore:
    """Events sorted by ``key`` (the API's order), each kept as its JSON bytes.

    Appending is thread-safe and may happen while requests are served; an event whose key sorts
    before the newest goes into its place (as a late-arriving log line does). The bytes of all
    events live in one buffer (with an offset per event) and the keys are unpacked only after a
    whole load: a million small allocations made between a reader's short-lived dicts would pin
    the memory those dicts freed, and a load would hold several times the log's size.
    """

    def __init__(self, key: Callable[[dict[str, Any]], Key], events: Iterable[dict[str, Any]] = ()) -> None:
        self._key = key
        self._lock = threading.Lock()
        self._keys: list[Key] = []
        self._order = array("Q")  # position in API order -> record number
        self._ends = array("Q", [0])  # record n is _buf[_ends[n]:_ends[n + 1]]
        self._buf = bytearray()
        self.extend(events)

    def extend(self, events: Iterable[dict[str, Any]]) -> int:
        """Add ``events``; returns how many."""
        dumps, loads = orjson.dumps, orjson.loads
        buf, ends = bytearray(), array("Q")
        packed = bytearray()
        for event in events:
            buf += dumps(event)
            ends.append(len(buf))
            packed += dumps(self._key(event)) + b"\n"
        keys: list[Key] = [tuple(loads(line)) for line in packed.splitlines()]
        del packed
        with self._lock:
            first, base = len(self._ends) - 1, len(self._buf)
            if base:
                self._buf += buf
            else:  # the first load: no copy
                self._buf = buf
            self._ends.extend(end + base for end in ends)
            for n in sorted(range(len(keys)), key=keys.__getitem__):
                key = keys[n]
                if not self._keys or key >= self._keys[-1]:
                    self._keys.append(key)
                    self._order.append(first + n)
                else:
                    at = bisect.bisect_right(self._keys, key)
                    self._keys.insert(at, key)
                    self._order.insert(at, first + n)
        return len(keys)

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
            buf, ends = self._buf, self._ends
            return [bytes(buf[ends[n]:ends[n + 1]]) for n in self._order[start:stop]]

    def events(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Events ``start`` to ``stop``, decoded."""
        return [orjson.loads(r) for r in self.raw(start, len(self) if stop is None else stop)]


def json_array(raw: list[bytes]) -> bytes:
    """The JSON array of already-encoded values."""
    return b"[" + b",".join(raw) + b"]"

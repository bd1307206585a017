"""Each event once: remember which (log type, event id) pairs a scan has taken.

An event read twice — one file named twice, overlapping exports, the same rows as JSON lines and
as CSV — has the same log type and the same vendor id (Okta ``uuid``, Auth0 ``log_id``,
Salesforce ``REQUEST_ID``, ...), so a key of both finds it wherever it comes from. Events whose
log type names no id, or that do not carry it, have no key and are never dropped.

Keys are frozen (``tokentrail.engine.keyruns``): packed exactly into fixed-width bytes (a
canonical UUID id into its 16 bytes), in sorted numpy runs behind a Bloom filter. A batch of
keys (``duplicates_among``; ``duplicates_in`` for a worker's, packed by the worker) is frozen at
once; keys taken one at a time (``is_duplicate``, ``seen_key``) wait in a Python set of at most
``memory_ids`` first. Keys are
exact, never hashes, so two different events can never be taken for one, and no key is ever
dropped. Measured: about 124 bytes per key in the set, about 24 frozen (Okta keys; see
docs/benchmarks.md).

The keys live for one scan, not in the ``--state`` file: a scan's state commits only with its
alerts (see ``tokentrail.state``), so a rerun after a crash must take the same events again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tokentrail import schemas
from tokentrail.engine.keybatch import KeyBatch
from tokentrail.engine.keyruns import FrozenKeys

DEFAULT_MEMORY_IDS = 1 << 16  # keys kept as strings before they are frozen
STRING_KEY_BYTES = 124  # a key kept as a string in a set (Okta keys, measured)


def dedup_key(log_type: str, ident: str) -> str:
    """The key of an event of ``log_type`` whose vendor id is ``ident`` (see ``SeenEvents.key``)."""
    return f"{log_type}\x1f{ident}"


class SeenEvents:
    """The keys of the events a scan has taken. ``is_duplicate`` answers and records at once."""

    def __init__(self, memory_ids: int = DEFAULT_MEMORY_IDS) -> None:
        self.memory_ids = max(1, memory_ids)
        self.recent: set[str] = set()
        self.frozen = FrozenKeys()
        self._readers: dict[str, Callable[[Mapping[str, Any]], str | None]] = {}

    @property
    def nbytes(self) -> int:
        """About how many bytes the filter takes at most until the next keys are stored (it grows
        with the input): the keys taken so far, and the working copies their store may make (a
        merge of runs, the Bloom filter rebuilt; ``FrozenKeys.working_nbytes``)."""
        strings = STRING_KEY_BYTES * (len(self.recent) + len(self.frozen.unpacked))
        return self.frozen.nbytes() + self.frozen.working_nbytes() + strings

    @property
    def spilled(self) -> int:
        """How many keys were frozen."""
        return self.frozen.count

    def key(self, event: Mapping[str, Any], log_type: str) -> str | None:
        """The event's dedup key (log type and vendor id), or None when it has no id."""
        ident = (self._readers.get(log_type) or self._reader(log_type))(event)
        return None if ident is None else f"{log_type}\x1f{ident}"

    def is_duplicate(self, event: Mapping[str, Any], log_type: str) -> bool:
        """True when an event of this log type and id was taken before; else take it."""
        # ``key`` and the first case of ``seen_key`` inlined: this runs once per event.
        ident = (self._readers.get(log_type) or self._reader(log_type))(event)
        if ident is None:
            return False
        key = f"{log_type}\x1f{ident}"
        recent = self.recent
        if key in recent:
            return True
        if self.frozen.count or len(recent) + 1 >= self.memory_ids:
            return self.seen_key(key)
        recent.add(key)
        return False

    def duplicates_among(self, keys: list[str]) -> set[int]:
        """The positions in ``keys`` (``""``: no id) of keys taken before, earlier in the list
        included; the others are taken, frozen at once as one run (a worker's batch of keys is
        never held as strings)."""
        present = [k for k in keys if k]
        found = self.frozen.take_batch(present, self.recent)
        if not found:
            return set()
        if len(present) == len(keys):
            return set(found)
        where = [n for n, k in enumerate(keys) if k]
        return {where[i] for i in found}

    def duplicates_in(self, batch: KeyBatch) -> set[int]:
        """``duplicates_among`` of a worker's packed keys (``keybatch.pack_batch``): the same
        positions for the same keys. Keys taken one at a time are frozen first, so that every
        key is compared packed."""
        if self.recent:
            self._freeze()
        return set(self.frozen.take_packed(batch))

    def _reader(self, log_type: str) -> Callable[[Mapping[str, Any]], str | None]:
        """The log type's id reader, with a direct read first when its first id field is a
        top-level key (Okta ``uuid``, Salesforce ``REQUEST_ID``): canonical events pay one lookup."""
        full = schemas.id_reader(log_type)
        lt = schemas.registry().get(log_type)
        first = lt.id_fields[0] if lt is not None and lt.id_fields else None
        if first is None or "." in first:
            read = full
        else:
            def read(event: Mapping[str, Any]) -> str | None:
                value = event.get(first)
                if value.__class__ is str and value:
                    return value
                return full(event)
        self._readers[log_type] = read
        return read

    @property
    def count(self) -> int:
        """How many keys are recorded."""
        return len(self.recent) + self.frozen.count

    def holds(self, key: str) -> bool:
        """True when ``key`` was recorded before (nothing is recorded)."""
        return key in self.recent or bool(self.frozen.count and self.frozen.holds(key))

    def seen_key(self, key: str) -> bool:
        """True when ``key`` was recorded before; else record it."""
        # ``holds`` inlined: this runs once per event on the fast path.
        recent = self.recent
        if key in recent:
            return True
        if self.frozen.count and self.frozen.holds(key):
            return True
        recent.add(key)
        if len(recent) >= self.memory_ids:
            self._freeze()
        return False

    def _freeze(self) -> None:
        self.frozen.add(list(self.recent))
        self.recent = set()

    def close(self) -> None:
        """Drop the keys."""
        self.recent = set()
        self.frozen = FrozenKeys()

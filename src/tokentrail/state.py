"""SQLite state store: durable key/value state with expiry, shared by alerting (windows,
new_terms history, alert ids already raised) and by Python rules' caching helpers.

It lives at the package top rather than in ``alerting/`` because rule front-ends (Panther's
caching helpers) need it too, and a front-end must not import a later stage of the flow.
Values are JSON. Expiry is an epoch-seconds timestamp on the row; expired rows read as absent.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    expires REAL,
    PRIMARY KEY (ns, key)
)
"""


class StateStore:
    """A namespaced key/value store in one SQLite file (``":memory:"`` for a throwaway one)."""

    def __init__(self, path: str | Path = ":memory:", *, clock=time.time) -> None:
        self.path = str(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def get(self, ns: str, key: str, default: Any = None) -> Any:
        """The value at (ns, key), or ``default`` when absent or expired."""
        with self._lock:
            row = self._db.execute("SELECT value, expires FROM kv WHERE ns=? AND key=?", (ns, key)).fetchone()
        if row is None or (row[1] is not None and row[1] <= self._clock()):
            return default
        return orjson.loads(row[0])

    def put(self, ns: str, key: str, value: Any, *, expires: float | None = None) -> None:
        """Store ``value`` (JSON-serialisable) at (ns, key); ``expires`` is epoch seconds."""
        blob = orjson.dumps(value)
        with self._lock:
            self._db.execute(
                "INSERT INTO kv(ns, key, value, expires) VALUES (?,?,?,?) "
                "ON CONFLICT(ns, key) DO UPDATE SET value=excluded.value, expires=excluded.expires",
                (ns, key, blob, expires),
            )

    def delete(self, ns: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM kv WHERE ns=? AND key=?", (ns, key))

    def expires_at(self, ns: str, key: str) -> float | None:
        """The expiry of a live key (None when it has none or is absent)."""
        with self._lock:
            row = self._db.execute("SELECT expires FROM kv WHERE ns=? AND key=?", (ns, key)).fetchone()
        return None if row is None else row[0]

    def items(self, ns: str) -> Iterator[tuple[str, Any]]:
        """Live (key, value) pairs of a namespace."""
        now = self._clock()
        with self._lock:
            rows = self._db.execute(
                "SELECT key, value FROM kv WHERE ns=? AND (expires IS NULL OR expires > ?)", (ns, now)
            ).fetchall()
        for key, blob in rows:
            yield key, orjson.loads(blob)

    def transaction(self):
        """A context manager that batches writes into one SQLite transaction."""
        return _Transaction(self)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Transaction:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    def __enter__(self) -> StateStore:
        self._store._db.execute("BEGIN")
        return self._store

    def __exit__(self, exc_type, exc, tb) -> None:
        self._store._db.execute("ROLLBACK" if exc_type else "COMMIT")

"""SQLite state store: durable key/value state with expiry, shared by alerting (windows,
new_terms history, alert ids already raised) and by Python rules' caching helpers.

It lives at the package top rather than in ``alerting/`` because rule front-ends (Panther's
caching helpers) need it too, and a front-end must not import a later stage of the flow.
Values are JSON. Expiry is an epoch-seconds timestamp on the row; expired rows read as absent.

A scan holds the store (``hold``): an exclusive lock on the file for the whole scan (a second
scan on the same file gets a ``StateError`` at once, not interleaved state) and one open
transaction, so that nothing the scan changes is durable until ``commit``. The holder commits
only after the alerts the changes produced are written: a scan killed at any moment leaves the
state as it was before that scan began.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from tokentrail.errors import StateError

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
        self._lock_fd: int | None = None
        self.held = False
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StateError(f"cannot open state: {exc}", file=self.path) from None
        try:
            self._db.execute("PRAGMA busy_timeout=2000")
            self._db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.execute("SELECT count(*) FROM kv WHERE 0").fetchone()
        except sqlite3.Error as exc:
            self._db.close()
            raise StateError(_explain(exc), file=self.path) from None

    def hold(self) -> None:
        """Lock the file for this process and open the transaction every change goes into.

        Raises ``StateError`` when another scan holds the file, or it cannot be written.
        """
        if self.held:
            return
        if self.path != ":memory:":
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except OSError as exc:
                raise StateError(f"cannot open state: {exc.strerror}", file=self.path) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise StateError("state file is in use by another scan; wait for it to end "
                                 "or give this scan its own --state", file=self.path) from None
            self._lock_fd = fd
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                # A write now, so a file SQLite could open only for reading fails here, before
                # the scan, not at its first state change; the row says who holds the file.
                self._db.execute("INSERT OR REPLACE INTO kv(ns, key, value, expires) VALUES (?,?,?,NULL)",
                                 ("\x00scan", "holder", orjson.dumps({"pid": os.getpid(), "since": self._clock()})))
        except sqlite3.Error as exc:
            with self._lock:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
            self._unlock()
            raise StateError(_explain(exc), file=self.path) from None
        self.held = True

    def commit(self) -> None:
        """Make every change since ``hold`` (or the last commit) durable; the hold goes on."""
        if not self.held:
            return
        try:
            with self._lock:
                self._db.execute("COMMIT")
                self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StateError(_explain(exc), file=self.path) from None

    def release(self) -> None:
        """End the hold: changes not committed are dropped, and the lock goes."""
        if self.held:
            with self._lock:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
            self.held = False
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

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
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO kv(ns, key, value, expires) VALUES (?,?,?,?) "
                    "ON CONFLICT(ns, key) DO UPDATE SET value=excluded.value, expires=excluded.expires",
                    (ns, key, blob, expires),
                )
        except sqlite3.Error as exc:
            raise StateError(_explain(exc), file=self.path) from None

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
        """Release (dropping uncommitted changes) and close the file."""
        self.release()
        with self._lock:
            self._db.close()


class _Transaction:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    def __enter__(self) -> StateStore:
        if not self._store.held:  # a held store is inside its scan's transaction already
            self._store._db.execute("BEGIN")
        return self._store

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._store.held:
            self._store._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _explain(exc: sqlite3.Error) -> str:
    """One line for what SQLite said, in the user's terms."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return "state file is read-only (the scan must write it)"
    if "not a database" in text or "malformed" in text:
        return "state file is corrupt or not a TokenTrail state file"
    if "locked" in text or "busy" in text:
        return "state file is locked by another program"
    return f"state file unusable: {text}"

"""The SQLite alert store: every alert of a live run, one row per (source, alert id), queried by
``tokentrail alerts list``.

An alert raised again (a batch read twice after a crash) replaces its row, so the store holds each
alert once whatever happened to the run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tokentrail.sinks.base import SinkError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    first_time TEXT,
    document BLOB NOT NULL,
    PRIMARY KEY (source, id)
)
"""
_INDEXES = ("CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule_id)",
            "CREATE INDEX IF NOT EXISTS alerts_time ON alerts(first_time)")
SEVERITIES = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class AlertQuery:
    """Which alerts ``AlertStore.query`` gives: every filter given must hold."""

    rule: str | None = None
    min_severity: str | None = None  # this severity and the ones above it
    since: str | None = None  # ISO-8601: alerts whose first event is at or after it
    source: str | None = None
    limit: int | None = None


class AlertStore:
    """An alert store in one SQLite file; usable as a live sink."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self.name = f"sqlite:{self.path}"
        if not create and not self.path.is_file():
            raise SinkError("no such alert store", file=str(self.path))
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=5000")
            if create:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute(_SCHEMA)
                for index in _INDEXES:
                    self.db.execute(index)
            self.db.execute("SELECT count(*) FROM alerts WHERE 0").fetchone()
        except sqlite3.Error as exc:
            raise SinkError(_explain(exc), file=str(self.path)) from None

    def deliver(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace each record by its source and id, in one transaction synced to disk."""
        if not records:
            return
        rows = [(r["id"], r["rule_id"], r["severity"], r.get("first_time"), r.get("source") or "",
                 orjson.dumps(r, default=str)) for r in records]
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT INTO alerts(id, rule_id, severity, first_time, source, document) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT(source, id) DO UPDATE SET rule_id=excluded.rule_id, severity=excluded.severity, "
                "first_time=excluded.first_time, source=excluded.source, document=excluded.document", rows)
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise SinkError(_explain(exc), file=str(self.path)) from None

    def mark(self) -> None:
        return None

    def recover(self, mark: Any) -> None:
        """Nothing to do: a repeated alert replaces its own row."""

    def query(self, q: AlertQuery) -> Iterator[dict[str, Any]]:
        """The stored alerts ``q`` selects, oldest first."""
        where, args = [], []
        if q.rule:
            where.append("rule_id = ?")
            args.append(q.rule)
        if q.min_severity:
            wanted = SEVERITIES[SEVERITIES.index(q.min_severity):]
            where.append(f"lower(severity) IN ({','.join('?' * len(wanted))})")
            args.extend(wanted)
        if q.since:
            where.append("first_time >= ?")
            args.append(q.since)
        if q.source:
            where.append("source = ?")
            args.append(q.source)
        sql = "SELECT document FROM alerts" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY first_time, rule_id, id, source"
        if q.limit is not None:
            sql += " LIMIT ?"
            args.append(q.limit)
        try:
            rows = self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise SinkError(_explain(exc), file=str(self.path)) from None
        for (document,) in rows:
            yield orjson.loads(document)

    def close(self) -> None:
        self.db.close()


def _explain(exc: sqlite3.Error) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text or "no such table" in text:
        return "not a TokenTrail alert store (corrupt, or another kind of file)"
    if "locked" in text or "busy" in text:
        return "alert store is locked by another program"
    if "readonly" in text:
        return "alert store is read-only"
    return f"alert store unusable: {text}"

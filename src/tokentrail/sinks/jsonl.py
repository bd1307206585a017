"""The JSON-lines alert file of a live run: appended, synced to disk per batch, each alert once.

A run can die after writing a batch's alerts and before storing its checkpoint; the batch is then
read and alerted on again. So the file's size is stored with each checkpoint (``mark``), and on
start (``recover``) the ids of the alerts written after that size are read back: those alerts
are not written a second time. A line cut off by the crash is removed first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from tokentrail.sinks.base import SinkError
from tokentrail.sinks.writers import dumps_line


class JsonlSink:
    """Appends alerts to ``path``, one JSON object per line."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"jsonl:{self.path}"
        self.unsynced: set[tuple[str, str]] = set()  # (source, id) in the file past the last checkpoint
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SinkError(f"cannot open: {exc.strerror}", file=str(self.path)) from None

    def recover(self, mark: Any) -> None:
        """Drop a cut-off last line; remember the ids written after ``mark`` (a byte offset)."""
        try:
            with open(self.path, "rb+") as fh:
                data_end = fh.seek(0, os.SEEK_END)
                start = mark if isinstance(mark, int) and 0 <= mark <= data_end else 0
                fh.seek(start)
                tail = fh.read()
                cut = tail.rfind(b"\n") + 1
                if cut < len(tail):  # a line the crash left without its newline
                    fh.truncate(start + cut)
                    os.fsync(fh.fileno())
                    tail = tail[:cut]
        except OSError as exc:
            raise SinkError(f"cannot read back: {exc.strerror}", file=str(self.path)) from None
        for line in tail.splitlines():
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line that is no alert of ours: left as it is
            if isinstance(doc, dict) and isinstance(doc.get("id"), str):
                self.unsynced.add((str(doc.get("source") or ""), doc["id"]))

    def deliver(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Append the records not in the file yet, then sync the file to disk. A write that
        fails part-way (a full disk) is cut back off, so a retry does not leave a torn line."""
        unsynced = self.unsynced
        data = b"".join(dumps_line(r) for r in records if (r.get("source") or "", r["id"]) not in unsynced)
        try:
            size = os.fstat(self.fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.fd, view):]
                os.fsync(self.fd)
            except OSError:
                os.ftruncate(self.fd, size)
                raise
        except OSError as exc:
            raise SinkError(f"cannot write: {exc.strerror}", file=str(self.path)) from None

    def mark(self) -> int:
        """The file's size: everything before it is covered by the checkpoint about to be stored."""
        self.unsynced.clear()
        return os.fstat(self.fd).st_size

    def close(self) -> None:
        os.close(self.fd)

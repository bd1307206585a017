"""Big JSON-lines files of a batch scan, matched by the streaming engine's worker processes.

A plain JSON-lines file big enough for workers (``parallel_worth_it``) goes through the
streaming engine's parallel scan (``engine/parallel.py``): each worker reads its byte ranges and
does the fast path, the matching and the digests, and the parent routes the digests in file
order into the batch engine's alerting (its ``LiftedStream``). The triage of ``batch_json.py``
does the same work in one process, so workers are what makes the batch engine as fast as the
streaming scan on such a file. Python rules keep state across events: a rule set holding any
runs in one process (``worker_count``), so no Python rule meets a line its worker never saw.

The DuckDB connection is open in the parent when the workers fork (it starts its idle threads
when it connects). The workers never call DuckDB: they inherit the streaming engine's plan, read
with orjson and match in Python, and exit without running its destructors. The pool is forked
before the scan's first file, before any statement has run, so no DuckDB work is in flight; a
pool replaced after a worker died forks while the parent routes a JSON-lines file, when no
statement runs either (a Parquet file's statements, and their thread, end with its scan).
"""

from __future__ import annotations

from pathlib import Path

from tokentrail.alerting.models import Alert
from tokentrail.engine import parallel
from tokentrail.engine.gcpolicy import scan_gc
from tokentrail.engine.parallel import ParallelFileScanner, worker_count
from tokentrail.engine.stream import StreamingEngine
from tokentrail.sources.files import LogReader


class LineWorkers:
    """The worker pool of one batch scan: which files it takes, their scan, and what it did
    (``files``, ``events``, ``workers``: the summary's ``stream_workers``)."""

    def __init__(self, stream: StreamingEngine, reader: LogReader, requested: int,
                 min_bytes: int | None = None) -> None:
        self.stream = stream
        self.workers = worker_count(requested, stream)
        # None: the parallel scan's own threshold, read now (a test lowers it there).
        self.min_bytes = parallel.MIN_PARALLEL_BYTES if min_bytes is None else min_bytes
        self.scanner = ParallelFileScanner(stream, reader, self.workers)
        self.files = 0
        self.events = 0

    def takes(self, path: str | Path) -> bool:
        """Whether ``path`` goes to the workers: more than one of them, a plain JSON-lines file
        (not compressed, not ``-``) of at least ``min_bytes`` (default ``MIN_PARALLEL_BYTES``)."""
        return self.scanner.takes(path, self.min_bytes)

    def start(self, first: str | Path) -> None:
        """Fork the workers now (warmed on the first file they will take), before DuckDB runs."""
        with scan_gc():  # frozen before the fork: the workers' copies of the objects stay shared
            self.scanner.start(str(first))

    def scan_file(self, path: str | Path) -> list[Alert]:
        """The alerts completed while the workers scan ``path``, in file order."""
        before = self.stream.stats.events
        with scan_gc():
            alerts = list(self.scanner.scan_file(path))
        self.files += 1
        self.events += self.stream.stats.events - before
        return alerts

    def close(self) -> None:
        """Stop the workers (every one has exited when this returns)."""
        self.scanner.close()

    def summary(self) -> dict[str, int]:
        """What the workers matched, for the scan's summary; empty when they took no file."""
        return {"files": self.files, "events": self.events, "workers": self.workers} if self.files else {}

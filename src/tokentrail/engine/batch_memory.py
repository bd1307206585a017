"""How the batch engine divides ``--memory-limit`` so that the whole process stays under it.

DuckDB's ``memory_limit`` bounds only DuckDB's buffer manager. The process also holds Python
and its objects (the rules, the plans, alerting's open groups), the Arrow batches DuckDB hands
over, the parts' result tables, and the Python objects built for matched rows. So the limit is
divided: a reserve for the process's own (the interpreter, rules, plans, alerting: about 400 MB
for the packs measured, whatever the limit), DuckDB's share (it spills to a directory past it),
and what is left for the batches in flight, each costing several times its Arrow input (DuckDB's
intermediates, the results, Python's objects for its matches; docs/benchmarks.md, "peak RSS
bounded by --memory-limit"). A batch holds as many rows as that allows given how wide a row is;
the Parquet scan keeps two in flight (one matched in DuckDB while the one before is routed).
(Smaller statement parts under a tighter limit were measured and not taken: a part's memory in
DuckDB did not shrink with its units, and more parts cost CPU on every batch.)

Pure policy: numbers in, numbers out; ``engine/batch.py`` applies them.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass

# Bytes per unit, as DuckDB reads sizes: KB, MB... are powers of 1000, KiB, MiB... of 1024.
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)

PROCESS_RESERVE = 400 * 10**6  # the process's own, at most half the limit
DUCKDB_PERCENT = 35  # of the limit: DuckDB's own memory_limit (it spills beyond it)
IN_FLIGHT = 3  # a batch in flight takes about this many times its Arrow input (measured 2.4-3.4), plus its codes
FLUSH_PERCENT = 1  # of the limit: DuckDB hands freed memory back once a task held more than this
DUCKDB_FLOOR = 64 * 2**20  # DuckDB's share is never less: under a tiny limit it must still run a query
FLUSH_FLOOR = 4 * 2**20
THREAD_MEMORY = 300 * 10**6  # DuckDB's share per thread it runs: a large statement's working memory
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
MIN_BATCH_ROWS = 2048  # one DuckDB vector: fewer rows per query would cost more plans than they save


def parse_size(text: str) -> int:
    """A size as DuckDB writes it (``2GB``, ``500MB``, ``1.5GiB``, ``4096``) in bytes."""
    found = _SIZE.fullmatch(text)
    unit = found.group(2).lower() if found else ""
    if found is None or unit not in _UNITS:
        raise ValueError(f"not a memory size: {text!r} (give one such as 2GB or 500MB)")
    return int(float(found.group(1)) * _UNITS[unit])


@dataclass(frozen=True, slots=True)
class MemoryBudget:
    """The parts of one memory limit (bytes): DuckDB's (never under ``DUCKDB_FLOOR``; at most
    ``duckdb_most``, the limit less the reserve, when a statement needs more), what one batch
    may take in flight (``batch``), and the allocation after which DuckDB flushes its allocator."""

    limit: int
    duckdb: int
    duckdb_most: int
    batch: int
    flush: int

    @classmethod
    def of(cls, limit: str) -> MemoryBudget:
        """The budget of ``limit`` (a DuckDB size)."""
        total = parse_size(limit)
        if total <= 0:
            raise ValueError(f"not a memory size: {limit!r} (it must be more than 0)")
        duckdb = total * DUCKDB_PERCENT // 100
        rest = total - min(PROCESS_RESERVE, total // 2)  # what DuckDB and the batches share
        return cls(limit=total, duckdb=max(DUCKDB_FLOOR, duckdb), duckdb_most=max(DUCKDB_FLOOR, rest),
                   batch=rest - duckdb, flush=max(FLUSH_FLOOR, total * FLUSH_PERCENT // 100))

    def batch_rows(self, row_bytes: float, codes: int, most: int, held: int = 0, batches: int = 1) -> int:
        """Rows a batch holds when a row's Arrow input takes ``row_bytes`` and its statements give
        it ``codes`` codes (a byte each): as many as fit ``batch`` in flight less ``held`` bytes of
        state that grew with the input so far (the duplicate filter's keys), shared by ``batches``
        batches in flight at once, at least ``MIN_BATCH_ROWS`` and at most ``most``."""
        fits = int(max(self.batch - held, 0) / max(batches * (IN_FLIGHT * row_bytes + codes), 1.0))
        return max(min(MIN_BATCH_ROWS, most), min(most, fits))

    def threads(self, cores: int) -> int:
        """DuckDB's threads: one per core, fewer when its share would give a thread less than
        ``THREAD_MEMORY`` (each thread's pipelines hold their own working memory: with two, a
        200-rule statement took ~300 MB; with one, ~50 MB), never fewer than one."""
        return max(1, min(cores, self.duckdb // THREAD_MEMORY))

    def over(self, peak: int | None) -> str:
        """One line when the process's peak resident size ``peak`` (bytes, over its life so far:
        a scan in a process that held more before it is reported too) passed the limit, else ''."""
        if peak is None or peak <= self.limit:
            return ""
        return (f"peak memory {peak / 1e6:,.0f} MB passed --memory-limit {self.limit / 1e6:,.0f} MB: memory outside "
                "DuckDB (Python, alerting's open groups, the rule plans) did not fit the rest of the limit")


class StateGrowth:
    """How much the process's resident size grew since its first batch was routed: the state a
    scan keeps while it reads (the duplicate filter's keys, alerting's open groups, memory the
    allocators keep for reuse), which the fixed reserve does not cover. Measured after each
    batch's routing, the same point of every batch, so that the batch in flight then (its input
    and results, still referenced) is in the first measure as in the others."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.grown = 0  # bytes, as of the last batch

    def after_batch(self) -> None:
        """Measure the resident size after a batch was routed."""
        now = resident_bytes()
        if now is None:
            return
        if self.first is None:
            self.first = now
        else:
            self.grown = max(0, now - self.first)


def resident_bytes() -> int | None:
    """This process's resident size now, in bytes (None where ``/proc/self/statm`` is not)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def peak_rss() -> int | None:
    """This process's largest resident size so far, in bytes (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows has no resource module
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if peak <= 0:
        return None
    return peak if sys.platform == "darwin" else peak * 1024  # macOS gives bytes, Linux KiB

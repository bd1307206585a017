"""How the batch engine divides ``--memory-limit`` so that the whole process stays under it.

DuckDB's ``memory_limit`` bounds only DuckDB's buffer manager. The process also holds Python
and its objects (the rules, the plans, alerting's open groups), the Arrow batches DuckDB hands
over, the parts' result tables, and the Python objects built for matched rows. So DuckDB gets a
share of the limit (and a directory to spill to when that is not enough), and a batch holds as
many rows as its share allows given how wide a row is: a batch in flight costs several times
its Arrow input (DuckDB's intermediates, the results, Python's objects for its matches;
docs/benchmarks.md, "peak RSS bounded by --memory-limit"). Large rule sets are planned in
smaller parts when the limit is tight: preparing a statement takes memory outside DuckDB's limit.

Pure policy: numbers in, numbers out; ``engine/batch.py`` applies them.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

# Bytes per unit, as DuckDB reads sizes: KB, MB... are powers of 1000, KiB, MiB... of 1024.
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)

DUCKDB_SHARE = 0.30  # of the limit: DuckDB's own memory_limit (it spills beyond it)
BATCH_SHARE = 0.10  # of the limit: one batch's Arrow input; its copies in flight take ~4x more
FLUSH_SHARE = 0.01  # of the limit: DuckDB hands freed memory back once a task held more than this
DUCKDB_FLOOR = 64 * 2**20  # DuckDB's share is never less: under a tiny limit it must still run a query
FLUSH_FLOOR = 4 * 2**20
MIN_BATCH_ROWS = 2048  # one DuckDB vector: fewer rows per query would cost more plans than they save
REFERENCE_LIMIT = 2 * 10**9  # the default limit, at which a statement holds its full share of units
MIN_STATEMENT_UNITS = 100


def parse_size(text: str) -> int:
    """A size as DuckDB writes it (``2GB``, ``500MB``, ``1.5GiB``, ``4096``) in bytes."""
    found = _SIZE.fullmatch(text)
    unit = found.group(2).lower() if found else ""
    if found is None or unit not in _UNITS:
        raise ValueError(f"not a memory size: {text!r} (give one such as 2GB or 500MB)")
    return int(float(found.group(1)) * _UNITS[unit])


@dataclass(frozen=True, slots=True)
class MemoryBudget:
    """The parts of one memory limit (bytes): DuckDB's, one batch's input, and the unit budget
    of a statement part (``engine/batch_parts.py``)."""

    limit: int
    duckdb: int
    batch: int
    flush: int
    statement_units: int

    @classmethod
    def of(cls, limit: str, statement_units: int) -> MemoryBudget:
        """The budget of ``limit`` (a DuckDB size); ``statement_units`` is a part's budget at the
        default limit, shrunk in proportion below it (never under ``MIN_STATEMENT_UNITS``)."""
        total = parse_size(limit)
        if total <= 0:
            raise ValueError(f"not a memory size: {limit!r} (it must be more than 0)")
        scaled = statement_units * total // REFERENCE_LIMIT
        return cls(limit=total, duckdb=max(DUCKDB_FLOOR, int(total * DUCKDB_SHARE)), batch=int(total * BATCH_SHARE),
                   flush=max(FLUSH_FLOOR, int(total * FLUSH_SHARE)),
                   statement_units=max(min(statement_units, MIN_STATEMENT_UNITS), min(statement_units, scaled)))

    def batch_rows(self, row_bytes: float, most: int) -> int:
        """Rows a batch holds when a row takes ``row_bytes`` (its Arrow input and the codes its
        statements give it): as many as the batch share holds, at least ``MIN_BATCH_ROWS`` and
        at most ``most``."""
        fits = int(self.batch / max(row_bytes, 1.0))
        return max(min(MIN_BATCH_ROWS, most), min(most, fits))

    def over(self, peak: int | None) -> str:
        """One line when the process's peak resident size ``peak`` (bytes) passed the limit, else ''."""
        if peak is None or peak <= self.limit:
            return ""
        return (f"peak memory {peak / 1e6:,.0f} MB passed --memory-limit {self.limit / 1e6:,.0f} MB: memory outside "
                "DuckDB (Python, alerting's open groups, the rule plans) did not fit the rest of the limit")


def peak_rss() -> int | None:
    """This process's largest resident size so far, in bytes (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if peak <= 0:
        return None
    return peak if sys.platform == "darwin" else peak * 1024  # macOS gives bytes, Linux KiB

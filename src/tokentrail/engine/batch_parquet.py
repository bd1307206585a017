"""The batch engine's typed read of Parquet files: footers, batches, and the rows Python reads.

A Parquet file is matched over its own typed columns, batch by batch (row numbers for lines),
by the engine's prepared statements (``BatchEngine._typed_statement``); only the rows its router
must see are turned into Arrow, then events. A NULL cell is a missing field: Parquet gives every
row every column, so NULL is how a row lacks one.

Each file's footer is read once, when the scan plans its files (``plan_datasets``): its schema
as DuckDB reads it, planned as its dataset's merged schema (``engine/batch_schema.py``), and
its row groups' rows and column sizes, which cut and size the batches. DuckDB keeps the parsed
footers (``parquet_metadata_cache``), so the statements re-bound on every batch do not parse
them again.

The file is read by the statement itself, a range of row numbers per batch, when its columns'
types allow (``reads_direct``): its event columns never pass through Arrow, which costs more
than the matching. Else it is read as Arrow batches in the columns the plan reads. Either way
the rows Python reads whole get their other columns by a second read of those rows alone.

DuckDB binds names regardless of case: of two sibling fields whose names differ only in case it
renames one (``Type`` -> ``Type_1``), of two such columns it keeps one. A file holding such names
(``names_clash``) is read by pyarrow instead, as events, and matched as JSON text (``as_json``):
slower, exact, and left out of its dataset's planned schema.

DuckDB releases the GIL while it runs a statement, so the statement of the next batch runs in a
worker thread while the main thread routes the current one (``one_ahead``): the scan takes about
the longer of DuckDB's and Python's time, not their sum. At most one batch is ahead, and both
count in the batches' size (``MemoryBudget.batch_rows``). Routing stays on the main thread, in
input order, so the alerts are the same; the worker alone uses the engine's connection while
batches are read, the main thread a cursor of its own (``reads``). A batch is sized when its
statement starts, before the batch ahead of it is routed: the state that routing grows
(``StateGrowth``) shrinks the batch after it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import TypeVar

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from tokentrail.alerting.models import Alert
from tokentrail.engine.arrow_events import events_of
from tokentrail.engine.batch_digest import UnitDigest
from tokentrail.engine.batch_memory import MemoryBudget, StateGrowth
from tokentrail.engine.batch_parts import LINE_COLUMN, PARTS_INPUT, TYPED_INPUT, TypedPlan, merge_input
from tokentrail.engine.batch_schema import (
    dataset_schemas,
    duckdb_type,
    names_clash,
    padded,
    padded_sql,
    quoted,
)
from tokentrail.engine.dedup import SeenEvents
from tokentrail.errors import LogParseError
from tokentrail.sinks.parquet_dataset import LOG_TYPE_COLUMN, PARTITION_COLUMNS
from tokentrail.sources.files import LogReader

# Most rows per typed (Parquet) query: each execution re-binds the query to its batch (about
# 0.2 CPU-seconds for the bundled pack), so batches are larger; about 1 KB of Arrow per Okta row.
# The memory budget takes fewer when a row is wide or the limit tight (``engine/batch_memory.py``).
TYPED_BATCH_ROWS = 250_000
READ_ROWS = 16_384  # rows per Arrow batch read from Parquet, gathered into each query's batch
TYPED_RESULT = "typed_result"  # a typed query's result, asked which rows Python reads whole
# The Parquet file a typed statement reads itself (a view, replaced per file).
DIRECT_INPUT = "__tt_file"
DIRECT_PARQUET = True  # read plain files in the statement (``ParquetScan._scan_direct``); else as Arrow
# The least bytes a value read takes in flight, whatever its Parquet size: a dictionary-encoded
# text column is a few bits a row in the file, and a full text entry (16 bytes in DuckDB) in a batch.
VALUE_BYTES = 16
ROW_NUMBER_BYTES = 8  # each batch row's number beside its columns
# What reading a damaged file past its footer raises (DuckDB's reader, pyarrow's for ``as_json``),
# and among them what says a statement of ours is wrong, never the file.
READ_ERRORS = (duckdb.Error, pa.ArrowException, OSError)
STATEMENT_ERRORS = (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException,
                    duckdb.OutOfMemoryException)
OVERLAP = True  # the next batch's statement runs in a worker thread while this one is routed

Done = TypeVar("Done")

# The typed query's result over a batch (``BatchEngine._run_typed``), and the router of a
# result with its batch (``BatchEngine._route_typed``: result, batch, digests, first row, source, reader).
RunTyped = Callable[[TypedPlan, pa.Table], pa.Table]
RouteTyped = Callable[[pa.Table, pa.Table, Mapping[int, UnitDigest], int, str, LogReader], list[Alert]]


@dataclass(frozen=True, slots=True)
class DirectRead:
    """How a file is read by the statements themselves (``ParquetScan.direct_read``): the
    prepared statements, the file's columns they read (``own``) and those columns as planned
    (``read``, the types the rows the router reads are padded to)."""

    statements: tuple[str, ...]
    own: tuple[str, ...]
    read: pa.Schema


@dataclass(frozen=True, slots=True)
class Footer:
    """What a Parquet file's footer says that a scan needs: its event columns as DuckDB reads
    them (our dataset writer's partition columns left out) and, per row group, its rows and the
    uncompressed bytes and values of each top-level column (all its leaves)."""

    schema: pa.Schema
    rows: tuple[int, ...]
    sizes: tuple[Mapping[str, tuple[int, int]], ...]  # per row group: column -> (bytes, values)

    def row_bytes(self, columns: Iterable[str]) -> float:
        """The most bytes a row of these columns takes in flight in any row group, with its
        row number: each value at least ``VALUE_BYTES``."""
        names = list(columns)
        widest = 0.0
        for rows, sizes in zip(self.rows, self.sizes, strict=True):
            if rows:
                taken = sum(max(sizes[c][0], VALUE_BYTES * sizes[c][1]) for c in names if c in sizes)
                widest = max(widest, taken / rows)
        return widest + ROW_NUMBER_BYTES


def read_footer(con: duckdb.DuckDBPyConnection, path: str | Path) -> Footer:
    """The footer of the Parquet file at ``path`` (raises ``duckdb.Error`` when it cannot be read)."""
    cursor = con.cursor()  # a cursor of its own: the matching statements may run on ``con``
    try:
        schema = cursor.sql("SELECT * FROM read_parquet($path)", params={"path": str(path)}).limit(0) \
            .to_arrow_table().schema
        leaves = cursor.execute("SELECT row_group_id, row_group_num_rows, path_in_schema, total_uncompressed_size,"
                                " num_values FROM parquet_metadata(?) ORDER BY row_group_id", [str(path)]).fetchall()
    finally:
        cursor.close()
    rows: dict[int, int] = {}
    sizes: dict[int, dict[str, tuple[int, int]]] = {}
    for group, count, leaf, size, values in leaves:
        rows[group] = count
        top = leaf.split(", ")[0]  # DuckDB names a nested leaf by its path, joined with ", "
        was = sizes.setdefault(group, {}).get(top, (0, 0))
        sizes[group][top] = (was[0] + (size or 0), was[1] + (values or 0))
    groups = sorted(rows)
    return Footer(pa.schema([f for f in schema if f.name not in PARTITION_COLUMNS]),
                  tuple(rows[g] for g in groups), tuple(sizes.get(g, {}) for g in groups))


class ParquetScan:
    """The Parquet files of one batch engine's scans: their footers and planned schemas, the
    direct statements made per plan and file schema, and the scan of each file."""

    def __init__(self, con: duckdb.DuckDBPyConnection, budget: MemoryBudget, growth: StateGrowth, *,
                 statement: Callable[[pa.Schema], TypedPlan], run_typed: RunTyped, route: RouteTyped,
                 texts: Mapping[str, str], codes: int, whole_types: Iterable[str],
                 seen: SeenEvents | None) -> None:
        self.con = con
        # The main thread's queries while a batch's statement runs on ``con`` in the worker.
        self.reads = con.cursor()
        self.budget = budget
        self.growth = growth
        self.statement = statement  # the prepared statements of a schema
        self.run_typed = run_typed
        self.route = route
        self.texts = texts  # the typed statements' SQL, by prepared name
        self.codes = codes  # codes per row at most: the units of the log type with the most
        self.whole_types = sql_strings(whole_types)  # log types whose rows Python reads whole
        self.seen = seen
        self.duckdb_limit = budget.duckdb
        self.footers: dict[str, Footer | LogParseError] = {}  # by path
        self.planned: dict[str, pa.Schema] = {}  # a file's dataset schema, by path
        self.direct: dict[tuple[str, str], tuple[str, ...]] = {}  # direct statements, by plan and file schema
        self.clashing: dict[str, bool] = {}  # whether a file holds names DuckDB cannot tell apart, by path
        self.rows_routed = 0  # rows of the file being scanned routed so far (``scan``)
        con.execute("LOAD parquet")  # its settings exist once it is loaded
        con.execute("SET parquet_metadata_cache = true")

    def plan_datasets(self, paths: Sequence[str | Path]) -> None:
        """Read each file's footer, and plan each file as the merged schema of the files of its
        log type's partition (``tt_log_type=…``, one group for files outside our dataset
        layout): one log type's plan would only grow with another's fields. A file that cannot
        be read is left out (its scan reports it)."""
        self.footers = {}  # read again by each scan: a file may have changed since the last
        self.clashing = {}
        groups: dict[str, dict[str, pa.Schema]] = {}
        for path in paths:
            footer = self._footer(path)
            if isinstance(footer, LogParseError) or self.clashes(path):
                continue
            partition = next((part for part in Path(path).parts if part.startswith(LOG_TYPE_COLUMN + "=")), "")
            groups.setdefault(partition, {})[str(path)] = footer.schema
        self.planned = {path: planned for found in groups.values()
                        for path, planned in zip(found, dataset_schemas(found.values()), strict=True)}

    def _footer(self, path: str | Path) -> Footer | LogParseError:
        """The file's footer, read on first asking; the error to report when it cannot be read."""
        found = self.footers.get(str(path))
        if found is None:
            try:
                found = read_footer(self.con, path)
            except duckdb.Error as exc:
                found = LogParseError(f"cannot read Parquet: {str(exc).splitlines()[0]}", file=str(path))
            self.footers[str(path)] = found
        return found

    def clashes(self, path: str | Path) -> bool:
        """Whether the file holds sibling names that differ only in case (``names_clash``), read
        from its footer by pyarrow on first asking. A file pyarrow cannot read is left to
        DuckDB's reading, which reports it."""
        found = self.clashing.get(str(path))
        if found is None:
            try:
                found = names_clash(pq.read_schema(path))
            except (OSError, pa.ArrowException):
                found = False
            self.clashing[str(path)] = found
        return found

    def opened(self, reader: LogReader, path: str | Path) -> Footer | None:
        """The file's footer, counted as a file read; None when it cannot be read (reported as
        the readers report a file)."""
        footer = self._footer(path)
        if isinstance(footer, LogParseError):
            reader.report(footer)
            return None
        reader.stats.files += 1
        return footer

    def scan(self, reader: LogReader, path: str | Path) -> list[Alert]:
        """A Parquet file matched over its own typed columns, batch by batch; only the columns
        the plan reads are read for every row, the rows Python reads whole get their other
        columns from a second read of those rows alone (``_with_whole_rows``). A file damaged
        past its footer ends where the damage is read (``broke_off``): the batches before it
        are matched and their alerts kept."""
        threads = int(self.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        share = CoreShare(self.con, threads, max(1, min(threads, (os.cpu_count() or 1) - 1)) if OVERLAP else threads)
        alerts: list[Alert] = []
        self.rows_routed = 0
        try:
            self._scan(reader, path, share, alerts)
        except READ_ERRORS as exc:
            broke_off(reader, path, self.rows_routed, exc)
        finally:
            share.restore()
        return alerts

    def _scan(self, reader: LogReader, path: str | Path, share: CoreShare, alerts: list[Alert]) -> None:
        """``scan``, DuckDB's threads shared with the routing by ``share``, the alerts added to
        ``alerts`` batch by batch and the rows routed counted in ``rows_routed`` (what a read
        that breaks off keeps and says)."""
        footer = self.opened(reader, path)
        if footer is None:
            return
        schema = footer.schema
        # Planned as its dataset's schema (``engine/batch_schema.py``), each batch padded to it.
        planned = self.planned.get(str(path), schema)
        plan = self.statement(planned)
        if DIRECT_PARQUET and reads_direct(schema, planned, plan):
            self._scan_direct(reader, path, footer, planned, plan, share, alerts)
            return
        read = schema.names
        if plan.columns is not None:
            read = [c for c in schema.names if c in plan.columns]
            planned = pa.schema([planned.field(c) for c in plan.columns])
        batches = self.select(path, read).to_arrow_reader(READ_ROWS)

        def matched() -> Iterator[Callable[[], tuple[pa.Table, pa.Table]]]:
            for got in gathered(batches, self._batch_rows()):
                table = padded(got, planned)
                numbered = table.append_column(LINE_COLUMN, pa.array(range(table.num_rows), pa.int64()))
                yield partial(share.run, partial(self._matched, plan, table, numbered))

        source = str(path)
        first = 1
        with closing(one_ahead(matched())) as results:
            for table, result in results:
                routing = perf_counter()
                rows_in = table.num_rows
                if plan.columns is not None:
                    table = self._with_whole_rows(result, table, schema, path, first)
                alerts.extend(self.route(result, table, plan.digests, first, source, reader))
                self.growth.after_batch()
                first += rows_in
                self.rows_routed = first - 1
                share.routed(perf_counter() - routing)

    def _matched(self, plan: TypedPlan, table: pa.Table, numbered: pa.Table) -> tuple[pa.Table, pa.Table]:
        """An Arrow batch (``table``; ``numbered``: with its row numbers) and its typed result."""
        return table, self._run_in_budget(partial(self.run_typed, plan, numbered))

    def _run_in_budget(self, run: Callable[[], pa.Table]) -> pa.Table:
        """``run()`` (a typed query's result) within the memory budget. A statement may need
        more than DuckDB's share whatever the batch's rows (a large rule set's expressions, the
        Parquet reader's row group beside it): DuckDB's limit then grows, once, to the most the
        budget allows it, and the query runs again (it has no effects; the scan's end says if
        the process passed the limit)."""
        try:
            return run()
        except duckdb.OutOfMemoryException:
            if self.duckdb_limit >= self.budget.duckdb_most:
                raise
        self.duckdb_limit = self.budget.duckdb_most
        self.con.execute(f"SET memory_limit = '{self.duckdb_limit}B'")
        return run()

    def _scan_direct(self, reader: LogReader, path: str | Path, footer: Footer, planned: pa.Schema,
                     plan: TypedPlan, share: CoreShare, alerts: list[Alert]) -> None:
        """``scan`` with the statement reading the file (``footer.schema``) itself, padded to its
        plan's schema (``planned``) in SQL, a range of row numbers per batch (cut at row groups
        where they fit, so that none is decoded twice, and sized by the footer's column sizes);
        the rows the router reads (``_rows_read``, padded as the Arrow batches are) are the
        only ones turned into Arrow."""
        direct = self.direct_read(path, footer, planned, plan)

        def matched() -> Iterator[Callable[[], tuple[int, int, pa.Table]]]:
            for start, stop in self.row_ranges(footer, direct.own):
                yield partial(share.run, partial(self._matched_rows, plan, direct.statements, start, stop))

        source = str(path)
        # Closed on the way out, so a batch still running ahead ends before the next file's.
        with closing(one_ahead(matched())) as results:
            for start, stop, result in results:
                routing = perf_counter()
                table = self.router_rows(result, footer, path, start, stop, direct)
                alerts.extend(self.route(result, table, plan.digests, start + 1, source, reader))
                self.growth.after_batch()
                self.rows_routed = stop
                share.routed(perf_counter() - routing)

    def direct_read(self, path: str | Path, footer: Footer, planned: pa.Schema, plan: TypedPlan) -> DirectRead:
        """The direct read of ``path`` (its footer read, planned as ``planned``): the view its
        statements read (``DIRECT_INPUT``, the file with its row numbers) made, and the statements."""
        schema = footer.schema
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {DIRECT_INPUT} AS SELECT * FROM read_parquet("
                         f"'{str(path).replace(chr(39), chr(39) * 2)}', file_row_number = true)")
        return DirectRead(self._direct_statements(plan, schema, planned),
                          tuple(c for c in schema.names if c in (plan.columns or ())),
                          pa.schema([planned.field(c) for c in plan.columns or ()]))

    def row_ranges(self, footer: Footer, own: Sequence[str]) -> Iterator[tuple[int, int]]:
        """The file's batches as row ranges ``[start, stop)`` (0-based): cut at row groups where
        they fit, so that none is decoded twice, each as many rows of the columns ``own`` as the
        memory budget gives when it is asked for (the state routing grows shrinks later ones)."""
        width = footer.row_bytes(own)
        groups = np.cumsum([0, *footer.rows])
        start, total = 0, int(groups[-1])
        while start < total:
            most = self._rows_fitting(width)
            ends = groups[(groups > start) & (groups <= start + most)]
            stop = int(ends[-1]) if len(ends) else min(start + most, total)
            yield start, stop
            start = stop

    def router_rows(self, result: pa.Table, footer: Footer, path: str | Path, start: int, stop: int,
                    direct: DirectRead) -> pa.Table:
        """The rows ``[start, stop)`` the router reads, for the batch's typed ``result``
        (``_rows_read``, padded as the Arrow batches are); NULL elsewhere."""
        positions = self._rows_wanted(result, every=True)
        if not positions:  # the router reads no row: the batch's length, no column (no buffer either)
            return pa.table({"__tt_none": pa.nulls(stop - start)})
        table = self._rows_read(positions, footer.schema, path, start + 1, stop - start)
        return overlaid(table, padded(table.select(list(direct.own)), direct.read))

    def _matched_rows(self, plan: TypedPlan, statements: Sequence[str], start: int,
                      stop: int) -> tuple[int, int, pa.Table]:
        """The file's rows ``[start, stop)`` and their typed result (``_run_direct``)."""
        return start, stop, self._run_in_budget(partial(self._run_direct, plan, statements, start, stop))

    def _run_direct(self, plan: TypedPlan, statements: Sequence[str], start: int, stop: int) -> pa.Table:
        """The typed query's result of the direct ``statements`` (``_direct_statements``) over
        the file's rows ``[start, stop)`` (0-based): the one statement's result, or its parts' merged."""
        con = self.con
        results = [con.sql(f"EXECUTE {name}({start}, {stop - 1})").to_arrow_table() for name in statements]
        if plan.merge is None:
            return results[0]
        kept = results.pop()
        con.register(PARTS_INPUT, merge_input(kept, (LINE_COLUMN, *plan.carried), results))
        try:
            return con.sql(f"EXECUTE {plan.merge}").to_arrow_table()
        finally:
            con.unregister(PARTS_INPUT)

    def _direct_statements(self, plan: TypedPlan, schema: pa.Schema, planned: pa.Schema) -> tuple[str, ...]:
        """The prepared names of ``plan``'s statements reading ``DIRECT_INPUT`` (a file of
        ``schema``, each column padded to ``planned``; its row numbers from the first and last
        rows, its parameters) in place of an Arrow batch; for a plan in parts, last, one giving
        the merge the batch's row numbers and carried columns."""
        key = (plan.statements[0], schema.to_string())
        names = self.direct.get(key)
        if names is None:
            columns = ", ".join(
                (padded_sql(quoted(c), schema.field(c).type, planned.field(c).type) if c in schema.names
                 else f"CAST(NULL AS {duckdb_type(planned.field(c).type)})") + f" AS {quoted(c)}"
                for c in plan.columns or ())
            rows = (f"SELECT {columns}, CAST(file_row_number - $1 AS BIGINT) AS {LINE_COLUMN} FROM {DIRECT_INPUT}"
                    " WHERE file_row_number BETWEEN $1 AND $2")
            # A CTE of the Arrow batch's name: each statement reads it as it would read the batch.
            texts = [self.texts[name].lstrip().removeprefix("WITH ") for name in plan.statements]
            if plan.merge is not None:
                kept = ", ".join(quoted(c) for c in (LINE_COLUMN, *plan.carried))
                texts.append(f"kept AS (SELECT {kept} FROM {TYPED_INPUT}) SELECT * FROM kept ORDER BY {LINE_COLUMN}")
            names = self.direct[key] = tuple(f"{plan.statements[0]}_direct_{len(self.direct)}_{k}"
                                             for k in range(len(texts)))
            for name, text in zip(names, texts, strict=True):
                self.con.execute(f"PREPARE {name} AS WITH {TYPED_INPUT} AS ({rows}), {text}")
        return names

    def _rows_fitting(self, row_bytes: float) -> int:
        """How many rows of ``row_bytes`` a typed query's batch holds: the memory budget's count,
        one code per unit of the log type with the most, less the state the scan grew so far
        (``StateGrowth``; at least the duplicate filter's count of its keys)."""
        held = max(self.growth.grown, 0 if self.seen is None else self.seen.nbytes)
        return self.budget.batch_rows(row_bytes, self.codes, TYPED_BATCH_ROWS, held, 2 if OVERLAP else 1)

    def _batch_rows(self) -> Callable[[pa.RecordBatch], int]:
        """How many rows an Arrow-read batch holds, given the batches read so far: ``_rows_fitting``
        the widest row seen (its Arrow bytes and row number)."""
        widest = 0.0

        def rows_of(batch: pa.RecordBatch) -> int:
            nonlocal widest
            if batch.num_rows:
                widest = max(widest, batch.nbytes / batch.num_rows + ROW_NUMBER_BYTES)
            return self._rows_fitting(widest)

        return rows_of

    def _with_whole_rows(self, result: pa.Table, table: pa.Table, schema: pa.Schema, path: str | Path,
                         first: int) -> pa.Table:
        """A batch read in some columns (``table``, its first row the file's row ``first``, from
        1) with every column of ``schema`` at the rows the router reads whole (of no log type
        SQL knows, of a log type with Python rules, or one SQL was unsure of); NULL in the
        columns added elsewhere. The batch itself when there are none."""
        positions = self._rows_wanted(result, every=False)
        if not positions:
            return table
        return overlaid(self._rows_read(positions, schema, path, first, table.num_rows), table)

    def _rows_wanted(self, result: pa.Table, *, every: bool) -> list[int]:
        """The positions, ascending, of the rows the router turns into events: those it reads
        whole (see ``_with_whole_rows``), or with ``every`` also those it reads in their
        digests' fields (``BatchEngine._rows_as_events``)."""
        whole = "" if every else (f" AND (lt IS NULL OR h IS NULL OR lt IN ({self.whole_types})"
                                  " OR list_contains(h, -1))")
        reads = self.reads
        reads.register(TYPED_RESULT, result)
        try:
            return [r[0] for r in reads.execute(
                f"SELECT line FROM {TYPED_RESULT} WHERE line IS NOT NULL AND u IS NULL{whole} ORDER BY line").fetchall()]
        finally:
            reads.unregister(TYPED_RESULT)

    def _rows_read(self, positions: list[int], schema: pa.Schema, path: str | Path, first: int, rows: int) -> pa.Table:
        """Every column of ``schema`` at ``positions`` (some, ascending) of a batch of ``rows``
        rows (its first row the file's row ``first``, from 1), read from the file; NULL at the
        other rows."""
        start = first - 1
        wanted = pa.table({"n": pa.array([start + p for p in positions], pa.int64())})
        reads = self.reads
        reads.register("whole_rows", wanted)
        names = ", ".join(quoted(n) for n in schema.names)
        try:
            # The row range first: DuckDB skips the row groups outside it.
            whole = reads.sql(f"SELECT {names} FROM read_parquet($path, file_row_number = true) WHERE file_row_number"
                              f" BETWEEN {start + positions[0]} AND {start + positions[-1]}"
                              " AND file_row_number IN (SELECT n FROM whole_rows) ORDER BY file_row_number",
                              params={"path": str(path)}).to_arrow_table()
        finally:
            reads.unregister("whole_rows")
        at: list[int | None] = [None] * rows
        for j, p in enumerate(positions):
            at[p] = j
        return whole.take(pa.array(at, pa.int64()))

    def select(self, path: str | Path, columns: Sequence[str]) -> duckdb.DuckDBPyRelation:
        """These columns of a Parquet file."""
        names = ", ".join(quoted(c) for c in columns) or "NULL AS __tt_none"
        return self.con.cursor().sql(f"SELECT {names} FROM read_parquet($path)", params={"path": str(path)})

    def batches(self, reader: LogReader, path: str | Path, rows: int) -> pa.RecordBatchReader | None:
        """A Parquet file's event columns, as Arrow batches of at most ``rows`` rows; None when
        it cannot be read (reported as the readers report a file)."""
        footer = self.opened(reader, path)
        return None if footer is None else self.select(path, footer.schema.names).to_arrow_reader(rows)

    def as_json(self, reader: LogReader, path: str | Path, rows: int) -> Iterable[tuple[list[int], list[bytes]]]:
        """A Parquet file's rows as JSON text batches of at most ``rows`` rows (row numbers for
        lines), for an engine that matches JSON text (Spark), and for a file whose names clash
        (read by pyarrow, its names as written). A damaged file ends where its damage is read
        (``broke_off``; DuckDB's reader meets it already when it starts)."""
        row = 0
        try:
            for record_batch in self._event_batches(reader, path, rows):
                events = events_of(pa.Table.from_batches([record_batch]))
                yield list(range(row + 1, row + 1 + len(events))), [orjson.dumps(e) for e in events]
                row += len(events)
        except READ_ERRORS as exc:
            broke_off(reader, path, row, exc)

    def _event_batches(self, reader: LogReader, path: str | Path, rows: int) -> Iterable[pa.RecordBatch]:
        """``as_json``'s Arrow batches: pyarrow's read of a file whose names clash, else DuckDB's
        (``batches``); none when the footer cannot be read (reported)."""
        if not self.clashes(path):
            return self.batches(reader, path, rows) or ()
        if self.opened(reader, path) is None:
            return ()
        file = pq.ParquetFile(path)
        return file.iter_batches(batch_size=rows, columns=[n for n in file.schema_arrow.names
                                                           if n not in PARTITION_COLUMNS])


class CoreShare:
    """DuckDB's threads while a file's statements run beside its routing (``OVERLAP``): all of
    them while routing a batch takes less than half a statement's time (the scan waits for DuckDB:
    a pack that matches little), ``fewer`` otherwise (the scan waits for Python, or both: on two
    cores, DuckDB's two threads beside a busy router took more CPU time and no less wall time
    than one, docs/benchmarks.md). The first statement has all: nothing is routed beside it. The
    threads change only between statements, in the worker, which alone uses the connection
    while the file is read; they do not change what a statement gives."""

    def __init__(self, con: duckdb.DuckDBPyConnection, threads: int, fewer: int,
                 clock: Callable[[], float] = perf_counter) -> None:
        self.con, self.threads, self.fewer, self.clock = con, threads, fewer, clock
        self.wanted = self.current = threads
        self.statement_seconds = 0.0  # the last statement's wall time

    def run(self, job: Callable[[], Done]) -> Done:
        """``job()`` (a statement) with the threads the last routing asked for, timed."""
        wanted = self.wanted  # read once: the main thread may change it meanwhile
        if wanted != self.current:
            self.con.execute(f"SET threads = {wanted}")
            self.current = wanted
        started = self.clock()
        try:
            return job()
        finally:
            self.statement_seconds = self.clock() - started

    def routed(self, seconds: float) -> None:
        """A batch took ``seconds`` to route: the next statement's threads."""
        # Every core only when DuckDB is clearly what the scan waits for: near a balance, a
        # second DuckDB thread beside the router costs CPU time and gains no wall time.
        self.wanted = self.threads if seconds < self.statement_seconds / 2 else self.fewer

    def restore(self) -> None:
        """The threads as they were before the scan (the worker has finished)."""
        if self.current != self.threads:
            self.con.execute(f"SET threads = {self.threads}")
            self.current = self.threads


def broke_off(reader: LogReader, path: str | Path, rows: int, exc: Exception) -> None:
    """A Parquet file whose read failed past its footer (a damaged page), reported as the
    readers report a compressed file cut short: one error naming the file and the rows read
    before it. DuckDB's errors for such pages are of several classes (its base class for the
    Thrift ones), so each is taken but those that say the statement itself is wrong."""
    if isinstance(exc, STATEMENT_ERRORS):
        raise exc
    lines = str(exc).strip().splitlines()
    why = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    reader.report(LogParseError(f"unreadable after {rows} rows: {why}", file=str(path)))


def one_ahead(jobs: Iterator[Callable[[], Done]]) -> Iterator[Done]:
    """The result of each job in order; with ``OVERLAP``, the next job (taken from ``jobs`` as
    this result is handed over) runs in a worker thread while the caller uses this one."""
    if not OVERLAP:
        for job in jobs:
            yield job()
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokentrail-duckdb") as worker:
        job = next(jobs, None)
        pending: Future[Done] | None = None if job is None else worker.submit(job)
        while pending is not None:
            done = pending.result()
            job = next(jobs, None)
            pending = None if job is None else worker.submit(job)
            yield done


def gathered(batches: pa.RecordBatchReader, rows_of: Callable[[pa.RecordBatch], int]) -> Iterable[pa.Table]:
    """The reader's batches joined, and cut where needed, into tables of ``rows_of(batch)`` rows
    each (asked again as each batch arrives; the last table fewer). DuckDB's reader gives at most
    a Parquet file's row group per batch, often fewer rows than a query should read."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        wanted = rows_of(batch)
        start = 0
        while start < batch.num_rows:
            taken = min(batch.num_rows - start, max(wanted - count, 0))
            if taken:
                held.append(batch.slice(start, taken))
                count += taken
                start += taken
            if count >= wanted:
                yield pa.Table.from_batches(held)
                held, count = [], 0
    if held:
        yield pa.Table.from_batches(held)


def reads_direct(schema: pa.Schema, planned: pa.Schema, plan: TypedPlan) -> bool:
    """Whether a file's statements may read it themselves (``ParquetScan._scan_direct``): they
    read some columns, every one (as ``planned``, which covers the file's ``schema``) of a
    type DuckDB reads as it reads the same column through Arrow."""
    return (bool(plan.columns) and "file_row_number" not in schema.names
            and all(_direct_type(planned.field(c).type) for c in plan.columns or ()))


def _direct_type(kind: pa.DataType) -> bool:
    """Text, integers, floats, booleans, and structs and lists of those."""
    if pa.types.is_struct(kind):
        return all(_direct_type(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind):
        return _direct_type(kind.value_type)
    return (pa.types.is_string(kind) or pa.types.is_boolean(kind) or pa.types.is_integer(kind)
            or pa.types.is_floating(kind) or pa.types.is_null(kind))


def overlaid(rows: pa.Table, table: pa.Table) -> pa.Table:
    """``rows`` with each column of ``table`` in place of its own (appended where it has none:
    a column of its dataset this file lacks, all NULL: missing)."""
    for name in table.column_names:
        at_column = rows.schema.get_field_index(name)
        if at_column < 0:
            rows = rows.append_column(name, table.column(name))
        else:
            rows = rows.set_column(at_column, name, table.column(name))
    return rows


def sql_strings(names: Iterable[str]) -> str:
    """Log type names as the items of a SQL ``IN (...)`` list (one empty string when none)."""
    return ", ".join(f"'{name}'" for name in sorted(names)) or "''"

"""The batch engine: rules matched in DuckDB, alerts from the one alerting code.

Events are read as JSON text, one row per event (line number kept), and matched with DuckDB's
JSON functions, not through an inferred table schema: heterogeneous events keep every key
however late it first appears, and the IR's field routes (nested, literal dotted keys, lists)
stay visible. Plain JSON-lines files go in as their raw lines (the readers' line splitting,
limits and reports); every other input the readers know (compressed, CSV, JSON documents,
archives) goes in as each event re-serialised.

SQL decides, per event, its log type and each declarative unit's predicate, three-valued (see
``compile/sql.py``). Only events that matched, or that SQL was unsure of, come back to Python, in
input order; there the streaming engine's own code digests them and routes them to alerting
(``StreamingEngine.accept``), or, for an event SQL was unsure of (its log type, its JSON, or a
predicate), the streaming engine handles the whole event (``StreamingEngine.process``). Panther
Python rules run in Python too: every event of a log type that has Python rules is handed to
the streaming engine, which runs them. Alerts are therefore the streaming engine's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson
import pyarrow as pa
import sqlglot.expressions as sx

from tokentrail.alerting.delivery import AlertGate
from tokentrail.alerting.models import Alert, Match
from tokentrail.compile.sql import FieldTable, LeafTable, compile_sql, enable_arrow_lambdas, json_path
from tokentrail.engine import ScanResult
from tokentrail.engine.batch_input import PARQUET, inputs
from tokentrail.engine.dedup import DEFAULT_MEMORY_IDS, SeenEvents
from tokentrail.engine.plan import UNKNOWN, LogTypeIndex, Unit
from tokentrail.engine.session import scan_result, scan_session, unknown_keeper
from tokentrail.engine.stream import StreamingEngine
from tokentrail.errors import LogParseError
from tokentrail.rules.ir import All, Cmp, Const, Expr
from tokentrail.rules.loader import LoadResult
from tokentrail.rules.model import Rule
from tokentrail.schemas.registry import registry
from tokentrail.sources.files import LogReader, ReadLimits, splittable
from tokentrail.state import StateStore

BATCH_ROWS = 100_000  # events per DuckDB query: bounds memory, costs a query plan per batch
DEFAULT_MEMORY_LIMIT = "2GB"
# JSON that DuckDB's parser accepts and orjson (the streaming reader) rejects: NaN/Infinity,
# trailing commas, numbers past a double's range. A line that may hold any of it goes to Python.
_LENIENT = r"[:,\[][ \t\r\n]*-?(NaN|Infinity|[0-9.]+[eE][+-]?[0-9]{3}|[0-9]{300})|,[ \t\r\n]*[\]}]"


def unit_expr(unit: Unit, anchors: dict[int, tuple[str, list[str]]]) -> Expr:
    """The whole predicate of a declarative unit: its index anchor (if any) and what is left."""
    residual = unit.expr if unit.expr is not None else Const(False)
    anchor = anchors.get(id(unit))
    if anchor is None:
        return residual
    field, values = anchor
    return All((Cmp(field, "eq", tuple(sorted(values))), residual))


def _anchors(index: LogTypeIndex) -> dict[int, tuple[str, list[str]]]:
    out: dict[int, tuple[str, list[str]]] = {}
    for field, bucket in index.anchored.items():
        for value, units in bucket.items():
            for unit in units:
                out.setdefault(id(unit), (field, []))[1].append(value)
    return out


def detection_sql(fields: FieldTable) -> sx.Expression:
    """The log type of each event by the key sets the streaming detector tries first, in the
    same order; NULL when none holds (the streaming detector then decides)."""

    def present(key: str) -> sx.Expression:
        routes = [tuple(key.split("."))] + ([(key,)] if "." in key else [])
        paths = [json_path(parts) for parts in routes]
        if None in paths:
            return sx.null()
        return sx.or_(*(sx.not_(sx.Is(this=fields.type_of(p), expression=sx.null())) for p in paths))

    ifs = []
    for lt in registry().log_types:
        if lt.is_ecs or not lt.detect:
            continue
        cond = sx.or_(*(sx.and_(*(present(k) for k in keys)) for keys in lt.detect))
        ifs.append(sx.If(this=cond, true=sx.Literal.string(lt.name)))
    return sx.Case(ifs=ifs, default=sx.null())


class BatchEngine:
    """Runs a rule set over files with DuckDB; the alerts are the streaming engine's."""

    def __init__(self, rules: Sequence[Rule], *, state: StateStore | None = None,
                 on_match: Callable[[Match], None] | None = None, memory_limit: str = DEFAULT_MEMORY_LIMIT,
                 threads: int | None = None, strict: bool = False,
                 on_unknown: Callable[[Mapping[str, Any], str, int], None] | None = None,
                 seen: SeenEvents | None = None) -> None:
        self.stream = StreamingEngine(rules, state=state, on_match=on_match, strict_unknown=strict,
                                      on_unknown=on_unknown, seen=seen)
        self.units: list[Unit] = self.stream.plan.units
        self.python_types = {lt for lt, ix in self.stream.plan.indexes.items() if ix.python}
        self.sql = self._build_sql()
        self.con = duckdb.connect(config={"memory_limit": memory_limit,
                                          "threads": threads or min(2, os.cpu_count() or 1)})
        enable_arrow_lambdas(self.con)
        # Planned once: the query of a large rule set takes DuckDB a while to optimise.
        self.con.execute("CREATE TEMP TABLE batch (line BIGINT, j BLOB)")
        self.con.execute("PREPARE match_events AS " + self.sql)

    def _build_sql(self) -> str:
        """The query: per event, its log type and one code per unit of that log type (1 matched,
        0 not, -1 unsure), in the order of ``self.by_type[log type]``."""
        fields = FieldTable()
        leaves = LeafTable()
        branches = []
        self.by_type: dict[str, list[Unit]] = {}
        for lt, index in self.stream.plan.indexes.items():
            if lt == UNKNOWN:
                continue  # such events are never recognised in SQL
            anchors = _anchors(index)
            units = [u for u in self.units if u.log_type == lt and u.python is None]
            self.by_type[lt] = units
            codes = [sx.Coalesce(this=sx.Cast(this=compile_sql(unit_expr(u, anchors), fields, ci_fields=index.ci,
                                                                          leaves=leaves),
                                              to=sx.DataType.build("TINYINT")),
                                 expressions=[sx.Literal.number(-1)]) for u in units]
            if codes:
                branches.append(sx.If(this=sx.EQ(this=sx.column("lt"), expression=sx.Literal.string(lt)),
                                      true=sx.Array(expressions=codes)))
        top = sx.EQ(this=fields.type_of("$"), expression=sx.Literal.string("OBJECT"))
        detect = detection_sql(fields).sql("duckdb")
        codes_sql = sx.Case(ifs=branches, default=sx.null()).sql("duckdb") if branches else "NULL"
        (dotted, types), (texts, arrays) = fields.columns("v")
        python = ", ".join(f"'{lt}'" for lt in sorted(self.python_types)) or "''"
        leaf_cols = "".join(", " + c.sql("duckdb") for c in leaves.columns())
        return f"""
WITH s AS (SELECT line, try(decode(j)) AS v FROM batch),
r AS (SELECT line, v, {dotted.sql("duckdb")}, {types.sql("duckdb")} FROM s),
d AS MATERIALIZED (SELECT line, v, dotted, t, CASE WHEN {top.sql("duckdb")} AND NOT regexp_matches(v, '{_LENIENT}')
    THEN {detect} END AS lt FROM r),
f AS (SELECT line, lt, dotted, t, {texts.sql("duckdb")}, {arrays.sql("duckdb")} FROM d WHERE lt IS NOT NULL),
h AS (SELECT *, {fields.lowered_column().sql("duckdb")} FROM f),
g AS (SELECT line, lt{leaf_cols} FROM h),
c AS MATERIALIZED (SELECT line, lt, {codes_sql} AS h FROM g)
SELECT line, lt, h, 1 FROM c WHERE lt IN ({python}) OR list_contains(h, 1) OR list_contains(h, -1)
UNION ALL SELECT NULL, lt, NULL, count(*) FROM c
    WHERE NOT (lt IN ({python}) OR coalesce(list_contains(h, 1) OR list_contains(h, -1), FALSE)) GROUP BY lt
UNION ALL SELECT line, NULL, NULL, 1 FROM d WHERE lt IS NULL
"""


    # -- scanning ------------------------------------------------------------------------------
    def scan_paths(self, paths: Iterable[str | Path], reader: LogReader) -> list[Alert]:
        """Scan every file in ``paths`` (Parquet files too); the alerts of the whole input, windows
        closed."""
        alerts: list[Alert] = []
        for item in inputs(paths, reader):
            name = str(item)
            if name.endswith(PARQUET):
                batches = self._parquet(reader, item)
            elif name != "-" and splittable(item):
                batches = self._raw_lines(reader, item)
            else:
                batches = self._records(reader, item)
            for batch in batches:
                alerts.extend(self._run_batch(batch, name, reader))
        alerts.extend(self.stream.finish())
        return alerts

    def _parquet(self, reader: LogReader, path: str | Path) -> Iterable[tuple[list[int], list[bytes]]]:
        """A Parquet file's rows as events (row numbers for lines). A NULL cell is a missing
        field: Parquet gives every row every column, so NULL is how a row lacks one."""
        try:
            # A cursor of its own: the matching queries run on the main connection meanwhile.
            cursor = self.con.cursor()
            batches = cursor.sql("SELECT * FROM read_parquet($path)", params={"path": str(path)}).to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as exc:
            error = LogParseError(f"cannot read Parquet: {str(exc).splitlines()[0]}", file=str(path))
            if reader.strict:
                raise error from None
            reader.stats.errors.append(error)
            reader.stats.skipped += 1
            return
        reader.stats.files += 1
        row = 0
        for record_batch in batches:
            numbers = list(range(row + 1, row + 1 + record_batch.num_rows))
            row += record_batch.num_rows
            yield numbers, [orjson.dumps(_present(r), default=str) for r in record_batch.to_pylist()]

    def _raw_lines(self, reader: LogReader, path: str | Path) -> Iterable[tuple[list[int], list[bytes]]]:
        reader.stats.files += 1
        numbers: list[int] = []
        lines: list[bytes] = []
        for first, batch in reader.range_lines(path, 0, os.path.getsize(path)):
            for lineno, line in enumerate(batch, first):
                if line:
                    numbers.append(lineno)
                    lines.append(line)
            if len(lines) >= BATCH_ROWS:
                yield numbers, lines
                numbers, lines = [], []
        if lines:
            yield numbers, lines

    def _records(self, reader: LogReader, path: str | Path) -> Iterable[tuple[list[int], list[bytes]]]:
        numbers: list[int] = []
        lines: list[bytes] = []
        dumps = orjson.dumps
        for event, _source, lineno in reader.read_file(path):
            numbers.append(lineno)
            lines.append(dumps(event))
            if len(lines) >= BATCH_ROWS:
                yield numbers, lines
                numbers, lines = [], []
        if lines:
            yield numbers, lines

    def match_rows(self, table: pa.Table) -> list[tuple[Any, ...]]:
        """SQL's verdicts on a batch (``line``: position, ``j``: JSON bytes): ``(position, log type,
        codes, 1)`` for each event Python must see, ``(None, log type, None, count)`` for the rest
        of each log type, and ``(position, None, None, 1)`` for events SQL did not recognise.
        The Spark engine gives the same rows from Spark."""
        con = self.con
        con.execute("DELETE FROM batch")
        con.register("incoming", table)
        try:
            con.execute("INSERT INTO batch SELECT line, j FROM incoming")
        finally:
            con.unregister("incoming")
        return con.execute("EXECUTE match_events").fetchall()

    def _run_batch(self, batch: tuple[list[int], list[bytes]], source: str, reader: LogReader) -> list[Alert]:
        numbers, lines = batch
        table = pa.table({"line": pa.array(range(len(lines)), pa.int64()), "j": pa.array(lines, pa.binary())})
        rows = self.match_rows(table)
        stream, stats = self.stream, self.stream.stats
        indexes = stream.plan.indexes
        raw = source != "-" and splittable(source)
        alerts: list[Alert] = []
        for pos, lt, _codes, count in rows:
            if pos is None:  # events SQL found no match in, counted per log type
                stats.events += count
                if raw:
                    reader.stats.events += count
                if lt not in indexes:
                    stats.no_rules[lt] = stats.no_rules.get(lt, 0) + count
        loads = orjson.loads
        for pos, lt, codes, _count in sorted((r for r in rows if r[0] is not None), key=lambda r: r[0]):
            line, lineno = lines[pos], numbers[pos]
            try:
                event = loads(line)
            except orjson.JSONDecodeError as exc:
                reader.reject_line(line, source, lineno, exc)
                continue
            if event.__class__ is not dict:
                reader.reject_line(line, source, lineno, None)
                continue
            if raw:
                reader.stats.events += 1
            if lt is None or (codes is not None and -1 in codes):
                alerts.extend(stream.process(event, source, lineno))
                continue
            if stream.seen is not None and stream.seen.is_duplicate(event, lt):
                stats.duplicates += 1  # matched events only: SQL's non-matching rows are not keyed
                continue
            stats.events += 1
            hits = [u for u, code in zip(self.by_type.get(lt, ()), codes or (), strict=False) if code == 1]
            hits.sort(key=lambda u: u.index)
            alerts.extend(stream.accept(event, lt, hits or None, source, lineno))
        return alerts


def _present(value: Any) -> Any:
    """``value`` with every key holding None left out, at every depth."""
    if isinstance(value, dict):
        return {k: _present(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_present(v) for v in value]
    return value


def scan_batch(paths: Iterable[str | Path], rules: Sequence[Rule] | LoadResult, *, state: StateStore | None = None,
               on_match: Callable[[Match], None] | None = None, on_alert: Callable[[Alert], None] | None = None,
               strict: bool = False, limits: ReadLimits | None = None, memory_limit: str = DEFAULT_MEMORY_LIMIT,
               dead_letter: IO[bytes] | None = None, keep_duplicates: bool = False) -> ScanResult:
    """Scan log files with the DuckDB engine: the same ``ScanResult`` as ``api.scan`` gives.

    ``memory_limit`` bounds DuckDB's memory (a DuckDB size such as ``"2GB"``); ``dead_letter``
    keeps malformed lines and events of no known log type, ``on_alert``, ``state`` and
    ``keep_duplicates`` mean what they mean in ``api.scan`` — except that a duplicate is dropped
    only when it matched a rule (SQL does not key the events it finds no match in), so
    ``stats.events`` can count a duplicate that matched nothing.
    """
    load_errors: list[Any] = []
    if isinstance(rules, LoadResult):
        load_errors = list(rules.errors)
        rules = rules.rules
    kept: list[Alert] = []
    gate = AlertGate(on_alert or kept.append)
    reader = LogReader(strict=strict, dead_letter=dead_letter, limits=limits or ReadLimits())
    with scan_session(state, keep_duplicates, DEFAULT_MEMORY_IDS) as seen:
        engine = BatchEngine(rules, state=state, on_match=on_match, memory_limit=memory_limit, strict=strict,
                             on_unknown=unknown_keeper(dead_letter), seen=seen)
        gate(engine.scan_paths(paths, reader))
    return scan_result(kept, gate, engine.stream, reader, load_errors, rules)

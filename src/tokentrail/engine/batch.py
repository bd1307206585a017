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
Python rules run in Python too: a rule whose ``rule()`` lifted into the IR is decided in SQL
first (``engine/lifted.py``), and only the events it may match are handed to the streaming
engine, which runs it; for a rule that did not lift, every event of its log types is handed
over. Alerts are therefore the streaming engine's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as sx

from tokentrail import schemas
from tokentrail.alerting.delivery import AlertGate
from tokentrail.alerting.models import Alert, Match
from tokentrail.compile.fields import split_field
from tokentrail.compile.sql import FieldTable, LeafTable, compile_sql, enable_arrow_lambdas, json_path
from tokentrail.compile.sql_typed import TypedFieldTable, compile_typed, with_dotted
from tokentrail.engine import ScanResult
from tokentrail.engine.batch_input import PARQUET, inputs
from tokentrail.engine.dedup import DEFAULT_MEMORY_IDS, SeenEvents
from tokentrail.engine.lifted import LiftedStream, lifted_condition, sql_condition
from tokentrail.engine.plan import UNKNOWN, LogTypeIndex, Unit
from tokentrail.engine.session import scan_result, scan_session, unknown_keeper
from tokentrail.errors import LogParseError
from tokentrail.rules.ir import All, Cmp, Const, Expr
from tokentrail.rules.loader import LoadResult
from tokentrail.rules.model import Rule
from tokentrail.schemas.registry import registry
from tokentrail.sinks.parquet_dataset import PARTITION_COLUMNS
from tokentrail.sources.files import LogReader, ReadLimits, splittable
from tokentrail.state import StateStore

BATCH_ROWS = 100_000  # events per DuckDB query: bounds memory, costs a query plan per batch
TYPED_INPUT = "typed_input"  # the Arrow batch a typed query reads
LINE_COLUMN = "__tt_line"  # its row numbers
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


def unit_condition(unit: Unit, anchors: dict[int, tuple[str, list[str]]], ci: bool) -> tuple[Expr, bool]:
    """What SQL compiles for a unit of the query's codes, and with which key case: a declarative
    unit's predicate, or a lifted Python rule's condition made sound against its Python."""
    if unit.python is None:
        return unit_expr(unit, anchors), ci
    lifted = lifted_condition(unit)
    assert lifted is not None  # only such Python units are coded
    return sql_condition(lifted), True


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
                 seen: SeenEvents | None = None, lift_python: bool = True) -> None:
        self.stream = LiftedStream(rules, state=state, on_match=on_match, strict_unknown=strict,
                                   on_unknown=on_unknown, seen=seen)
        self.units: list[Unit] = self.stream.plan.units
        # The units SQL decides for each log type with rules, in the order of the query's codes:
        # the declarative ones, then the Python rules that lifted (``engine/lifted.py``), which
        # the streaming engine then runs only on the events SQL matched them on.
        decided = [u for u in self.units if lift_python and lifted_condition(u) is not None]
        self.stream.decided = frozenset(map(id, decided))
        self.by_type: dict[str, list[Unit]] = {
            lt: [u for u in self.units if u.log_type == lt and u.python is None]
            + [u for u in decided if u.log_type == lt]
            for lt in self.stream.plan.indexes if lt != UNKNOWN}
        # Log types with a Python rule SQL cannot decide: every event of them goes to Python.
        self.python_types = {lt for lt, ix in self.stream.plan.indexes.items()
                             if any(id(u) not in self.stream.decided for u in ix.python)}
        self.python_read_types = {lt for lt, ix in self.stream.plan.indexes.items() if ix.python}  # read whole
        self.con = duckdb.connect(config={"memory_limit": memory_limit,
                                          "threads": threads or min(2, os.cpu_count() or 1)})
        enable_arrow_lambdas(self.con)
        self._json_prepared = False
        self._typed: dict[str, str] = {}
        self._digest_cols: dict[tuple[str, str], list[str]] = {}

    def _codes(self, compile_unit: Callable[[Expr, bool], sx.Expression]) -> str:
        """Per event of a log type with rules, one code per unit of that log type (1 matched,
        0 not, -1 unsure), in the order of ``self.by_type[log type]``; NULL for other events."""
        branches = []
        for lt, units in self.by_type.items():  # events of no known log type are never recognised in SQL
            index = self.stream.plan.indexes[lt]
            anchors = _anchors(index)
            codes = [sx.Coalesce(this=sx.Cast(this=compile_unit(*unit_condition(u, anchors, index.ci)),
                                              to=sx.DataType.build("TINYINT")),
                                 expressions=[sx.Literal.number(-1)]) for u in units]
            if codes:
                branches.append(sx.If(this=sx.EQ(this=sx.column("lt"), expression=sx.Literal.string(lt)),
                                      true=sx.Array(expressions=codes)))
        return sx.Case(ifs=branches, default=sx.null()).sql("duckdb") if branches else "NULL"

    def _python_types_sql(self) -> str:
        return ", ".join(f"'{lt}'" for lt in sorted(self.python_types)) or "''"

    def _build_sql(self) -> str:
        """The query over events as JSON text (table ``batch``): per event, its log type and its
        units' codes (see ``_codes``); only the events Python must see come back."""
        fields = FieldTable()
        leaves = LeafTable()
        codes_sql = self._codes(lambda expr, ci: compile_sql(expr, fields, ci_fields=ci, leaves=leaves))
        top = sx.EQ(this=fields.type_of("$"), expression=sx.Literal.string("OBJECT"))
        detect = detection_sql(fields).sql("duckdb")
        (dotted, types), (texts, arrays) = fields.columns("v")
        python = self._python_types_sql()
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


    def _typed_sql(self, schema: pa.Schema, table: str) -> str:
        """The same query over typed columns (table ``table`` of ``schema``, plus the row number
        ``{LINE_COLUMN}``): the schema decides which fields exist, so no JSON is parsed."""
        fields = TypedFieldTable(schema)
        leaves = LeafTable()
        codes_sql = self._codes(lambda expr, ci: compile_typed(expr, fields, ci_fields=ci, leaves=leaves))
        detect = with_dotted(detection_sql(fields), fields.has_dotted_keys).sql("duckdb")
        leaf_cols = "".join(", " + with_dotted(c, fields.has_dotted_keys).sql("duckdb") for c in leaves.columns())
        python = self._python_types_sql()
        return f"""
WITH d AS MATERIALIZED (SELECT *, {detect} AS __tt_lt FROM {table}),
g AS (SELECT {LINE_COLUMN} AS line, __tt_lt AS lt{leaf_cols} FROM d WHERE __tt_lt IS NOT NULL),
c AS MATERIALIZED (SELECT line, lt, {codes_sql} AS h FROM g)
SELECT line, lt, h, 1 FROM c WHERE lt IN ({python}) OR list_contains(h, 1) OR list_contains(h, -1)
UNION ALL SELECT NULL, lt, NULL, count(*) FROM c
    WHERE NOT (lt IN ({python}) OR coalesce(list_contains(h, 1) OR list_contains(h, -1), FALSE)) GROUP BY lt
UNION ALL SELECT {LINE_COLUMN}, NULL, NULL, 1 FROM d WHERE __tt_lt IS NULL
"""

    # -- scanning ------------------------------------------------------------------------------
    def scan_paths(self, paths: Iterable[str | Path], reader: LogReader) -> list[Alert]:
        """Scan every file in ``paths`` (Parquet files too); the alerts of the whole input, windows
        closed."""
        alerts: list[Alert] = []
        for item in inputs(paths, reader):
            name = str(item)
            if name.endswith(PARQUET):
                alerts.extend(self._scan_parquet(reader, item))
                continue
            if name != "-" and splittable(item):
                batches = self._raw_lines(reader, item)
            else:
                batches = self._records(reader, item)
            for batch in batches:
                alerts.extend(self._run_batch(batch, name, reader))
        alerts.extend(self.stream.finish())
        return alerts

    def _scan_parquet(self, reader: LogReader, path: str | Path) -> list[Alert]:
        """A Parquet file matched over its own typed columns, batch by batch (row numbers for
        lines); only the rows Python must see are turned into events. A NULL cell is a missing
        field: Parquet gives every row every column, so NULL is how a row lacks one."""
        batches = self._open_parquet(reader, path)
        if batches is None:
            return []
        statement = self._typed_statement(batches.schema)
        source = str(path)
        alerts: list[Alert] = []
        first = 1
        for record_batch in batches:
            table = pa.Table.from_batches([record_batch])
            rows_in = table.num_rows
            self.con.register(TYPED_INPUT, table.append_column(LINE_COLUMN, pa.array(range(rows_in), pa.int64())))
            try:
                rows = self.con.execute(f"EXECUTE {statement}").fetchall()
            finally:
                self.con.unregister(TYPED_INPUT)

            def events(wanted: list[tuple], table=table, first=first):
                return zip(self._rows_as_events(table, wanted), (first + r[0] for r in wanted), strict=True)

            alerts.extend(self._route(rows, events, source, reader, counts_reads=False))
            first += rows_in
        return alerts

    def _open_parquet(self, reader: LogReader, path: str | Path) -> pa.RecordBatchReader | None:
        """A Parquet file's batches (without our dataset writer's partition columns), or None
        when it cannot be read (reported as the readers report a file)."""
        try:
            # A cursor of its own: the matching queries run on the main connection meanwhile.
            cursor = self.con.cursor()
            relation = cursor.sql("SELECT * FROM read_parquet($path)", params={"path": str(path)})
            # The partition columns our own dataset writer adds are no part of the events.
            ours = [c for c in relation.columns if c in PARTITION_COLUMNS]
            if ours:
                relation = relation.select(*(duckdb.ColumnExpression(c) for c in relation.columns if c not in ours))
            batches = relation.to_arrow_reader(BATCH_ROWS)
        except duckdb.Error as exc:
            error = LogParseError(f"cannot read Parquet: {str(exc).splitlines()[0]}", file=str(path))
            if reader.strict:
                raise error from None
            reader.stats.errors.append(error)
            reader.stats.skipped += 1
            return None
        reader.stats.files += 1
        return batches

    def _parquet_as_json(self, reader: LogReader, path: str | Path) -> Iterable[tuple[list[int], list[bytes]]]:
        """A Parquet file's rows as JSON text batches (row numbers for lines), for an engine
        that matches JSON text (Spark)."""
        batches = self._open_parquet(reader, path)
        if batches is None:
            return
        row = 0
        for record_batch in batches:
            events = _events_of(pa.Table.from_batches([record_batch]))
            yield list(range(row + 1, row + 1 + len(events))), [orjson.dumps(e) for e in events]
            row += len(events)

    def _rows_as_events(self, table: pa.Table, wanted: list[tuple]) -> list[Mapping[str, Any]]:
        """The events of the ``wanted`` query rows (position, log type, codes) of ``table``.

        A row that only feeds alerting (decided in SQL, no Python rule of its log type, no
        ``on_match`` to see the whole event) is read in the fields its digests read — the log
        type's time and id fields and every field its units' readers were built for — since
        the rest of a wide row would be converted for nothing."""
        whole = self.stream.on_match is not None
        projected: dict[str, list[int]] = {}
        full: list[int] = []
        for i, (_pos, lt, codes, _count) in enumerate(wanted):
            if whole or lt is None or lt in self.python_read_types or codes is None or -1 in codes:
                full.append(i)
            else:
                projected.setdefault(lt, []).append(i)
        out: list[Mapping[str, Any]] = [{}] * len(wanted)
        for lt, items in [(None, full), *projected.items()]:
            if not items:
                continue
            positions = pa.array([wanted[i][0] for i in items], pa.int64())
            if lt is None:
                events = _events_of(table.take(positions))
            else:
                columns, leaves = self._digest_fields(table.schema, lt)
                picked = table.select(list(dict.fromkeys(columns + [leaf[0] for leaf in leaves]))).take(positions)
                events = _events_of(picked.select(columns))
                _add_leaves(events, picked, leaves)
            for i, event in zip(items, events, strict=True):
                out[i] = event
        return out

    def _digest_fields(self, schema: pa.Schema, log_type: str) -> tuple[list[str], list[tuple[str, ...]]]:
        """What the digests of ``log_type``'s units may read: whole top-level columns (a field
        ending in an object or a list, or crossing a list; a literal dotted key; every column
        of a case-insensitive log type's spellings) and leaves reached through objects alone."""
        key = (schema.to_string(), log_type)
        found = self._digest_cols.get(key)
        if found is not None:
            return found
        info = schemas.log_type_info(log_type)
        fields = list(info.time_fields + info.id_fields) if info else []
        ci = False
        for unit in self.by_type.get(log_type, ()):
            ci = ci or unit.ci
            fields.extend(schemas.field_for(log_type, name, unit.dialect) for name in unit.readers)
        columns: set[str] = set()
        leaves: set[tuple[str, ...]] = set()
        for parts in (split_field(f) for f in fields):
            if not parts:
                continue
            head = parts[0]
            columns.update(n for n in schema.names if n.startswith(head + ".") or (ci and n.casefold() == head.casefold()))
            if head not in schema.names:
                continue
            kind = schema.field(head).type
            for part in parts[1:]:
                if not pa.types.is_struct(kind) or kind.get_field_index(part) < 0:
                    break
                kind = kind.field(part).type
            else:
                if len(parts) > 1 and not _nested(kind):
                    leaves.add(parts)
                    continue
            columns.add(head)
        # A leaf under a column read whole is in that column already.
        kept = sorted(leaf for leaf in leaves if leaf[0] not in columns)
        found = self._digest_cols[key] = ([n for n in schema.names if n in columns], kept)
        return found

    def _typed_statement(self, schema: pa.Schema) -> str:
        """The prepared matching query for inputs of ``schema`` (one per schema met)."""
        key = schema.to_string()
        name = self._typed.get(key)
        if name is None:
            name = self._typed[key] = f"match_typed_{len(self._typed)}"
            empty = pa.Table.from_batches([], schema=schema).append_column(LINE_COLUMN, pa.array([], pa.int64()))
            self.con.register(TYPED_INPUT, empty)
            try:
                self.con.execute(f"PREPARE {name} AS " + self._typed_sql(schema, TYPED_INPUT))
            finally:
                self.con.unregister(TYPED_INPUT)
        return name

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
        if not self._json_prepared:
            # Planned once, when JSON text first comes: the query of a large rule set takes
            # DuckDB a while to optimise (and a Parquet-only scan never needs it).
            con.execute("CREATE TEMP TABLE batch (line BIGINT, j BLOB)")
            con.execute("PREPARE match_events AS " + self._build_sql())
            self._json_prepared = True
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
        loads = orjson.loads

        def events(wanted: list[tuple]) -> Iterable[tuple[Mapping[str, Any] | None, int]]:
            for pos, *_ in wanted:
                line, lineno = lines[pos], numbers[pos]
                try:
                    event = loads(line)
                except orjson.JSONDecodeError as exc:
                    reader.reject_line(line, source, lineno, exc)
                    yield None, lineno
                    continue
                if event.__class__ is not dict:
                    reader.reject_line(line, source, lineno, None)
                    yield None, lineno
                    continue
                yield event, lineno

        return self._route(rows, events, source, reader, counts_reads=source != "-" and splittable(source))

    def _route(self, rows: list[tuple], events: Callable[[list[tuple]], Iterable[tuple[Mapping[str, Any] | None, int]]],
               source: str, reader: LogReader, *, counts_reads: bool) -> list[Alert]:
        """The query's rows to the streaming engine's code: counts for the events SQL found no
        match in, and for the rest, in input order, the events themselves (``events(rows)``
        gives each row's event, or None for a line the readers reject). ``counts_reads``: the events were
        never read by the readers (raw lines), so the read count is kept here."""
        stream, stats = self.stream, self.stream.stats
        indexes = stream.plan.indexes
        alerts: list[Alert] = []
        for pos, lt, _codes, count in rows:
            if pos is None:  # events SQL found no match in, counted per log type
                stats.events += count
                if counts_reads:
                    reader.stats.events += count
                if lt not in indexes:
                    stats.no_rules[lt] = stats.no_rules.get(lt, 0) + count
        wanted = sorted((r for r in rows if r[0] is not None), key=lambda r: r[0])
        for (_pos, lt, codes, _count), (event, lineno) in zip(wanted, events(wanted), strict=True):
            if event is None:
                continue
            if counts_reads:
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


def _events_of(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of ``table`` as events: NULL cells left out, at every depth; values of types
    JSON lacks (timestamps, decimals, bytes) as their text, as through JSON."""
    events: list[dict[str, Any]] = [{} for _ in range(table.num_rows)]
    for name, column in zip(table.column_names, table.columns, strict=True):
        nested = _nested(column.type)
        plain = _json_native(column.type)
        for event, value in zip(events, column.to_pylist(), strict=True):
            if value is None:
                continue
            if nested:
                value = _present(value)
            if not plain:
                value = orjson.loads(orjson.dumps(value, default=str))
            event[name] = value
    return events


def _add_leaves(events: list[dict[str, Any]], table: pa.Table, leaves: list[tuple[str, ...]]) -> None:
    """Put each leaf (a path through objects to a value) of ``table``'s rows into ``events``,
    building the objects on the way; a NULL leaf is a missing field."""
    for parts in leaves:
        column = table.column(parts[0])
        for part in parts[1:]:
            column = pc.struct_field(column, [column.type.get_field_index(part)])
        plain = _json_native(column.type)
        for event, value in zip(events, column.to_pylist(), strict=True):
            if value is None:
                continue
            if not plain:
                value = orjson.loads(orjson.dumps(value, default=str))
            node = event
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value


def _nested(kind: pa.DataType) -> bool:
    return pa.types.is_struct(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_map(kind)


def _json_native(kind: pa.DataType) -> bool:
    """Values of this type come out of Arrow as JSON would give them (text, integers, booleans,
    and structs and lists of those)."""
    if pa.types.is_struct(kind):
        return all(_json_native(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _json_native(kind.value_type)
    # Not floats: a NaN or an infinity is no JSON number, and through JSON it becomes null.
    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind)
            or pa.types.is_integer(kind) or pa.types.is_null(kind))


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

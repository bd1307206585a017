"""The batch engine: rules matched in DuckDB, alerts from the one alerting code.

Events are read as JSON text, one row per event (line number kept), and matched with DuckDB's
JSON functions, not through an inferred table schema: heterogeneous events keep every key
however late it first appears, and the IR's field routes (nested, literal dotted keys, lists)
stay visible. JSON-lines files, plain or compressed, go in as their raw lines (the readers' line
splitting, decompression, limits and reports: ``engine/batch_lines.py``) and first through a
cheaper triage (``engine/batch_json.py``): simdjson settles the events no rule can match by their
log type and anchor value, and the rest go whole to the streaming engine. A plain JSON-lines file
big enough for the streaming engine's worker processes goes to them instead (they do the same
work, file order kept: ``engine/batch_workers.py``). Every other input the readers know (CSV, JSON documents, archives) goes in as each event re-serialised, to the
JSON-text query below.

SQL decides, per event, its log type and each declarative unit's predicate, three-valued (see
``compile/sql.py``). Only events that matched, or that SQL was unsure of, come back to Python, in
input order; there the streaming engine's own code digests them and routes them to alerting
(``StreamingEngine.accept``), or, for an event SQL was unsure of (its log type, its JSON, or a
predicate), the streaming engine handles the whole event (``StreamingEngine.process``). Panther
Python rules run in Python too: a rule whose ``rule()`` lifted into the IR is decided in SQL
first (``engine/lifted.py``), and only the events it may match are handed to the streaming
engine, which runs it; for a rule that did not lift, every event of its log types is handed
over. Alerts are therefore the streaming engine's.

Parquet is matched over its typed columns, and a matched row whose units' digests are plain
field reads is not turned into an event at all: SQL selects what each digest reads, one row per
(event, matched unit), and Python assembles the streaming engine's ``Digest`` tuples from those
columns and routes them (``engine/batch_digest.py``, ``engine/batch_route.py``). The file is read
in the columns the query and the digests read, its footer once, its files planned as their
datasets' schemas, and the rows Python reads get their columns by a second read of those rows
(``engine/batch_parquet.py``). A large rule set's query is run in parts of bounded size and
merged (``engine/batch_parts.py``).
"""

from __future__ import annotations

import itertools
import os
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import IO, Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import sqlglot.expressions as sx

from tokentrail import schemas
from tokentrail.alerting.delivery import AlertGate
from tokentrail.alerting.models import Alert, Match
from tokentrail.compile.fields import split_field
from tokentrail.compile.sql import FieldTable, LeafTable, compile_sql, enable_arrow_lambdas, json_path
from tokentrail.compile.sql_fold import fold
from tokentrail.compile.sql_typed import TypedFieldTable, compile_typed, with_dotted
from tokentrail.engine import ScanResult, batch_parts
from tokentrail.engine.arrow_events import add_leaves, events_of, is_nested
from tokentrail.engine.batch_buckets import (
    BUCKET_COLUMN,
    TypedCodes,
    TypeLayout,
    bucket_field,
    bucket_sql,
    bucketed_codes,
    dense_layouts,
    dense_sql,
    zeros_sql,
)
from tokentrail.engine.batch_digest import (
    TypeDigest,
    UnitDigest,
    digest_columns,
    digest_condition,
    plan_type,
)
from tokentrail.engine.batch_guard import GuardedLeaves
from tokentrail.engine.batch_input import PARQUET, inputs
from tokentrail.engine.batch_json import JsonLinesTriage, parsed_events, run_lines
from tokentrail.engine.batch_lines import line_batches
from tokentrail.engine.batch_memory import MemoryBudget, StateGrowth, peak_rss
from tokentrail.engine.batch_parquet import ParquetScan, sql_strings
from tokentrail.engine.batch_parts import (
    LINE_COLUMN,
    PART_LOG_TYPE,
    PARTS_INPUT,
    TYPED_INPUT,
    Part,
    TypedPlan,
    codes_column,
    digests_column,
    merge_input,
    part_digests,
    said_column,
    unit_parts,
)
from tokentrail.engine.batch_route import (
    CODES,
    COUNT,
    LINE,
    LOG_TYPE,
    UNIT,
    DigestedBatch,
    DigestedRows,
    bulk_runs,
    repeated_events,
    repeats_one_by_one,
    rule_codes,
    run_log_types,
)
from tokentrail.engine.batch_schema import quoted
from tokentrail.engine.batch_workers import LineWorkers
from tokentrail.engine.dedup import DEFAULT_MEMORY_IDS, SeenEvents
from tokentrail.engine.gcpolicy import collector_paused
from tokentrail.engine.lifted import LiftedStream, lifted_condition, sql_condition
from tokentrail.engine.plan import UNKNOWN, LogTypeIndex, Unit
from tokentrail.engine.session import scan_result, scan_session, unknown_keeper
from tokentrail.rules.ir import All, Cmp, Const, Expr
from tokentrail.rules.loader import LoadResult
from tokentrail.rules.model import Rule
from tokentrail.schemas.registry import registry
from tokentrail.sources.files import LogReader, ReadLimits, raw_jsonl
from tokentrail.sources.held import HeldReject
from tokentrail.state import StateStore

BATCH_ROWS = 100_000  # events per DuckDB query: bounds memory, costs a query plan per batch
_DIGESTS_TYPE = "STRUCT(u INTEGER, xv VARCHAR[], ov VARCHAR)[]"  # a row's SQL digests (batch_digest)
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
                 seen: SeenEvents | None = None, lift_python: bool = True,
                 statement_units: int | None = None) -> None:
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
        self.budget = MemoryBudget.of(memory_limit)
        # DuckDB gets its share of the limit, spills past it to a directory of its own (made
        # only when it spills, removed when the connection closes), and hands freed memory back
        # soon: the rest of the limit is the process's.
        spill = Path(tempfile.gettempdir()) / f"tokentrail-duckdb-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.con = duckdb.connect(config={"memory_limit": f"{self.budget.duckdb}B", "temp_directory": str(spill),
                                          "allocator_flush_threshold": f"{self.budget.flush}B",
                                          "allocator_background_threads": True,
                                          "threads": threads or self.budget.threads(min(2, os.cpu_count() or 1))})
        self.growth = StateGrowth()
        enable_arrow_lambdas(self.con)
        self._json_prepared = False
        # Units per typed statement (``engine/batch_parts.py``).
        self.statement_units = statement_units or batch_parts.STATEMENT_UNITS
        self._typed: dict[str, TypedPlan] = {}
        self._digest_cols: dict[tuple[str, str], list[str]] = {}
        self._bulk: dict[int, tuple[np.ndarray, list[str]]] = {}  # by id() of a prepared statement's digests
        self._texts: dict[str, str] = {}  # the typed statements' SQL, by prepared name
        self._lines_triage: JsonLinesTriage | None = None
        self.parquet = ParquetScan(self.con, self.budget, self.growth, statement=self._typed_statement,
                                   run_typed=self._run_typed, route=self._route_typed, texts=self._texts,
                                   codes=max((len(units) for units in self.by_type.values()), default=0),
                                   whole_types=self.python_read_types, seen=self.stream.seen)

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

    def _typed_codes(self, fields: TypedFieldTable, leaves: GuardedLeaves, by_type: Mapping[str, Sequence[Unit]],
                     part: bool) -> TypedCodes:
        """``_codes`` over typed columns for the units of ``by_type`` (all, or a ``part``'s), each
        comparison a shared column (``leaves``). A log type whose rows hold one anchor value
        each gets sparse lists: per row the codes of its unanchored units and of the units
        anchored on its value alone (``engine/batch_buckets.py``), each residual read under
        its value's column. Any other log type's list has every unit's code, each anchored
        unit's residual tested only on the rows its anchor holds for: a ``CASE`` evaluates its
        branch on the rows it selects alone. A column only anchored residuals read is computed
        under their anchors (see ``engine/batch_guard.py``). A part gives an empty list for a
        log type whose units are all in other parts, so that the parts' lists join into the
        whole one."""
        branches = []
        picks: dict[str, sx.Expression] = {}
        layouts: dict[str, TypeLayout] = {}
        numbers = itertools.count(1)
        for lt, units in by_type.items():
            index = self.stream.plan.indexes[lt]
            anchors = _anchors(index)
            compiled = partial(compile_typed, fields=fields, ci_fields=index.ci, leaves=leaves)

            def condition(unit: Unit, guard: sx.Expression | None, index: LogTypeIndex = index,
                          anchors: dict[int, tuple[str, list[str]]] = anchors,
                          compiled: Callable[[Expr], sx.Expression] = compiled) -> sx.Expression:
                """A unit's condition where ``guard`` (its anchor's column, else None) holds."""
                if unit.python is not None:  # a lifted Python rule: its condition, made sound
                    expr, ci = unit_condition(unit, anchors, index.ci)
                    return leaves.read(partial(compile_typed, fields=fields, ci_fields=ci, leaves=leaves), expr, None)
                return leaves.read(compiled, unit.expr if unit.expr is not None else Const(False), guard)

            field = bucket_field(index, fields.schema, fields.has_dotted_keys)
            if units and field is not None and any(id(u) in anchors for u in units):
                found = bucketed_codes(lt, units, field, {k: v for k, (_f, v) in anchors.items()},
                                       lambda cmp, compiled=compiled: leaves.read(compiled, cmp, None),
                                       lambda unit, guard, condition=condition: _code(condition(unit, guard)),
                                       numbers)
                layouts[lt], picks[lt], listed = found.layout, found.bucket, found.codes
            else:
                codes = []
                for unit in units:
                    anchor = anchors.get(id(unit))
                    if anchor is None:
                        codes.append(_code(condition(unit, None)))
                        continue
                    field_name, values = anchor
                    held = leaves.read(compiled, Cmp(field_name, "eq", tuple(sorted(values))), None)
                    codes.append(_code_under(held, condition(unit, held)))
                if not codes and not (part and self.by_type[lt]):
                    continue
                listed = sx.Array(expressions=codes)
                if not codes:
                    listed = sx.Cast(this=listed, to=sx.DataType.build("TINYINT[]", dialect="duckdb"))
                layouts[lt] = TypeLayout(lt, len(units), tuple(range(1, len(units) + 1)))
            branches.append(sx.If(this=sx.EQ(this=sx.column("__tt_lt"), expression=sx.Literal.string(lt)),
                                  true=listed))
        sql = sx.Case(ifs=branches, default=sx.null()).sql("duckdb") if branches else "NULL"
        return TypedCodes(sql, bucket_sql(picks), layouts)

    def _python_types_sql(self) -> str:
        return sql_strings(self.python_types)

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


    def _typed_sql(self, schema: pa.Schema, table: str, digests: Mapping[str, TypeDigest], part: Part | None = None,
                   used: set[str] | None = None) -> str:
        """The same query over typed columns (table ``table`` of ``schema``, plus the row number
        ``{LINE_COLUMN}``): the schema decides which fields exist, so no JSON is parsed.

        A matched row whose every matched unit has a digest in SQL (``digests``, see
        ``engine/batch_digest.py``) comes back as one row per (event, matched unit) holding that
        digest's values instead (``u``: the unit's index; ``tv``, ``iv``: the time and id fields;
        ``xv``: the texts the digest reads; ``ov``: its output fields as JSON). Rows come in
        input order, a row's units in unit order. Codes come back as dense lists, in the order
        of ``self.by_type[log type]`` (``engine/batch_buckets.py``).

        For a ``part`` of the units (``engine/batch_parts.py``; ``digests`` then positioned in the
        part's code lists), one row per input row in input order: its log type ``lt``, the part's
        codes ``h`` (dense; NULL where the part matched no unit and was unsure of none, and the
        row's log type has no Python rule: its codes are then all 0), whether they hold a match
        or an unsure one ``f``, and the digests ``o`` of the part's units it matched (see
        ``_merge_sql``). ``used`` gathers the top-level columns the query reads."""
        # Beside the event's own columns: names of ours.
        fields = TypedFieldTable(schema, lowered_prefix="__tt_lw")
        leaves = GuardedLeaves("__tt_l")
        by_type = self.by_type if part is None else {lt: part[lt][1] if lt in part else [] for lt in self.by_type}
        codes = self._typed_codes(fields, leaves, by_type, part is not None)

        def typed(condition: sx.Expression) -> str:
            # Each condition is built for this query alone: rewritten in place.
            return _settled(condition, fields.has_dotted_keys).sql("duckdb")

        detect = typed(detection_sql(fields))
        settle = partial(_settled, dotted=fields.has_dotted_keys)
        lowered_cols, leaf_cols, guarded_cols = ("".join(", " + typed(c) for c in cols) for cols in (
            fields.lowered_columns(), leaves.columns(), leaves.guarded_columns(settle)))
        carried = _carried_columns(digests)
        carry = "".join(f", {quoted(c)} AS {quoted(_carried(c))}" for c in carried)
        if used is not None:
            used.update(fields.used, carried)
        # The bucket number reads the anchor columns, computed every row in ``a``.
        bucket = "" if codes.bucket is None else f", {codes.bucket} AS {BUCKET_COLUMN}"
        # Only ``c`` is read more than once, and it holds no event column: the event's columns
        # flow through the projections below it and are never copied.
        head = f"""
WITH d AS (SELECT *, {detect} AS __tt_lt FROM {table}),
w AS (SELECT *{lowered_cols} FROM d),
a AS (SELECT *{leaf_cols} FROM w),
g AS (SELECT *{guarded_cols}{bucket} FROM a),
m AS (SELECT {LINE_COLUMN} AS line, __tt_lt AS lt, {codes.sql} AS h{_bucket_carried(codes)}{carry} FROM g)"""
        if part is not None:
            outs = digest_columns(codes.layouts, digests)[2] if digests else f"NULL::{_DIGESTS_TYPE}"
            said = "coalesce(list_contains(h, 1) OR list_contains(h, -1), FALSE)"
            return head + f""",
p AS (SELECT line, lt, h{_bucket_carried(codes)}, {said} AS f, {outs} AS o FROM m)
SELECT lt, CASE WHEN f OR lt IN ({self._python_types_sql()}) THEN {dense_sql(codes.layouts)} END AS h, f, o
FROM p ORDER BY line
"""
        return head + self._typed_tail(digests, digest_columns(codes.layouts, digests)[2] if digests else None,
                                       codes.layouts)

    def _merge_sql(self, table: str, parts: Sequence[Part], digests: Mapping[str, TypeDigest]) -> str:
        """The query joining the ``parts``' rows (``table``: see ``batch_parts.merge_input``)
        into ``_typed_sql``'s result over all units: a row's codes are its parts' lists joined
        (a part's NULL list: all 0; NULL when its log type has no units), its digests likewise;
        the rest is the single query's. Most rows no unit matched or was unsure of (no part's
        ``f``) and of no log type with Python rules: those come back only as counts, which a
        NULL list gives as well, so their lists are not joined."""

        def joined(column: Callable[[int], str]) -> str:
            return f"list_concat({', '.join(column(k) for k in range(len(parts)))})"

        def filled(k: int) -> str:
            part = {lt: part_units for lt, (_start, part_units) in parts[k].items()}
            sizes = dense_layouts({lt: part.get(lt, []) for lt, units in self.by_type.items() if units})
            return f"coalesce({codes_column(k)}, {zeros_sql(sizes)})"

        carry = "".join(f", {quoted(c)} AS {quoted(_carried(c))}" for c in _stamp_columns(digests))
        said = " OR ".join(said_column(k) for k in range(len(parts)))
        with_units = sql_strings([lt for lt, units in self.by_type.items() if units])
        head = f"""
WITH m AS (SELECT {LINE_COLUMN} AS line, {PART_LOG_TYPE} AS lt,
    CASE WHEN {PART_LOG_TYPE} IN ({with_units}) AND ({said} OR {PART_LOG_TYPE} IN ({self._python_types_sql()}))
        THEN {joined(filled)} END AS h,
    {joined(digests_column)} AS __tt_o{carry} FROM {table})"""
        return head + self._typed_tail(digests, "__tt_o" if digests else None, dense_layouts(self.by_type))

    def _typed_tail(self, digests: Mapping[str, TypeDigest], outs: str | None,
                    layouts: Mapping[str, TypeLayout]) -> str:
        """The end of the typed query, over ``m`` (line, log type, codes ``h`` laid out as
        ``layouts`` say, the carried event columns): which rows come back, digested (``outs``:
        their digests) or not, and the counts. Whether a row comes back is decided once per
        row (``__tt_w``), and ``c`` keeps the codes of the rows that come back with them alone,
        as dense lists: a list per row and unit, materialised and scanned again for every row,
        cost more than the matching of a large rule set."""
        python = self._python_types_sql()
        want = f"lt IN ({python}) OR coalesce(list_contains(h, 1) OR list_contains(h, -1), FALSE)"
        pad = ", NULL::INTEGER, NULL::VARCHAR[], NULL::VARCHAR[], NULL::VARCHAR[], NULL::VARCHAR"
        digest_cols = ", NULL AS tv, NULL AS iv, NULL AS outs"
        digest_rows = ""
        if digests:
            # The time and id fields alone: the digests are ``outs``.
            tv, iv, _ = digest_columns(layouts, {lt: replace(p, units={}) for lt, p in digests.items()})
            digest_cols = f", CASE WHEN __tt_d THEN {tv} END AS tv, CASE WHEN __tt_d THEN {iv} END AS iv, " \
                          f"CASE WHEN __tt_d THEN {outs} END AS outs"
            digest_rows = """
UNION ALL SELECT line, lt, NULL, 1, o.u, tv, iv, o.xv, o.ov FROM (
    SELECT line, lt, tv, iv, unnest(outs) AS o FROM c WHERE outs IS NOT NULL)"""
        dig = digest_condition(layouts, digests).sql("duckdb") if digests else "FALSE"
        bucket = f", {BUCKET_COLUMN}" if any(layout.buckets for layout in layouts.values()) else ""
        return f""",
k AS (SELECT *, {want} AS __tt_w, {dig} AS __tt_d FROM m),
q AS (SELECT line, lt, h{bucket}, __tt_w{digest_cols} FROM k),
c AS MATERIALIZED (SELECT line, lt, __tt_w, CASE WHEN __tt_w AND outs IS NULL THEN {dense_sql(layouts)} END AS h,
    tv, iv, outs FROM q)
SELECT line, lt, h, 1 AS n{pad.replace("::INTEGER", "::INTEGER AS u", 1)} FROM c
    WHERE lt IS NOT NULL AND __tt_w AND outs IS NULL
UNION ALL SELECT NULL, lt, NULL, count(*){pad} FROM c WHERE lt IS NOT NULL AND NOT __tt_w GROUP BY lt
UNION ALL SELECT line, NULL, NULL, 1{pad} FROM c WHERE lt IS NULL{digest_rows}
ORDER BY line NULLS FIRST, u NULLS FIRST
"""

    def _digest_plans(self, schema: pa.Schema) -> dict[str, TypeDigest]:
        """The SQL digests of each log type's units over ``schema`` (none when ``on_match``
        must see whole events, and none for log types with Python rules: those see every row)."""
        if self.stream.on_match is not None:
            return {}
        plans: dict[str, TypeDigest] = {}
        for lt, units in self.by_type.items():
            if lt in self.python_types or not units:
                continue
            plan = plan_type(schema, lt, units, self.stream.plan.subscribers, _carried)
            if plan is not None and plan.units:
                plans[lt] = plan
        return plans

    # -- scanning ------------------------------------------------------------------------------
    def scan_paths(self, paths: Iterable[str | Path], reader: LogReader, workers: LineWorkers | None = None,
                   ) -> list[Alert]:
        """Scan every file in ``paths`` (Parquet files too); the alerts of the whole input, windows
        closed. The JSON-lines files ``workers`` takes (``engine/batch_workers.py``) are matched
        by the streaming engine's worker processes, forked here before DuckDB runs."""
        alerts: list[Alert] = []
        items = list(inputs(paths, reader))
        # Only the DuckDB engine: an engine matching elsewhere (Spark) sees every line itself.
        if workers is not None and type(self).match_rows is not BatchEngine.match_rows:
            workers = None
        big = {str(item) for item in items if workers is not None and workers.takes(item)}
        if workers is not None and big:
            workers.start(next(str(item) for item in items if str(item) in big))
        self.parquet.plan_datasets([item for item in items if str(item).endswith(PARQUET)])
        for item in items:
            name = str(item)
            if name.endswith(PARQUET):
                alerts.extend(self._scan_parquet(reader, item))
                continue
            if workers is not None and name in big:
                alerts.extend(workers.scan_file(item))
                continue
            if not raw_jsonl(item):
                for numbers, lines in self._records(reader, item):
                    alerts.extend(self.run_text(numbers, lines, name, reader, counts_reads=False))
                continue
            # An engine matching elsewhere (Spark overrides match_rows) sees every line itself.
            triage = self._triage() if type(self).match_rows is BatchEngine.match_rows else None
            for batch in line_batches(reader, item, BATCH_ROWS):
                alerts.extend(run_lines(self, triage, batch, name, reader))
        alerts.extend(self.stream.finish())
        return alerts

    def _scan_parquet(self, reader: LogReader, path: str | Path) -> list[Alert]:
        """A Parquet file matched over its own typed columns (``engine/batch_parquet.py``), or as
        JSON text when DuckDB cannot read its names apart (``ParquetScan.clashes``)."""
        if self.parquet.clashes(path):
            alerts: list[Alert] = []
            for numbers, lines in self.parquet.as_json(reader, path, BATCH_ROWS):
                alerts.extend(self.run_text(numbers, lines, str(path), reader))
            return alerts
        return self.parquet.scan(reader, path)

    @collector_paused
    def _route_typed(self, result: pa.Table, table: pa.Table, digests: Mapping[int, UnitDigest], first: int,
                     source: str, reader: LogReader) -> list[Alert]:
        """``_route`` for the typed query's rows: the events SQL digested become their units'
        ``Digest`` straight from the digest columns, in input order with the rest. The matches
        of a rule that only feeds its own alerter (``_bulk_codes``) are gathered instead and
        handed over as one run per rule (``StreamingEngine.route_many``), before any event
        Python takes whole (whose rules could be theirs) and at the batch's end: each rule
        still sees its matches in input order. What each digested event and row needs is
        computed over the columns (``engine/batch_route.py``)."""
        where = DigestedRows.of(result.column(LINE), result.column(UNIT))
        counted = np.flatnonzero(where.line < 0)
        self._count_unmatched([(None, lt, None, n) for lt, n in zip(
            *(result.column(c).take(counted).to_pylist() for c in (LOG_TYPE, COUNT)), strict=True)],
            reader, counts_reads=False)
        taken = np.flatnonzero((where.line >= 0) & (where.unit < 0))
        wanted = list(zip(*(result.column(c).take(taken).to_pylist() for c in (LINE, LOG_TYPE, CODES, COUNT)),
                          strict=True)) if len(taken) else []
        events = iter(self._rows_as_events(table, wanted))
        batch = DigestedBatch(result, where)
        seen = self.stream.seen
        # With no event Python takes whole here, the repeat check of the batch's events is one call.
        repeats = None
        if seen is not None and not wanted:
            repeats = np.zeros(len(where.firsts), bool)
            repeats[sorted(repeated_events(seen, batch.log_types, batch.idents))] = True
        alerts: list[Alert] = []
        for k, (lo, hi) in enumerate(where.segments(taken)):
            if lo < hi:
                alerts.extend(self._route_digested(batch, lo, hi, repeats, digests, first, source))
            if k < len(wanted):
                pos, lt, codes, _count = wanted[k]
                alerts.extend(self._take(next(events), lt, codes, source, first + pos, reader, counts_reads=False))
        return alerts

    def _route_digested(self, batch: DigestedBatch, lo: int, hi: int, repeats: np.ndarray | None,
                        digests: Mapping[int, UnitDigest], first: int, source: str) -> list[Alert]:
        """The digested rows ``[lo, hi)`` of ``batch`` (no row taken whole among them) to
        alerting, as the per-row loop of the streaming engine's code would route them: each
        event's repeat check (``repeats``: the batch's, else checked here in turn), counts and
        match id, each match routed alone in row order, then the bulk rules' runs."""
        where, stream = batch.where, self.stream
        stats, units = stream.stats, self.units
        e0, e1 = int(where.event_of[lo]), int(where.event_of[hi - 1]) + 1
        if repeats is not None:
            dropped = repeats[e0:e1]
        elif stream.seen is not None:
            dropped = np.array(repeats_one_by_one(stream.seen, batch.log_types[e0:e1], batch.idents[e0:e1]), bool)
        else:
            dropped = np.zeros(e1 - e0, bool)
        kept = e1 - e0 - int(dropped.sum())
        stats.duplicates += e1 - e0 - kept
        stats.events += kept
        stats.matched_events += kept
        places = np.arange(lo, hi)[~dropped[where.event_of[lo:hi] - e0]]
        rows = where.rows[places]
        rule_of, rules = self._bulk_codes(digests)
        times, idents = batch.times, batch.idents
        eids = idents[e0:e1]
        line, unit = where.line, where.unit
        # In row order: the match id of each event whose id depends on it (untimed ones are
        # counted there) and every match routed alone (whose route asks the same again).
        alone = rows[rule_of[unit[rows]] < 0]
        asking = [e for e in range(e0, e1) if not dropped[e - e0] and (times[e] is None or not idents[e])]
        order = np.argsort(np.concatenate([where.firsts[asking] * 2, alone * 2 + 1]), kind="stable")
        texts, outputs = batch.row_texts(alone), batch.row_outputs(alone)
        route, match_id = stream.route, stream.match_id
        alerts: list[Alert] = []
        for item in order.tolist():
            if item < len(asking):
                e = asking[item]
                eids[e - e0] = match_id(times[e], idents[e], source, first + int(line[where.firsts[e]]))
                continue
            j = item - len(asking)
            row = int(alone[j])
            index, e = int(unit[row]), int(where.event_at[row])
            digest = digests[index].build(times[e], idents[e], texts[j], outputs[j])
            alerts.extend(route(units[index], digest, _NO_EVENT, source, first + int(line[row])))
        whens, ids = np.array(times[e0:e1], dtype=object), np.array(eids, dtype=object)
        for code, run in bulk_runs(rows, unit, rule_of):
            # A rule's units share the digest's layout (``_bulk_codes``).
            k0, k1, distinct = digests[int(unit[run[0]])].parts  # type: ignore[misc]
            keys = batch.keys_at(run, k0, k1)
            at = where.event_at[run] - e0
            alerts.extend(stream.route_many(
                rules[code], run_log_types(unit[run], lambda index: units[index].log_type), whens[at].tolist(),
                ids[at].tolist(), keys, None if distinct is None else batch.texts_at(run, distinct),
                batch.row_outputs(run), orjson.loads))
        return alerts

    def _bulk_codes(self, digests: Mapping[int, UnitDigest]) -> tuple[np.ndarray, list[str]]:
        """The units of ``digests`` whose matches may be alerted a run at once, as ``rule_codes``
        of them (per unit index its bulk rule's code, and the rule ids by code): units of a rule
        that feeds only its own alerter (``StreamingEngine.bulk_rules``), each unit of it here
        with a digest of a key, a distinct value and output fields laid out alike. A rule with
        another unit here is routed match by match, so its order holds. Made once per prepared
        statement (each batch's segments ask again)."""
        key = id(digests)  # the digests of a prepared statement, kept as long as the engine
        found = self._bulk.get(key)
        if found is None:
            layouts: dict[str, set[Any]] = {}
            for d in digests.values():
                layouts.setdefault(d.unit.rule.id, set()).add(d.parts if d.unit.role == "rule" else None)
            rules = {rid for rid, parts in layouts.items()
                     if rid in self.stream.bulk_rules and len(parts) == 1 and None not in parts}
            bulk = {index: d.unit.rule.id for index, d in digests.items() if d.unit.rule.id in rules}
            found = self._bulk[key] = rule_codes(len(self.units), bulk)
        return found

    def _open_parquet(self, reader: LogReader, path: str | Path, rows: int = BATCH_ROWS) -> pa.RecordBatchReader | None:
        """A Parquet file's batches (without our dataset writer's partition columns), or None
        when it cannot be read (reported as the readers report a file)."""
        return self.parquet.batches(reader, path, rows)

    def _parquet_as_json(self, reader: LogReader, path: str | Path) -> Iterable[tuple[list[int], list[bytes]]]:
        """A Parquet file's rows as JSON text batches (row numbers for lines), for an engine
        that matches JSON text (Spark)."""
        return self.parquet.as_json(reader, path, BATCH_ROWS)

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
                events = events_of(table.take(positions))
            else:
                columns, leaves = self._digest_fields(table.schema, lt)
                picked = table.select(list(dict.fromkeys(columns + [leaf[0] for leaf in leaves]))).take(positions)
                events = events_of(picked.select(columns))
                add_leaves(events, picked, leaves)
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
                if len(parts) > 1 and not is_nested(kind):
                    leaves.add(parts)
                    continue
            columns.add(head)
        # A leaf under a column read whole is in that column already.
        kept = sorted(leaf for leaf in leaves if leaf[0] not in columns)
        found = self._digest_cols[key] = ([n for n in schema.names if n in columns], kept)
        return found

    def _typed_statement(self, schema: pa.Schema) -> TypedPlan:
        """The prepared matching statements for inputs of ``schema`` (one plan per schema met):
        one statement, or parts of at most ``statement_units`` units and their merge, and the
        file's columns they and the digests read."""
        key = schema.to_string()
        found = self._typed.get(key)
        if found is not None:
            return found
        plans = self._digest_plans(schema)
        used: set[str] = set()
        parts = unit_parts(self.by_type, self.statement_units)
        if len(parts) == 1:
            texts = [self._typed_sql(schema, TYPED_INPUT, plans, used=used)]
        else:
            texts = [self._typed_sql(schema, TYPED_INPUT, part_digests(plans, part), part, used) for part in parts]
        columns = self._read_columns(schema, used)
        read = schema if columns is None else pa.schema([schema.field(c) for c in columns])
        empty = pa.Table.from_batches([], schema=read).append_column(LINE_COLUMN, pa.array([], pa.int64()))
        names = tuple(f"match_typed_{len(self._typed)}_{k}" for k in range(len(texts)))
        con = self.con
        con.register(TYPED_INPUT, empty)
        try:
            for name, text in zip(names, texts, strict=True):
                con.execute(f"PREPARE {name} AS " + text)
            samples = [con.sql(f"EXECUTE {name}").to_arrow_table() for name in names] if len(names) > 1 else []
        finally:
            con.unregister(TYPED_INPUT)
        self._texts.update(zip(names, texts, strict=True))  # for their direct form (``_direct_statements``)
        carried = _stamp_columns(plans)
        merge = None
        if samples:
            merge = f"match_typed_{len(self._typed)}_merge"
            con.register(PARTS_INPUT, merge_input(empty, (LINE_COLUMN, *carried), samples))
            try:
                con.execute(f"PREPARE {merge} AS " + self._merge_sql(PARTS_INPUT, parts, plans))
            finally:
                con.unregister(PARTS_INPUT)
        found = self._typed[key] = TypedPlan(names, merge, {d.unit.index: d for p in plans.values()
                                                            for d in p.units.values()}, columns, carried)
        return found

    def _read_columns(self, schema: pa.Schema, used: set[str]) -> tuple[str, ...] | None:
        """The columns of ``schema`` a scan reads for every row: those the statements read
        (``used``) and those the Python digests of matched rows read; None (every column) when
        ``on_match`` sees every matched event whole."""
        if self.stream.on_match is not None:
            return None
        wanted = set(used)
        for lt in self.by_type:
            if lt not in self.python_read_types:
                columns, leaves = self._digest_fields(schema, lt)
                wanted.update(columns, (leaf[0] for leaf in leaves))
        return tuple(n for n in schema.names if n in wanted)

    def _run_typed(self, plan: TypedPlan, table: pa.Table) -> pa.Table:
        """The typed query's result over a batch (``table``, its row numbers appended): the one
        statement's, or its parts' merged."""
        con = self.con
        con.register(TYPED_INPUT, table)
        try:
            results = [con.sql(f"EXECUTE {name}").to_arrow_table() for name in plan.statements]
        finally:
            con.unregister(TYPED_INPUT)
        if plan.merge is None:
            return results[0]
        con.register(PARTS_INPUT, merge_input(table, (LINE_COLUMN, *plan.carried), results))
        try:
            return con.sql(f"EXECUTE {plan.merge}").to_arrow_table()
        finally:
            con.unregister(PARTS_INPUT)

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

    def _triage(self) -> JsonLinesTriage:
        """The JSON-lines triage of this engine's rules (built when raw lines first come)."""
        if self._lines_triage is None:
            self._lines_triage = JsonLinesTriage(self)
        return self._lines_triage

    def _run_batch(self, batch: tuple[list[int], list[bytes]], source: str, reader: LogReader) -> list[Alert]:
        numbers, lines = batch
        return self.run_text(numbers, lines, source, reader, counts_reads=False)

    def run_text(self, numbers: list[int], lines: list[bytes], source: str, reader: LogReader, *,
                 counts_reads: bool = True, held: deque[HeldReject] | None = None) -> list[Alert]:
        """A batch of JSON lines (``numbers``: their line numbers) through the JSON-text query and
        on to alerting; ``counts_reads``: the readers never counted these events; ``held``: see
        ``route_lines``."""
        table = pa.table({"line": pa.array(range(len(lines)), pa.int64()), "j": pa.array(lines, pa.binary())})
        return self.route_lines(self.match_rows(table), numbers, lines, source, reader, counts_reads=counts_reads,
                                held=held)

    def route_lines(self, rows: list[tuple], numbers: list[int], lines: list[bytes], source: str, reader: LogReader,
                    *, counts_reads: bool = True, held: deque[HeldReject] | None = None) -> list[Alert]:
        """Query rows over a batch of JSON lines (positions into ``lines``) to alerting: see
        ``_route``; the lines the rows want are parsed as the streaming reader parses them, the
        ``held`` over-long lines before each reported first (the caller reports the rest)."""
        return self._route(rows, lambda wanted: parsed_events(lines, numbers, wanted, source, reader, held),
                           source, reader, counts_reads=counts_reads)

    def _route(self, rows: list[tuple], events: Callable[[list[tuple]], Iterable[tuple[Mapping[str, Any] | None, int]]],
               source: str, reader: LogReader, *, counts_reads: bool) -> list[Alert]:
        """The query's rows to the streaming engine's code: counts for the events SQL found no
        match in, and for the rest, in input order, the events themselves (``events(rows)``
        gives each row's event, or None for a line the readers reject). ``counts_reads``: the events were
        never read by the readers (raw lines), so the read count is kept here."""
        self._count_unmatched(rows, reader, counts_reads=counts_reads)
        wanted = sorted((r for r in rows if r[0] is not None), key=lambda r: r[0])
        alerts: list[Alert] = []
        for (_pos, lt, codes, _count), (event, lineno) in zip(wanted, events(wanted), strict=True):
            if event is not None:
                alerts.extend(self._take(event, lt, codes, source, lineno, reader, counts_reads=counts_reads))
        return alerts

    def _count_unmatched(self, rows: list[tuple], reader: LogReader, *, counts_reads: bool) -> None:
        """Count the events SQL found no match in (the rows without a position), per log type."""
        stats, indexes = self.stream.stats, self.stream.plan.indexes
        for pos, lt, _codes, count in rows:
            if pos is None:
                stats.events += count
                if counts_reads:
                    reader.stats.events += count
                if lt not in indexes:
                    stats.no_rules[lt] = stats.no_rules.get(lt, 0) + count

    def _take(self, event: Mapping[str, Any], lt: str | None, codes: list[int] | None, source: str, lineno: int,
              reader: LogReader, *, counts_reads: bool) -> list[Alert]:
        """One event Python must see, to the streaming engine: whole (``process``) when SQL did
        not recognise it or was unsure, else with the units SQL found (``accept``)."""
        stream, stats = self.stream, self.stream.stats
        if counts_reads:
            reader.stats.events += 1
        if lt is None or (codes is not None and -1 in codes):
            return stream.process(event, source, lineno)
        if stream.seen is not None and stream.seen.is_duplicate(event, lt):
            stats.duplicates += 1  # matched events only: SQL's non-matching rows are not keyed
            return []
        stats.events += 1
        hits = [u for u, code in zip(self.by_type.get(lt, ()), codes or (), strict=False) if code == 1]
        hits.sort(key=lambda u: u.index)
        return stream.accept(event, lt, hits or None, source, lineno)


def _settled(condition: sx.Expression, dotted: bool) -> sx.Expression:
    """A typed query's condition as the query writes it (rewritten in place)."""
    return fold(with_dotted(condition, dotted, copy=False), copy=False)


def _bucket_carried(codes: TypedCodes) -> str:
    """The bucket number column, carried on where the statement has one."""
    return "" if codes.bucket is None else f", {BUCKET_COLUMN}"


def _code(condition: sx.Expression) -> sx.Expression:
    """A three-valued condition as its unit's code: 1 true, 0 false, -1 unsure (NULL)."""
    return sx.Coalesce(this=sx.Cast(this=condition, to=sx.DataType.build("TINYINT")), expressions=[sx.Literal.number(-1)])


def _code_under(first: sx.Expression, then: sx.Expression) -> sx.Expression:
    """The code of three-valued ``first AND then``, ``then`` evaluated only where ``first`` is
    not FALSE. The rows ``first`` rules out (most rows, for an anchor) get a constant 0 from
    their branch: the cast and the NULL test run only on the rows that reach ``then``."""
    zero, unsure = sx.Literal.number(0), sx.Literal.number(-1)
    return sx.Case(ifs=[sx.If(this=first, true=_code(then)), sx.If(this=sx.not_(sx.paren(first.copy())), true=zero),
                        sx.If(this=sx.not_(sx.paren(then.copy())), true=zero.copy())], default=unsure)


_NO_EVENT: Mapping[str, Any] = {}  # a digested match's event: its rule reads nothing more of it


def _carried(column: str) -> str:
    """The query's own name for an event column the SQL digests read (no clash with its names)."""
    return "__tt_c_" + column


def _carried_columns(digests: Mapping[str, TypeDigest]) -> tuple[str, ...]:
    """The event columns the SQL digests of every log type read, each once, sorted."""
    return tuple(sorted({c for plan in digests.values() for c in plan.columns}))


def _stamp_columns(digests: Mapping[str, TypeDigest]) -> tuple[str, ...]:
    """The event columns the time and id fields of every log type read, each once, sorted: all
    the merging statement reads of the event (the parts give the digests' own values)."""
    return tuple(sorted({c for plan in digests.values() for c in plan.stamp_columns}))


def scan_batch(paths: Iterable[str | Path], rules: Sequence[Rule] | LoadResult, *, state: StateStore | None = None,
               on_match: Callable[[Match], None] | None = None, on_alert: Callable[[Alert], None] | None = None,
               strict: bool = False, limits: ReadLimits | None = None, memory_limit: str = DEFAULT_MEMORY_LIMIT,
               dead_letter: IO[bytes] | None = None, keep_duplicates: bool = False, workers: int = 0,
               min_parallel_bytes: int | None = None) -> ScanResult:
    """Scan log files with the DuckDB engine: the same ``ScanResult`` as ``api.scan`` gives.

    ``memory_limit`` is the most memory the whole process should take (a DuckDB size such as
    ``"2GB"``; DuckDB gets a share of it, ``engine/batch_memory.py``); when the process's peak
    passed it, ``memory_note`` of the result says so in one line. ``dead_letter``
    keeps malformed lines and events of no known log type, ``on_alert``, ``state`` and
    ``keep_duplicates`` mean what they mean in ``api.scan`` — except that a duplicate is dropped
    only when it matched a rule (SQL does not key the events it finds no match in), so
    ``stats.events`` can count a duplicate that matched nothing.

    ``workers`` and ``min_parallel_bytes`` (default ``parallel.MIN_PARALLEL_BYTES``) mean what they
    mean in ``api.scan``: plain JSON-lines files of at least that size are matched by the streaming engine's worker processes, which
    key every event as a streaming scan does (``stream_workers`` of the result says what they
    matched); a rule set with Python rules runs in one process.
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
        pool = LineWorkers(engine.stream, reader, workers, min_parallel_bytes)
        try:
            gate(engine.scan_paths(paths, reader, pool))
        finally:
            pool.close()
    result = scan_result(kept, gate, engine.stream, reader, load_errors, rules)
    result.memory_note = engine.budget.over(peak_rss())
    result.stream_workers = pool.summary()
    return result

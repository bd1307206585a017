"""The Spark engine: the batch engine's matching run in Apache Spark, alerts from the one
alerting code.

The executors read the input (``engine/spark_read.py``): plain JSON-lines files in byte ranges,
other files the readers know whole, each with the streaming readers' own code, so malformed
lines, line limits and counts are theirs; Parquet files with Spark's own reader, their rows made
the event text the DuckDB engine's driver read makes (``engine/spark_parquet.py``). What the
executors cannot read (standard input, FIFOs, a file they cannot open, and with a dead-letter
file what is not plain JSON lines or Parquet) the driver reads as the batch engine does and
ships to Spark in batches of events as JSON text. Spark parses each event
(``try_parse_json``, a VARIANT) and decides its log type and every declarative unit's predicate
with the three-valued SQL of ``compile/sql.py`` written for Spark by ``compile/dialects.py``.
The predicates are the portable ones: regex, glob, CIDR and ordering tests and walks over
arrays of objects are left unsure, because Spark's regexes are Java's, not RE2. Only the events
that matched, or that Spark was unsure of, come back to the driver, where the batch engine's
own code digests them (``BatchEngine.route_lines``): the alerts are the streaming engine's.
Panther Python rules run in the executors (``mapInArrow``) on the events of their log types,
and only events one of them may match (or that touched the scan's state, or raised) come back
to the driver, whose streaming engine runs them with the scan's state — unless a duplicate
filter is on (the default), which must see every such event: then they all come back, as in
the DuckDB engine.
"""

from __future__ import annotations

import os
import re
import sys
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as sx

from tokentrail import schemas
from tokentrail.alerting.delivery import AlertGate
from tokentrail.alerting.models import Alert, Match
from tokentrail.compile.dialects import render
from tokentrail.compile.sql import TEXTS, FieldTable, LeafTable, compile_sql
from tokentrail.engine import ScanResult
from tokentrail.engine.batch import BATCH_ROWS, BatchEngine, _anchors, detection_sql, unit_condition
from tokentrail.engine.batch_input import PARQUET, inputs
from tokentrail.engine.batch_json import run_lines
from tokentrail.engine.batch_lines import line_batches
from tokentrail.engine.dedup import DEFAULT_MEMORY_IDS
from tokentrail.engine.parallel import copy_line  # as the parallel scan copies them
from tokentrail.engine.plan import UNKNOWN
from tokentrail.engine.session import scan_result, scan_session, unknown_keeper
from tokentrail.engine.spark_parquet import PARQUET_EXPANSION, file_key, footer, parquet_frame, parquet_rows
from tokentrail.engine.spark_read import (
    PIECE_SCHEMA,
    ROW_SCHEMA,
    Piece,
    PieceRows,
    Summary,
    merge_whole_read,
    pieces_of,
    read_pieces,
)
from tokentrail.engine.stream import StreamingEngine
from tokentrail.errors import ConfigError, LogParseError
from tokentrail.rules.loader import LoadContext, LoadResult, load_rules
from tokentrail.rules.model import Rule
from tokentrail.sources.files import LogReader, ReadLimits, raw_jsonl, splittable
from tokentrail.state import StateStore

DEFAULT_MASTER = "local[2]"
RANGE_BYTES = 32 << 20  # one executor task reads this much of a plain JSON-lines file
# One query reads up to this much input: its fixed cost (Spark's analysis of the rules' SQL,
# seconds) is paid once per this much, and the driver holds what it sends back.
QUERY_BYTES = 1 << 30
# A key holding a dot (or an escaped one) before its closing quote and colon. Spark's regexes
# are Java's, which recurse on repeated alternations: this one repeats a character class only,
# and an event holding any escaped quote is taken as possibly dotted (so nothing is missed).
_DOTTED = r'(\.|\\u002[eE])[^"]*"[ \t\r\n]*:'
# JSON the streaming reader (orjson) rejects and Spark's parser may accept: NaN/Infinity, huge
# numbers, trailing commas (as in engine/batch.py), and lone surrogate escapes.
_LENIENT = (r"[:,\[][ \t\r\n]*-?(NaN|Infinity|[0-9.]+[eE][+-]?[0-9]{3}|[0-9]{300})|,[ \t\r\n]*[\]}]"
            r"|\\u[dD][89a-fA-F]")


def spark_session(master: str = DEFAULT_MASTER, conf: Mapping[str, str] | None = None):
    """A Spark session for scanning: ``master`` (``local[2]``, ``spark://host:7077``, ...) and
    ``conf`` settings; the UI is off and a local driver binds to 127.0.0.1 unless ``conf`` says
    otherwise."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("the Spark engine needs PySpark: pip install 'tokentrail[spark]'") from None
    settings = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2",
                "spark.sql.session.timeZone": "UTC"}
    if master.startswith("local"):
        settings |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
        # Local Python workers must run this interpreter (the one TokenTrail is installed in);
        # PySpark reads its choice from the environment when the context starts.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("tokentrail")
    for key, value in (settings | dict(conf or {})).items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # PySpark's and Py4J's errors (no Java, a bad master or setting): one line
        given = f" with {len(conf)} --spark-conf setting(s)" if conf else ""
        raise ConfigError(f"Spark did not start on master {master}{given}: {java_summary(exc)} "
                          "(Spark's log above says why)") from None


def java_summary(exc: BaseException) -> str:
    """The first line of a PySpark error, or of the Java exception behind a Py4J one (whose own
    text is the whole Java stack)."""
    java = getattr(exc, "java_exception", None)
    text = str(java) if java is not None else str(exc)
    return " ".join(text.strip().split("\n")[0].split()) or type(exc).__name__


def parse_conf(items: Iterable[str]) -> dict[str, str]:
    """``K=V`` settings (``--spark-conf``) as a mapping; a setting without ``=`` is an error."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--spark-conf wants KEY=VALUE, not {item!r}")
        out[key.strip()] = value
    return out


def variant_path(duckdb_path: str) -> str:
    """A DuckDB JSON path (``$."a"."b"``) as a Spark VARIANT path (``$["a"]["b"]``)."""
    return "$" + "".join(f'["{key}"]' for key in re.findall(r'\."([^"]*)"', duckdb_path))


def _schema_of(path: str) -> sx.Expression:
    """Spark's name for the type of the VARIANT at ``path`` (NULL when the path is absent)."""
    return sx.Anonymous(this="schema_of_variant", expressions=[
        sx.Anonymous(this="variant_get", expressions=[sx.column("v"), sx.Literal.string(variant_path(path)),
                                                      sx.Literal.string("variant")])])


def _duckdb_type_names() -> sx.Expression:
    """A lambda from Spark's type names to DuckDB's JSON type names, which the compiled SQL
    tests (VARCHAR, BOOLEAN, NULL, OBJECT, ARRAY; any number is NUMBER); NULL stays NULL."""
    s = sx.column("s")
    ifs = [sx.If(this=sx.Is(this=s.copy(), expression=sx.null()), true=sx.null())]
    ifs += [sx.If(this=sx.EQ(this=s.copy(), expression=sx.Literal.string(a)), true=sx.Literal.string(b))
            for a, b in (("STRING", "VARCHAR"), ("BOOLEAN", "BOOLEAN"), ("VOID", "NULL"))]
    ifs += [sx.If(this=sx.Like(this=s.copy(), expression=sx.Literal.string(f"{a}%")), true=sx.Literal.string(a))
            for a in ("OBJECT", "ARRAY")]
    return sx.Lambda(this=sx.Case(ifs=ifs, default=sx.Literal.string("NUMBER")), expressions=[sx.to_identifier("s")])


def _text_of(path: str) -> sx.Expression:
    return sx.Anonymous(this="variant_get", expressions=[sx.column("v"), sx.Literal.string(variant_path(path)),
                                                         sx.Literal.string("string")])


class SparkEngine(BatchEngine):
    """Runs a rule set over files with Spark deciding the matches; the alerts are the streaming
    engine's. ``session`` is a SparkSession (``spark_session()``); the executors read plain
    JSON-lines files in ranges of about ``range_bytes``, and one query reads about
    ``query_bytes`` of input (the driver holds what one query sends back). ``executor_path``
    gives where the executors find a file the driver lists (by its absolute path): by default
    at the same path, a shared file system mounted alike everywhere."""

    def __init__(self, rules: Sequence[Rule], session, *, context: LoadContext | None = None,
                 range_bytes: int = RANGE_BYTES, query_bytes: int = QUERY_BYTES,
                 executor_path: Callable[[str], str] | None = None, **kwargs: Any) -> None:
        super().__init__(rules, **kwargs)
        self.spark = session
        self.range_bytes = range_bytes
        self.query_bytes = query_bytes
        self.executor_path = executor_path or str
        self.to_driver = 0  # events the driver had to see (matched, unsure, or a Python rule's)
        # Python rules run in the executors from their files (with ``context``, as loaded here).
        self.context = context or LoadContext(allow_python=True)
        self.python_rules = tuple(sorted({(u.rule.id, u.rule.path) for ix in self.stream.plan.indexes.values()
                                          for u in ix.python}))
        self.spark_sql = self._build_spark_sql()

    def _build_spark_sql(self) -> str:
        """The batch engine's query for Spark: the same units in the same order per log type."""
        fields = FieldTable()
        leaves = LeafTable()
        branches = []
        for lt, index in self.stream.plan.indexes.items():
            if lt == UNKNOWN:
                continue
            anchors = _anchors(index)
            codes = []
            for unit in self.by_type[lt]:
                expr, ci = unit_condition(unit, anchors, index.ci)
                codes.append(sx.Coalesce(this=sx.Cast(this=compile_sql(expr, fields, ci_fields=ci, leaves=leaves,
                                                                       portable=True),
                                                      to=sx.DataType.build("TINYINT")),
                                         expressions=[sx.Literal.number(-1)]))
            if codes:
                branches.append(sx.If(this=sx.EQ(this=sx.column("lt"), expression=sx.Literal.string(lt)),
                                      true=sx.Array(expressions=codes)))
        top = sx.EQ(this=fields.type_of("$"), expression=sx.Literal.string("OBJECT"))
        detect = render(detection_sql(fields), "spark")
        codes_sql = (render(sx.Case(ifs=branches, default=sx.null()), "spark") if branches
                     else "CAST(NULL AS ARRAY<TINYINT>)")
        schemas_sql = ", ".join(render(_schema_of(p), "spark") for p in fields.types) or "NULL"
        names = render(_duckdb_type_names(), "spark")
        texts = ", ".join(render(_text_of(p), "spark") for p in fields.texts) or "NULL"
        lowered = render(fields.lowered_column(), "spark")
        leaf_cols = "".join(", " + render(c, "spark") for c in leaves.columns())
        top_sql = render(top, "spark")
        lenient = _sql_text(_LENIENT)
        # One chain of steps, each read once (Spark would analyse a step read twice twice),
        # every event kept to the end: an odd or unrecognised one has no log type (need: TRUE).
        keep = "piece, line, n, note, raw"
        return f"""
WITH s AS (SELECT piece, line, n, note, j AS raw,
      CASE WHEN is_valid_utf8(CAST(j AS STRING)) THEN CAST(j AS STRING) END AS j FROM batch),
p AS (SELECT {keep}, j, j IS NULL OR j RLIKE '{lenient}' AS odd FROM s),
q AS (SELECT {keep}, j, odd, CASE WHEN NOT odd THEN try_parse_json(j) END AS v,
      j RLIKE '{_sql_text(_DOTTED)}' OR INSTR(j, '\\\\"') > 0 AS dotted FROM p),
r AS (SELECT {keep}, j, odd, v, dotted, transform(array({schemas_sql}), {names}) AS t FROM q),
d AS (SELECT {keep}, j, v, dotted, t, CASE WHEN NOT odd AND {top_sql} THEN {detect} END AS lt FROM r),
f AS (SELECT {keep}, j, lt, dotted, t, array({texts}) AS {TEXTS} FROM d),
h AS (SELECT *, {lowered} FROM f),
g AS (SELECT {keep}, lt{leaf_cols} FROM h),
c AS (SELECT {keep}, lt, {codes_sql} AS h FROM g)
SELECT piece, line, n, note, lt, h, raw AS j, lt IS NULL OR coalesce(array_contains(h, CAST(1 AS TINYINT))
       OR array_contains(h, CAST(-1 AS TINYINT)), FALSE) AS need FROM c
"""

    def _scan_parquet(self, reader: LogReader, path: str | Path) -> list[Alert]:
        """The driver's read of a Parquet file the executors could not read: its rows go to
        Spark as JSON text made on the driver (the DuckDB engine matches Parquet over its typed
        columns instead)."""
        alerts: list[Alert] = []
        for batch in self._parquet_as_json(reader, path):
            alerts.extend(self._run_batch(batch, str(path), reader))
        return alerts

    def match_rows(self, table: pa.Table) -> list[tuple[Any, ...]]:
        """The batch engine's rows for ``table`` (a batch the driver read), decided by Spark: see
        ``_finished``."""
        n = table.num_rows
        frame = self.spark.createDataFrame(pa.table({
            "piece": pa.array([0] * n, pa.int32()), "line": table.column("line"), "n": table.column("line"),
            "j": table.column("j"), "note": pa.nulls(n, pa.string())}))
        result = self._finished(frame, keep_text=False)
        self.to_driver += result.num_rows - pc.sum(pc.is_null(result.column("line"))).as_py()
        return list(zip(*(result.column(c).to_pylist() for c in ("line", "lt", "h", "count")), strict=True))

    def _finished(self, frame, *, keep_text: bool) -> pa.Table:
        """Spark's verdicts on the events of ``frame`` (``ROW_SCHEMA`` of ``engine/spark_read.py``):
        one row per event the driver must see (``count`` 1, its text in ``j`` when
        ``keep_text``), one row per summary row, and per piece and log type the count of the
        rest (``line`` NULL). Events of log types with Python rules are asked of those rules in
        the executors first (see ``finish_rows``)."""
        frame.createOrReplaceTempView("batch")
        # With a duplicate filter, every event of those log types goes to the driver (as in the
        # DuckDB engine): the filter keys the events it is shown, and its counts must be the
        # streaming engine's.
        ask = bool(self.python_types) and self.stream.seen is None
        finish = finish_rows(self.python_rules, self.context, frozenset(self.python_types), ask, keep_text)
        return self.spark.sql(self.spark_sql).mapInArrow(finish, FINISHED).toArrow()

    # -- reading in the executors ------------------------------------------------------------------
    def scan_paths(self, paths: Iterable[str | Path], reader: LogReader) -> list[Alert]:
        """Scan every file in ``paths``: the files the executors can read (see
        ``engine/spark_read.py`` and ``engine/spark_parquet.py``) are cut into pieces and read
        there, a query per ``query_bytes`` of them; the rest (standard input, FIFOs, and with a
        dead-letter file the inputs that are not plain JSON lines or Parquet) the driver reads.
        Events reach alerting in input order."""
        alerts: list[Alert] = []
        group: list[Piece] = []
        size = 0
        self._bases: dict[int, int] = {}  # per input file: lines of its pieces routed so far
        self._fallen: set[int] = set()  # input files the executors could not read
        self._noted = 0  # files not read that whole-file reads noted, put in the list so far
        for file, item in enumerate(inputs(paths, reader)):
            cut = self._executor_pieces(item, reader)
            if cut is None:
                alerts.extend(self._run_pieces(group, reader))
                group, size = [], 0
                alerts.extend(self._driver_read(item, reader))
                continue
            for piece in cut:
                weight = piece.end - piece.start if piece.rows is None else piece.end * PARQUET_EXPANSION
                # Spark reads a path once per DataFrame: a Parquet file named twice waits a query.
                again = piece.rows is not None and any(p.path == piece.path for p in group)
                if group and (size + weight > self.query_bytes or again):
                    alerts.extend(self._run_pieces(group, reader))
                    group, size = [], 0
                group.append(replace(piece, index=len(group), file=file, skipped_at=len(reader.stats.skipped_files)))
                size += weight
        alerts.extend(self._run_pieces(group, reader))
        alerts.extend(self.stream.finish())
        return alerts

    def _executor_pieces(self, item: str | Path, reader: LogReader) -> list[Piece] | None:
        """How the executors read ``item`` (``spark_read.pieces_of``; a Parquet file is one
        piece with its footer), or None when the driver reads it. A plain JSON-lines file is
        counted as read here (its pieces do not count it). The pieces' ``index``, ``file`` and
        ``skipped_at`` are the caller's to set."""
        name = str(item)
        if name == "-" or not os.path.isfile(name):
            return None
        path = os.path.abspath(name)
        if name.endswith(PARQUET):
            found = footer(path)
            if found is None:
                return None  # the driver's read reports it, as the DuckDB engine does
            return [Piece(0, 0, name, path, 0, os.path.getsize(path), True, 0, found.rows, found.schema)]
        if not splittable(name):
            # Where a whole file's bad records go: the driver's dead-letter file, so it reads them.
            if reader.dead_letter is not None:
                return None
        else:
            reader.stats.files += 1
        return [Piece(0, 0, name, path, start, end, whole, 0) for start, end, whole in pieces_of(name, self.range_bytes)]

    def _driver_read(self, item: str | Path, reader: LogReader) -> list[Alert]:
        """One input read by the driver and shipped to Spark in batches of events."""
        name = str(item)
        if name.endswith(PARQUET):
            return self._scan_parquet(reader, item)
        alerts: list[Alert] = []
        if raw_jsonl(item):  # as the batch engine reads JSON lines, the JSON-text query deciding
            for batch in line_batches(reader, item, BATCH_ROWS):
                alerts.extend(run_lines(self, None, batch, name, reader))
            return alerts
        for numbers, lines in self._records(reader, item):
            alerts.extend(self.run_text(numbers, lines, name, reader, counts_reads=False))
        return alerts

    def _run_pieces(self, pieces: list[Piece], reader: LogReader) -> list[Alert]:
        """One Spark query reading ``pieces`` in the executors, and its rows to alerting, piece
        by piece in order."""
        if not pieces:
            return []
        frames = []
        rows = [(p.index, self.executor_path(p.path), p.start, p.end, p.whole) for p in pieces if p.rows is None]
        if rows:
            frame = self.spark.createDataFrame(self.spark.sparkContext.parallelize(rows, len(rows)), PIECE_SCHEMA)
            frames.append(frame.mapInArrow(read_pieces(reader.limits, reader.dead_letter is not None), ROW_SCHEMA))
        unlisted: set[int] = set()
        frames += self._parquet_frames([p for p in pieces if p.rows is not None], unlisted)
        if frames:
            union = frames[0]
            for frame in frames[1:]:
                union = union.union(frame)
            back = PieceRows(self._finished(union, keep_text=True))
        else:
            back = PieceRows(_FINISHED_ARROW.empty_table())
        self.to_driver += back.events
        missing = {p.file for p in pieces if p.rows is None and back.summaries[p.index].missing}
        alerts: list[Alert] = []
        for piece in pieces:
            if piece.file in self._fallen:
                continue  # read by the driver: its other pieces are not used
            if piece.rows is not None:
                alerts.extend(self._route_parquet(piece, back, reader, listed=piece.index not in unlisted))
                continue
            summary = back.summaries[piece.index]
            if piece.file in missing:
                if piece.file in self._bases:  # some of it is already through alerting
                    raise ConfigError(f"{summary.missing or 'not readable on every executor'} (the executors "
                                      "must see the inputs at the driver's paths)", file=piece.name)
                if not piece.whole:
                    reader.stats.files -= 1  # the driver's read counts it again
                self._fallen.add(piece.file)
                alerts.extend(self._driver_read(piece.name, reader))
                continue
            alerts.extend(self._route_piece(piece, summary, back, reader))
            if reader.progress is not None:
                reader.progress(piece.end - piece.start)
        return alerts

    def _parquet_frames(self, pieces: list[Piece], unlisted: set[int]) -> list:
        """The ``ROW_SCHEMA`` DataFrames of the Parquet ``pieces`` of a query, one per schema;
        the pieces Spark could not list or read a footer of go into ``unlisted``."""
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        def frame(members: list[Piece]):
            paths = [self.executor_path(p.path) for p in members]
            keys = {file_key(path): p.index for path, p in zip(paths, members, strict=True)}
            read = parquet_frame(self.spark, paths)
            return read.mapInArrow(parquet_rows(keys, len(read.columns) - 1), ROW_SCHEMA)

        by_schema: dict[str, list[Piece]] = {}
        for piece in pieces:
            by_schema.setdefault(piece.schema, []).append(piece)
        frames = []
        for members in by_schema.values():
            try:
                frames.append(frame(members))
            except (PySparkException, Py4JJavaError):
                for piece in members:  # which of them Spark cannot list: those the driver reads
                    try:
                        frames.append(frame([piece]))
                    except (PySparkException, Py4JJavaError):
                        unlisted.add(piece.index)
        return frames

    def _route_parquet(self, piece: Piece, back: PieceRows, reader: LogReader, *, listed: bool) -> list[Alert]:
        """A Parquet file's rows to alerting in order, as the DuckDB engine counts them; a file
        Spark did not list, or of whose rows the executors read fewer than its footer holds (it
        went missing, or they could not read it), the driver reads instead."""
        _keys, numbers, kinds, codes, texts = back.of(piece.index)
        counts = back.counts.get(piece.index, [])
        if not listed or len(numbers) + sum(n for *_, n in counts) != piece.rows:
            return self._driver_read(piece.name, reader)
        reader.stats.files += 1
        rows = [(i, lt, h, 1) for i, (lt, h) in enumerate(zip(kinds, codes, strict=True))]
        alerts = self.route_lines(rows, numbers, texts, piece.name, reader, counts_reads=False)
        self._count_unmatched(counts, reader, counts_reads=False)
        if reader.progress is not None:
            reader.progress(piece.end)
        return alerts

    def _route_piece(self, piece: Piece, summary: Summary, back: PieceRows, reader: LogReader) -> list[Alert]:
        """One piece's events to alerting in order, its read's errors reported where they fell
        among them, its counts added to the scan's."""
        base = self._bases.get(piece.file, 0)
        keys, numbers, kinds, codes, texts = back.of(piece.index)
        numbers = [base + n for n in numbers]
        rows = [(i, lt, h, 1) for i, (lt, h) in enumerate(zip(kinds, codes, strict=True))]
        counts_reads = not piece.whole  # a whole file's read counted its own events
        alerts: list[Alert] = []
        at = 0
        for i, (key, label, line, message) in enumerate(summary.errors):
            upto = bisect_left(keys, key, lo=at)
            alerts.extend(self.route_lines(rows[at:upto], numbers, texts, piece.name, reader, counts_reads=counts_reads))
            at = upto
            reader.report(LogParseError(message, file=piece.name + label,
                                        line=None if line is None else base + line))
            if i < len(summary.spans) and reader.dead_letter is not None:
                copy_line(piece.path, *summary.spans[i], reader.dead_letter)
        alerts.extend(self.route_lines(rows[at:], numbers, texts, piece.name, reader, counts_reads=counts_reads))
        if reader.dead_letter is not None:  # lines past the limit beyond the errors a read keeps
            for span in summary.spans[len(summary.errors):]:
                copy_line(piece.path, *span, reader.dead_letter)
        reader.stats.skipped += summary.skipped - len(summary.errors)
        self._count_unmatched(back.counts.get(piece.index, []), reader, counts_reads=counts_reads)
        if piece.whole:
            self._noted += merge_whole_read(reader, summary, piece, self._noted)
        self._bases[piece.file] = base + summary.lines
        return alerts


FINISHED = "piece int, line long, n long, note string, lt string, h array<int>, j binary, count long"


class _StateTouched(Exception):
    """A Python rule reached for the scan's state, which only the driver holds."""


class _NoState:
    """The state store Python rules see in an executor: any use stops the rule, and the event
    goes to the driver, whose streaming engine runs the rule with the scan's state."""

    def __getattr__(self, name: str) -> Any:
        raise _StateTouched(name)


class _PythonVerdicts:
    """In an executor: whether any Python rule of an event's log type may match it."""

    def __init__(self, wanted: tuple[tuple[str, str], ...], context: LoadContext) -> None:
        loaded = load_rules(sorted({path for _, path in wanted}), context=context)
        ids = {rule_id for rule_id, _ in wanted}
        rules = [r for r in loaded.rules if r.id in ids]
        self.engine = StreamingEngine(rules)
        units = [u for ix in self.engine.plan.indexes.values() for u in ix.python]
        # Loaded here as on the driver, or every event is sent back (the driver decides).
        self.ok = {u.rule.id for u in units} == ids
        for unit in units:
            unit.python.bind_state(_NoState())

    def __call__(self, line: str | None, log_type: str) -> bool:
        if not self.ok or line is None:
            return True
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            return True
        found, event, _ = self.engine.match(event)
        index = self.engine.plan.indexes.get(found)
        if found != log_type or index is None or not index.python:
            return True
        event = schemas.with_panther_fields(event, log_type)
        for unit in index.python:
            try:
                if unit.python.matches(event):
                    return True
            except Exception:  # noqa: BLE001 - a failure (state, time limit, bug) is the driver's to report
                return True
        return False


_VERDICTS: dict[str, _PythonVerdicts] = {}


def finish_rows(wanted: tuple[tuple[str, str], ...], context: LoadContext, python_types: frozenset[str],
                ask_python: bool, keep_text: bool):
    """The ``mapInArrow`` function that ends the query in each executor: events of
    ``python_types`` that no declarative unit needs are asked of the Python rules (``(id,
    file)`` pairs, loaded once per executor process) when ``ask_python``, else all kept; the
    kept events and the summary rows pass on (texts only when ``keep_text``), and the rest are
    counted per piece and log type (rows with ``line`` NULL), so that only those cross the
    network."""
    key = repr((wanted, context))
    types = pa.array(sorted(python_types), pa.string())

    def run(batches):
        counts: dict[tuple[int, str], int] = {}
        for batch in batches:
            need = batch.column("need")
            theirs = pc.and_(pc.invert(need), pc.is_in(batch.column("lt"), value_set=types)).fill_null(False)
            if pc.any(theirs).as_py():
                if ask_python:
                    verdicts = _VERDICTS.get(key)
                    if verdicts is None:
                        verdicts = _VERDICTS[key] = _PythonVerdicts(wanted, context)
                    flags = need.to_pylist()
                    texts, kinds = batch.column("j"), batch.column("lt")
                    for i in pc.indices_nonzero(theirs).to_pylist():
                        flags[i] = verdicts(texts[i].as_py(), kinds[i].as_py())
                    need = pa.array(flags, pa.bool_())
                else:
                    need = pc.or_(need, theirs)
            rest = batch.filter(pc.invert(need))
            if rest.num_rows:
                grouped = pa.table({"piece": rest.column("piece"), "lt": rest.column("lt")}).group_by(
                    ["piece", "lt"]).aggregate([("lt", "count")])
                for piece, lt, n in zip(*(grouped.column(c).to_pylist() for c in ("piece", "lt", "lt_count")),
                                        strict=True):
                    counts[(piece, lt)] = counts.get((piece, lt), 0) + n
            kept = batch.filter(need)
            if kept.num_rows:
                text = kept.column("j") if keep_text else pa.nulls(kept.num_rows, pa.binary())
                yield _finished_batch([kept.column("piece"), kept.column("line"), kept.column("n"), kept.column("note"),
                                       kept.column("lt"), kept.column("h"), text,
                                       pa.array([1] * kept.num_rows, pa.int64())])
        if counts:
            pieces, kinds = zip(*counts, strict=True)
            n = len(counts)
            yield _finished_batch([pa.array(pieces), pa.nulls(n), pa.nulls(n), pa.nulls(n), pa.array(kinds),
                                   pa.nulls(n), pa.nulls(n), pa.array(list(counts.values()))])

    return run


_FINISHED_ARROW = pa.schema([("piece", pa.int32()), ("line", pa.int64()), ("n", pa.int64()), ("note", pa.string()),
                             ("lt", pa.string()), ("h", pa.list_(pa.field("element", pa.int32()))),
                             ("j", pa.binary()), ("count", pa.int64())])


def _finished_batch(arrays: list[pa.Array]) -> pa.RecordBatch:
    """A batch of ``FINISHED`` rows: every batch of a ``mapInArrow`` must have one schema (the
    child names and nullability of lists included), whatever the arrays came with."""
    return pa.RecordBatch.from_arrays([a.cast(f.type) for a, f in zip(arrays, _FINISHED_ARROW, strict=True)],
                                      schema=_FINISHED_ARROW)


def _sql_text(pattern: str) -> str:
    """A regex as the body of a Spark SQL string literal (backslashes and quotes escaped)."""
    return pattern.replace("\\", "\\\\").replace("'", "\\'")


def scan_spark(paths: Iterable[str | Path], rules: Sequence[Rule] | LoadResult, *, session=None,
               master: str = DEFAULT_MASTER, conf: Mapping[str, str] | None = None,
               state: StateStore | None = None, on_match: Callable[[Match], None] | None = None,
               on_alert=None, strict: bool = False, limits: ReadLimits | None = None,
               dead_letter: IO[bytes] | None = None, keep_duplicates: bool = False,
               range_bytes: int = RANGE_BYTES, query_bytes: int = QUERY_BYTES,
               executor_path: Callable[[str], str] | None = None) -> ScanResult:
    """Scan log files with the Spark engine: the same ``ScanResult`` as ``api.scan`` gives.
    ``session`` (else one made from ``master`` and ``conf``) runs the matching; ``range_bytes``,
    ``query_bytes`` and ``executor_path``: see ``SparkEngine``."""
    load_errors: list[Any] = []
    if isinstance(rules, LoadResult):
        load_errors = list(rules.errors)
        rules = rules.rules
    spark = session or spark_session(master, conf)
    kept: list = []
    gate = AlertGate(on_alert or kept.append)
    reader = LogReader(strict=strict, dead_letter=dead_letter, limits=limits or ReadLimits())
    with scan_session(state, keep_duplicates, DEFAULT_MEMORY_IDS) as seen:
        engine = SparkEngine(rules, spark, state=state, on_match=on_match, strict=strict,
                             on_unknown=unknown_keeper(dead_letter), seen=seen,
                             threads=min(2, os.cpu_count() or 1), range_bytes=range_bytes,
                             query_bytes=query_bytes, executor_path=executor_path)
        gate(engine.scan_paths(paths, reader))
    return scan_result(kept, gate, engine.stream, reader, load_errors, rules)

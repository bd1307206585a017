"""The Spark engine: the batch engine's matching run in Apache Spark, alerts from the one
alerting code.

Inputs are read as the batch engine reads them (the same readers: JSON lines, ``.gz``, JSON
documents, CSV, Parquet, directories; malformed lines reported with file:line), in batches of
events as JSON text. Each batch is a Spark DataFrame; Spark parses it (``try_parse_json``, a
VARIANT per event) and decides, per event, its log type and every declarative unit's predicate
with the three-valued SQL of ``compile/sql.py`` written for Spark by ``compile/dialects.py``.
The predicates are the portable ones: regex, glob, CIDR and ordering tests and walks over
arrays of objects are left unsure, because Spark's regexes are Java's, not RE2. Only the events
that matched, or that Spark was unsure of, come back to the driver, where the batch engine's
own code digests them (``BatchEngine._run_batch``): the alerts are the streaming engine's.
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow as pa
import sqlglot.expressions as sx

from tokentrail import schemas
from tokentrail.alerting.delivery import AlertGate
from tokentrail.alerting.models import Alert, Match
from tokentrail.compile.dialects import render
from tokentrail.compile.sql import TEXTS, FieldTable, LeafTable, compile_sql
from tokentrail.engine import ScanResult
from tokentrail.engine.batch import BatchEngine, _anchors, detection_sql, unit_condition
from tokentrail.engine.dedup import DEFAULT_MEMORY_IDS
from tokentrail.engine.plan import UNKNOWN
from tokentrail.engine.session import scan_result, scan_session, unknown_keeper
from tokentrail.engine.stream import StreamingEngine
from tokentrail.errors import ConfigError
from tokentrail.rules.loader import LoadContext, LoadResult, load_rules
from tokentrail.rules.model import Rule
from tokentrail.sources.files import LogReader, ReadLimits
from tokentrail.state import StateStore

DEFAULT_MASTER = "local[2]"
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
    return builder.getOrCreate()


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
    engine's. ``session`` is a SparkSession (``spark_session()``)."""

    def __init__(self, rules: Sequence[Rule], session, *, context: LoadContext | None = None, **kwargs: Any) -> None:
        super().__init__(rules, **kwargs)
        self.spark = session
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
        return f"""
WITH s AS (SELECT line, CASE WHEN is_valid_utf8(CAST(j AS STRING)) THEN CAST(j AS STRING) END AS j FROM batch),
p AS (SELECT line, j, j IS NULL OR j RLIKE '{lenient}' AS odd FROM s),
q AS (SELECT line, j, odd, CASE WHEN NOT odd THEN try_parse_json(j) END AS v,
      j RLIKE '{_sql_text(_DOTTED)}' OR INSTR(j, '\\\\"') > 0 AS dotted FROM p),
r AS (SELECT line, j, odd, v, dotted, transform(array({schemas_sql}), {names}) AS t FROM q),
d AS (SELECT line, j, v, dotted, t, CASE WHEN NOT odd AND {top_sql} THEN {detect} END AS lt FROM r),
f AS (SELECT line, j, lt, dotted, t, array({texts}) AS {TEXTS} FROM d),
h AS (SELECT *, {lowered} FROM f),
g AS (SELECT line, j, lt{leaf_cols} FROM h),
c AS (SELECT line, j, lt, {codes_sql} AS h FROM g)
SELECT line, lt, h, j, lt IS NULL OR coalesce(array_contains(h, CAST(1 AS TINYINT))
       OR array_contains(h, CAST(-1 AS TINYINT)), FALSE) AS need FROM c
"""

    def _scan_parquet(self, reader: LogReader, path: str | Path) -> list[Alert]:
        """Parquet rows go to Spark as JSON text, as every other input does (the DuckDB engine
        matches Parquet over its typed columns instead)."""
        alerts: list[Alert] = []
        for batch in self._parquet_as_json(reader, path):
            alerts.extend(self._run_batch(batch, str(path), reader))
        return alerts

    def match_rows(self, table: pa.Table) -> list[tuple[Any, ...]]:
        """The batch engine's rows for ``table``, decided by Spark: per event whether the driver
        must see it (``need``); events of log types with Python rules are asked of those rules
        in the executors (``mapInArrow``) first, and only those a rule may match come back."""
        from pyspark.sql import functions as F

        self.spark.createDataFrame(table).createOrReplaceTempView("batch")
        base = self.spark.sql(self.spark_sql)
        # With a duplicate filter, every event of those log types goes to the driver (as in the
        # DuckDB engine): the filter keys the events it is shown, and its counts must be the
        # streaming engine's.
        if self.python_types and self.stream.seen is None:
            asks_python = F.col("lt").isin(sorted(self.python_types)) & ~F.col("need")
            # Their codes are all 0 (or there are none): the driver needs no codes for them.
            flagged = (base.filter(asks_python).select("line", "lt", "j")
                       .mapInArrow(python_flags(self.python_rules, self.context), "line long, lt string, need boolean")
                       .withColumn("h", F.lit(None).cast("array<tinyint>")))
            rows = base.filter(~asks_python).drop("j").unionByName(flagged)
        else:
            rows = base.drop("j")
            if self.python_types:
                rows = rows.withColumn("need", F.col("need") | F.col("lt").isin(sorted(self.python_types)))
        need = F.col("need")
        counted = rows.groupBy(F.when(need, F.col("line")).alias("line"), "lt",
                               F.when(need, F.col("h")).alias("h")).count()
        out = [(r[0], r[1], None if r[2] is None else list(r[2]), r[3]) for r in counted.collect()]
        self.to_driver += sum(1 for r in out if r[0] is not None)
        return out


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


def python_flags(wanted: tuple[tuple[str, str], ...], context: LoadContext):
    """The ``mapInArrow`` function that runs the Python rules (``(id, file)`` pairs, loaded
    once per executor process) on each event and keeps the event's row, with ``need`` set when
    one of them may match."""
    key = repr((wanted, context))

    def run(batches):
        verdicts = _VERDICTS.get(key)
        if verdicts is None:
            verdicts = _VERDICTS[key] = _PythonVerdicts(wanted, context)
        for batch in batches:
            lines, types = batch.column("j").to_pylist(), batch.column("lt").to_pylist()
            need = pa.array([verdicts(j, lt) for j, lt in zip(lines, types, strict=True)], pa.bool_())
            yield pa.RecordBatch.from_arrays([batch.column("line"), batch.column("lt"), need],
                                             names=["line", "lt", "need"])

    return run


def _sql_text(pattern: str) -> str:
    """A regex as the body of a Spark SQL string literal (backslashes and quotes escaped)."""
    return pattern.replace("\\", "\\\\").replace("'", "\\'")


def scan_spark(paths: Iterable[str | Path], rules: Sequence[Rule] | LoadResult, *, session=None,
               master: str = DEFAULT_MASTER, conf: Mapping[str, str] | None = None,
               state: StateStore | None = None, on_match: Callable[[Match], None] | None = None,
               on_alert=None, strict: bool = False, limits: ReadLimits | None = None,
               dead_letter: IO[bytes] | None = None, keep_duplicates: bool = False) -> ScanResult:
    """Scan log files with the Spark engine: the same ``ScanResult`` as ``api.scan`` gives.
    ``session`` (else one made from ``master`` and ``conf``) runs the matching."""
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
                             threads=min(2, os.cpu_count() or 1))
        gate(engine.scan_paths(paths, reader))
    return scan_result(kept, gate, engine.stream, reader, load_errors, rules)

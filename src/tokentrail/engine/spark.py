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
Events of log types with Panther Python rules come back too, and the streaming engine runs
those rules on the driver.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import sqlglot.expressions as sx

from tokentrail.alerting.delivery import AlertGate
from tokentrail.alerting.models import Match
from tokentrail.compile.dialects import render
from tokentrail.compile.sql import TEXTS, FieldTable, LeafTable, compile_sql
from tokentrail.engine import ScanResult
from tokentrail.engine.batch import BatchEngine, _anchors, detection_sql, unit_expr
from tokentrail.engine.dedup import DEFAULT_MEMORY_IDS
from tokentrail.engine.plan import UNKNOWN
from tokentrail.engine.session import scan_result, scan_session, unknown_keeper
from tokentrail.errors import ConfigError
from tokentrail.rules.loader import LoadResult
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


def _type_of(path: str) -> sx.Expression:
    """The JSON type at ``path`` in DuckDB's names (VARCHAR, BOOLEAN, NULL, OBJECT, ARRAY; any
    number is NUMBER), NULL when the path is absent."""
    s = sx.Anonymous(this="schema_of_variant", expressions=[
        sx.Anonymous(this="variant_get", expressions=[sx.column("v"), sx.Literal.string(variant_path(path)),
                                                      sx.Literal.string("variant")])])
    names = [("STRING", "VARCHAR"), ("BOOLEAN", "BOOLEAN"), ("VOID", "NULL")]
    ifs = [sx.If(this=sx.EQ(this=s.copy(), expression=sx.Literal.string(a)), true=sx.Literal.string(b))
           for a, b in names]
    ifs += [sx.If(this=sx.Like(this=s.copy(), expression=sx.Literal.string(f"{a}%")), true=sx.Literal.string(a))
            for a in ("OBJECT", "ARRAY")]
    return sx.Case(ifs=[sx.If(this=sx.Is(this=s.copy(), expression=sx.null()), true=sx.null()), *ifs],
                   default=sx.Literal.string("NUMBER"))


def _text_of(path: str) -> sx.Expression:
    return sx.Anonymous(this="variant_get", expressions=[sx.column("v"), sx.Literal.string(variant_path(path)),
                                                         sx.Literal.string("string")])


class SparkEngine(BatchEngine):
    """Runs a rule set over files with Spark deciding the matches; the alerts are the streaming
    engine's. ``session`` is a SparkSession (``spark_session()``)."""

    def __init__(self, rules: Sequence[Rule], session, **kwargs: Any) -> None:
        super().__init__(rules, **kwargs)
        self.spark = session
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
            codes = [sx.Coalesce(this=sx.Cast(this=compile_sql(unit_expr(u, anchors), fields, ci_fields=index.ci,
                                                                leaves=leaves, portable=True),
                                              to=sx.DataType.build("TINYINT")),
                                 expressions=[sx.Literal.number(-1)]) for u in self.by_type[lt]]
            if codes:
                branches.append(sx.If(this=sx.EQ(this=sx.column("lt"), expression=sx.Literal.string(lt)),
                                      true=sx.Array(expressions=codes)))
        top = sx.EQ(this=fields.type_of("$"), expression=sx.Literal.string("OBJECT"))
        detect = render(detection_sql(fields), "spark")
        codes_sql = render(sx.Case(ifs=branches, default=sx.null()), "spark") if branches else "NULL"
        types = ", ".join(render(_type_of(p), "spark") for p in fields.types) or "NULL"
        texts = ", ".join(render(_text_of(p), "spark") for p in fields.texts) or "NULL"
        lowered = render(fields.lowered_column(), "spark")
        leaf_cols = "".join(", " + render(c, "spark") for c in leaves.columns())
        python = ", ".join(f"'{lt}'" for lt in sorted(self.python_types)) or "''"
        top_sql = render(top, "spark")
        return f"""
WITH s AS (SELECT line, CASE WHEN is_valid_utf8(CAST(j AS STRING)) THEN CAST(j AS STRING) END AS j FROM batch),
p AS (SELECT line, j, try_parse_json(j) AS v,
      j RLIKE '{_sql_text(_DOTTED)}' OR INSTR(j, '\\\\"') > 0 AS dotted FROM s),
r AS (SELECT line, v, dotted, array({types}) AS t FROM p WHERE j IS NOT NULL AND NOT j RLIKE '{_sql_text(_LENIENT)}'),
d AS (SELECT line, v, dotted, t, CASE WHEN {top_sql} THEN {detect} END AS lt FROM r),
f AS (SELECT line, lt, dotted, t, array({texts}) AS {TEXTS} FROM d WHERE lt IS NOT NULL),
h AS (SELECT *, {lowered} FROM f),
g AS (SELECT line, lt{leaf_cols} FROM h),
c AS (SELECT line, lt, {codes_sql} AS h FROM g)
SELECT line, lt, h, 1 AS n FROM c WHERE lt IN ({python}) OR array_contains(h, CAST(1 AS TINYINT))
    OR array_contains(h, CAST(-1 AS TINYINT))
UNION ALL SELECT NULL, lt, NULL, count(*) FROM c
    WHERE NOT (lt IN ({python}) OR coalesce(array_contains(h, CAST(1 AS TINYINT))
        OR array_contains(h, CAST(-1 AS TINYINT)), FALSE)) GROUP BY lt
UNION ALL SELECT line, NULL, NULL, 1 FROM d WHERE lt IS NULL
UNION ALL SELECT line, NULL, NULL, 1 FROM p WHERE j IS NULL OR j RLIKE '{_sql_text(_LENIENT)}'
"""

    def match_rows(self, table: pa.Table) -> list[tuple[Any, ...]]:
        """The batch engine's rows for ``table``, decided by Spark."""
        frame = self.spark.createDataFrame(table)
        frame.createOrReplaceTempView("batch")
        rows = self.spark.sql(self.spark_sql).collect()
        return [(r[0], r[1], None if r[2] is None else list(r[2]), r[3]) for r in rows]


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

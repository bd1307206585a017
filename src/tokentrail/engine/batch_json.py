"""JSON lines into the batch engine: DuckDB settles the events no rule can match.

The JSON-text query (``BatchEngine.match_rows``) reads every path its rules read from every
event: over a busy Okta log that costs several times the streaming engine. Most events need far
less, as the streaming engine's fast path (``engine/prefilter.py``) shows: an event of a known
log type whose anchor field (the event type) holds a string for which no unit of that log type
can match needs nothing but counting. Here that proof is made for a whole batch of raw lines at
once: one DuckDB query parses each line once (``json_extract`` of the keys that decide its log
type and of its anchor field, on both cores), and per distinct anchor value Python decides, as
``LogTypeIndex`` and the fast path decide it, whether a unit could match — by the value, then by
the texts the units left need (``required_literals``), which an ASCII line lower-cased must hold.

A line is *settled* (counted per log type, as the JSON-text query counts the events it finds no
match in) when that proof holds, or when its log type has no rules; every other line goes whole
to the streaming engine (``StreamingEngine.process``), which reads, matches and reports it as a
streaming scan does. That is also where a line goes whose reading could differ between DuckDB
and orjson (the streaming reader): one not opening with ``{``, holding a backslash (escapes: a
lone surrogate, a key spelled ``\\u0065ventType``), not strictly well-formed to simdjson (NaN,
infinities, trailing commas, numbers past a double or 64-bit integers and nesting past 1,024
levels are JSON to DuckDB, not to orjson), or holding a key the proof read twice (DuckDB reads
the first of duplicate keys, orjson keeps the last). Events of log types with Python rules, of
case-insensitive log types and of log types anchored on several fields are never settled here.

The matching events are thus handled in Python, not by the JSON-text query: on the bundled pack
and simulated Okta events that costs half the CPU time the query takes for them (measured in
docs/benchmarks.md). Alerts are the streaming engine's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import simdjson
import sqlglot.expressions as sx

from tokentrail.compile.sql import json_path
from tokentrail.engine.anchors import assume_anchor_value
from tokentrail.engine.batch_lines import LineBatch, report_before
from tokentrail.engine.plan import LogTypeIndex
from tokentrail.engine.prefilter import required_literals
from tokentrail.rules.ir import Const
from tokentrail.schemas.registry import registry
from tokentrail.sources.files import LogReader
from tokentrail.sources.held import HeldReject

if TYPE_CHECKING:
    from tokentrail.alerting.models import Alert
    from tokentrail.engine.batch import BatchEngine

MAX_STRICT_BYTES = 1 << 20  # longest line checked here (the parser keeps a buffer that long)


class JsonLinesTriage:
    """The triage query of one batch engine and its verdicts per anchor value (see the module
    doc)."""

    def __init__(self, engine: BatchEngine) -> None:
        self.engine = engine
        plan = engine.stream.plan
        paths: dict[str, int] = {}

        def index_of(path: str) -> int:
            return paths.setdefault(path, len(paths))

        ifs: list[sx.If] = []
        # Per log type (in the detector's order): the keys whose duplicates could change the
        # verdict — heads of nested detection keys of this and every earlier log type, and the
        # anchor path's keys.
        self.needles: dict[str, tuple[tuple[bytes, bool], ...]] = {}
        heads: list[str] = []
        anchor_cases: list[sx.If] = []
        self.anchored: set[str] = set()
        for lt in registry().log_types:
            if lt.is_ecs or not lt.detect:
                continue
            tests = []
            for keys in lt.detect:
                present = []
                for key in keys:
                    parts = tuple(key.split("."))
                    routes = [parts] + ([(key,)] if len(parts) > 1 else [])
                    if len(parts) > 1:
                        heads.append(parts[0])
                    present.append(sx.or_(*(self._present(index_of(_path(r))) for r in routes)))
                tests.append(sx.and_(*present))
            ifs.append(sx.If(this=sx.or_(*tests), true=sx.Literal.string(lt.name)))
            needles = list(dict.fromkeys(heads))
            index = plan.indexes.get(lt.name)
            if index is not None and self._table_applies(index, lt.name):
                assert index.key_path is not None
                path = json_path(index.key_path)
                assert path is not None
                self.anchored.add(lt.name)
                needles.extend(p for p in index.key_path if p not in needles)
                at = sx.Bracket(this=sx.column("x"), expressions=[sx.Literal.number(index_of(path))])
                # Its text when it is a JSON string: a string value's JSON text is quoted.
                anchor = sx.Case(ifs=[sx.If(this=sx.Anonymous(this="starts_with", expressions=[
                    at, sx.Literal.string('"')]), true=sx.Anonymous(this="json_extract_string", expressions=[
                        at.copy(), sx.Literal.string("$")]))])
                anchor_cases.append(sx.If(this=sx.EQ(this=sx.column("lt"), expression=sx.Literal.string(lt.name)),
                                          true=anchor))
            required = set.intersection(*({k for k in keys if "." not in k} for keys in lt.detect))
            self.needles[lt.name] = tuple((f'"{n}"'.encode(), n in required) for n in needles)
        detect = sx.Case(ifs=ifs, default=sx.null()).sql("duckdb")
        anchor_sql = sx.Case(ifs=anchor_cases, default=sx.null()).sql("duckdb") if anchor_cases else "NULL"
        path_list = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        self.sql = f"""
WITH p AS (SELECT line, CASE WHEN ok THEN try(json_extract(v, [{path_list}])) END AS x FROM incoming),
d AS (SELECT line, x, CASE WHEN x IS NOT NULL THEN {detect} END AS lt FROM p)
SELECT lt, {anchor_sql} AS a FROM d ORDER BY line
"""
        self.parser = simdjson.Parser()
        self.verdicts: dict[tuple[str, str], tuple[bytes, ...] | None] = {}

    @staticmethod
    def _present(i: int) -> sx.Expression:
        return sx.Not(this=sx.Is(this=sx.Bracket(this=sx.column("x"), expressions=[sx.Literal.number(i)]),
                                 expression=sx.null()))

    def _table_applies(self, index: LogTypeIndex, lt: str) -> bool:
        """Whether events of ``lt`` can be settled by their anchor value alone: no Python rule,
        one plain anchor path, exact key reads (not a case-insensitive log type)."""
        return (lt not in self.engine.python_read_types and index.key_path is not None and not index.ci
                and json_path(index.key_path) is not None)

    def _literals(self, lt: str, value: str) -> tuple[bytes, ...] | None:
        """For events of ``lt`` whose anchor field holds ``value``: the texts one of which an
        ASCII line, lower-cased, must hold for a unit to match (empty: none can), or None when
        some unit that could match needs no text (as the streaming fast path decides it)."""
        key = (lt, value)
        if key in self.verdicts:
            return self.verdicts[key]
        index = self.engine.stream.plan.indexes[lt]
        name = ".".join(index.key_path or ())
        low = value.lower()
        found: set[str] | None = set()
        for unit in (*index.anchored.get(name, {}).get(low, ()), *index.unanchored):
            expr = assume_anchor_value(unit.expr if unit.expr is not None else Const(False), name, low)
            if expr == Const(False):
                continue
            texts = required_literals(expr)
            if texts is None:
                found = None
                break
            found |= texts
        verdict = self.verdicts[key] = None if found is None else tuple(t.encode() for t in sorted(found))
        return verdict

    def settled(self, lines: list[bytes]) -> tuple[np.ndarray, pa.Array]:
        """Per line, whether it is settled (see the module doc), and its log type by the key sets
        (NULL for a line DuckDB could not read or recognise)."""
        n = len(lines)
        buf = b"\n".join(lines)
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(np.fromiter(map(len, lines), np.int64, n) + 1, out=offsets[1:])
        offsets[-1] = len(buf)
        # Each value keeps the newline after it (whitespace to JSON): the buffer is used as it is.
        text = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf))
        con = self.engine.con
        con.register("incoming", pa.table({"line": pa.array(np.arange(n)), "v": text,
                                           "ok": pa.array(_strict(lines, self.parser))}))
        try:
            result = con.sql(self.sql).to_arrow_table()
        finally:
            con.unregister("incoming")
        lt = result.column("lt").combine_chunks()
        anchors = result.column("a").combine_chunks()
        out = np.zeros(n, np.bool_)
        indexes = self.engine.stream.plan.indexes
        for name in pc.unique(lt.drop_null()).to_pylist():
            mine = pc.equal(lt, name).fill_null(False).to_numpy(zero_copy_only=False)
            if name not in indexes:
                out[mine] = True  # no rule reads this log type
            elif name in self.anchored:
                self._settle(out, mine, anchors, lines, name)
                self._unsettle_duplicates(out, mine, lines, buf, self.needles[name])
        return out, lt

    def _settle(self, out: np.ndarray, mine: np.ndarray, anchors: pa.Array, lines: list[bytes], lt: str) -> None:
        """Settle the lines of ``mine`` (of log type ``lt``) no unit can match: by their anchor
        value, then by the texts the units left need (ASCII lines without a backslash spell
        every string as it is, so a text not in the line is in no value)."""
        rows = np.flatnonzero(mine)
        values = anchors.filter(pa.array(mine))
        for value in pc.unique(values).to_pylist():
            if value is None:
                continue  # not a string: the general path decides
            texts = self._literals(lt, value)
            if texts is None:
                continue
            at = rows[pc.equal(values, value).fill_null(False).to_numpy(zero_copy_only=False)]
            if not texts:
                out[at] = True
                continue
            for i in at:
                line = lines[i]
                if line.isascii():
                    lowered = line.lower()
                    out[i] = not any(t in lowered for t in texts)

    @staticmethod
    def _unsettle_duplicates(out: np.ndarray, mine: np.ndarray, lines: list[bytes], buf: bytes,
                             needles: tuple[tuple[bytes, bool], ...]) -> None:
        """Unsettle the settled lines of ``mine`` in which a key of ``needles`` may occur twice.

        Without escapes (a line with a backslash is never settled) ``"key"`` is a key or a whole
        string value, so a line holds a key twice only where that text occurs twice. A key the
        detector requires (``required``) is in every line of ``mine``: when the whole batch
        holds it exactly that often (or a key nowhere), no line holds it twice, and the lines
        need not be searched one by one."""
        for needle, required in needles:
            total = buf.count(needle)
            if total == 0 or (required and total == int(mine.sum())):
                continue
            twice = [i for i in np.flatnonzero(mine & out) if lines[i].count(needle) > 1]
            out[twice] = False


def _path(parts: tuple[str, ...]) -> str:
    path = json_path(parts)
    if path is None:  # the registry's detection keys are plain names
        raise ValueError(f"no JSON path spells the key {'.'.join(parts)!r}")
    return path


def _strict(lines: list[bytes], parser: simdjson.Parser) -> np.ndarray:
    """Per line, whether orjson reads it as simdjson (a strict parser that builds nothing) and
    DuckDB read it: an object opening the line, no backslash (escapes: a lone surrogate, or a
    key spelled with ``\\u``), well-formed to simdjson (no NaN, infinities, trailing commas or
    numbers past a double or 64-bit integers, which DuckDB accepts and orjson rejects; no
    nesting past 1,024 levels, orjson's limit too), at most ``MAX_STRICT_BYTES`` long. Any
    other line is not settled."""
    parse = parser.parse
    ok = np.zeros(len(lines), np.bool_)
    for i, line in enumerate(lines):
        if line[:1] != b"{" or b"\\" in line or len(line) > MAX_STRICT_BYTES:
            continue
        try:
            parse(line)
        except (ValueError, RuntimeError):  # UnicodeDecodeError is a ValueError
            continue
        ok[i] = True
    return ok


def run_lines(engine: BatchEngine, triage: JsonLinesTriage | None, batch: LineBatch, source: str,
              reader: LogReader) -> list[Alert]:
    """One batch of raw JSON lines through the triage (None: through the JSON-text query, for
    an engine matching elsewhere): the settled ones counted, the rest handed whole to the
    streaming engine (``BatchEngine._route``); the batch's over-long lines reported in order."""
    numbers, lines, held = batch.numbers, batch.lines, batch.held
    alerts: list[Alert] = []
    if lines:
        settled = None
        if triage is not None:
            try:
                settled, lt = triage.settled(lines)
            except duckdb.Error:
                settled = None  # the JSON-text query decides them all
        if settled is None:
            alerts = engine.run_text(numbers, lines, source, reader, held=held)
        else:
            rows: list[tuple[Any, ...]] = []
            if settled.any():
                for entry in pc.value_counts(lt.filter(pa.array(settled))).to_pylist():
                    rows.append((None, entry["values"], None, entry["counts"]))
            rows.extend((int(i), None, None, 1) for i in np.flatnonzero(~settled))
            alerts = engine.route_lines(rows, numbers, lines, source, reader, held=held)
    report_before(held, None)
    return alerts


def parsed_events(lines: list[bytes], numbers: list[int], wanted: Iterable[tuple[Any, ...]], source: str,
                  reader: LogReader, held: deque[HeldReject] | None = None,
                  ) -> Iterable[tuple[Mapping[str, Any] | None, int]]:
    """The events of the ``wanted`` rows (position first) parsed as the streaming reader parses
    them; a line it rejects is reported and gives None. The ``held`` over-long lines before each
    line are reported first, as a streaming read meets them."""
    loads = orjson.loads
    for pos, *_ in wanted:
        line, lineno = lines[pos], numbers[pos]
        if held:
            report_before(held, lineno)
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

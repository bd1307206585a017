"""JSON lines into the batch engine: the events no rule can match are only counted.

The JSON-text query (``BatchEngine.match_rows``) reads every path its rules read from every
event: over a busy Okta log that costs several times the streaming engine. Most events need far
less, as the streaming engine's fast path (``engine/prefilter.py``) shows: an event of a known
log type whose anchor field (the event type) holds a string for which no unit of that log type
can match needs nothing but counting. Here that proof is made for a whole batch of raw lines:
simdjson reads each line once (a strict parser that builds no Python objects: the keys that
decide its log type and its anchor field are looked up in its document), and per distinct
anchor value Python decides, as ``LogTypeIndex`` and the fast path decide it, whether a unit
could match — by the value, then by the texts the units left need (``required_literals``),
which an ASCII line lower-cased must hold. (A DuckDB query doing the same with ``json_extract``
on both cores, which this replaced, cost 2.4 times as much CPU per line: docs/benchmarks.md.)

A line is *settled* (counted per log type, as the JSON-text query counts the events it finds no
match in) when that proof holds, or when its log type has no rules; every other line goes whole
to the streaming engine (``StreamingEngine.process``), which reads, matches and reports it as a
streaming scan does. That is also where a line goes whose reading could differ between simdjson
and orjson (the streaming reader): one not opening with ``{``, holding a backslash (escapes: a
lone surrogate, a key spelled ``\\u0065ventType``), not strictly well-formed to simdjson, past
``MAX_STRICT_BYTES``, or holding a key the proof read twice (simdjson finds the first of
duplicate keys, orjson keeps the last). Events of log types with Python rules, of
case-insensitive log types and of log types anchored on several fields are never settled here.

The matching events are thus handled in Python, not by the JSON-text query: on the bundled pack
and simulated Okta events that costs half the CPU time the query takes for them (measured in
docs/benchmarks.md). Alerts are the streaming engine's.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import simdjson

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
_OBJECT = simdjson.Object
TWICE = object()  # ``read``'s word for a line holding a key of the proof twice

Route = tuple[str, ...]  # keys through objects to a value


class JsonLinesTriage:
    """The triage of one batch engine: its log types' key sets and anchor paths, and its
    verdicts per anchor value (see the module doc)."""

    def __init__(self, engine: BatchEngine) -> None:
        self.engine = engine
        plan = engine.stream.plan
        # Per log type, in the detector's order: its key sets, each key a top-level name or the
        # routes that spell it (a nested key, and the same name as one literal dotted key).
        self.detect: list[tuple[str, tuple[tuple[str | tuple[Route, ...], ...], ...]]] = []
        # Per log type: the keys whose duplicates could change the verdict — heads of nested
        # detection keys of this and every earlier log type, and the anchor path's keys.
        self.needles: dict[str, tuple[bytes, ...]] = {}
        self.anchors: dict[str, Route] = {}  # the anchor path of each log type settled by it
        heads: list[str] = []
        for lt in registry().log_types:
            if lt.is_ecs or not lt.detect:
                continue
            sets = []
            for keys in lt.detect:
                routes: list[str | tuple[Route, ...]] = []
                for key in keys:
                    parts = tuple(key.split("."))
                    routes.append((parts, (key,)) if len(parts) > 1 else key)
                    if len(parts) > 1:
                        heads.append(parts[0])
                sets.append(tuple(routes))
            self.detect.append((lt.name, tuple(sets)))
            needles = list(dict.fromkeys(heads))
            index = plan.indexes.get(lt.name)
            if index is not None and self._table_applies(index, lt.name):
                assert index.key_path is not None
                self.anchors[lt.name] = index.key_path
                needles.extend(p for p in index.key_path if p not in needles)
            self.needles[lt.name] = tuple(f'"{n}"'.encode() for n in needles)
        self.anchored = set(self.anchors)
        self.parser = simdjson.Parser()
        self.verdicts: dict[tuple[str, str], tuple[bytes, ...] | None] = {}

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
        if found is not None and any(text in low for text in found):
            found = None  # every such line holds that text: its own anchor value spells it
        verdict = self.verdicts[key] = None if found is None else tuple(t.encode() for t in sorted(found))
        return verdict

    def read(self, line: bytes) -> tuple[str | None, object]:
        """A line's log type by the key sets (None when simdjson does not read it strictly, see
        the module doc, or no key set holds) and what settles it: ``TWICE`` when the line holds
        a key of the proof twice (never settled), else, for a log type settled by its anchor,
        the anchor field's value when it is a string (None otherwise)."""
        if line[:1] != b"{" or b"\\" in line or len(line) > MAX_STRICT_BYTES:
            return None, None
        try:
            doc = self.parser.parse(line)
        except (ValueError, RuntimeError):  # UnicodeDecodeError is a ValueError
            return None, None
        # The document's objects refer to the parser: every one is gone when this returns, so
        # the parser can read the next line.
        for name, sets in self.detect:
            for keys in sets:
                for key in keys:
                    if key.__class__ is str:
                        if key not in doc:
                            break
                    elif not any(_reach(doc, route, _ABSENT) is not _ABSENT for route in key):  # type: ignore[union-attr]
                        break
                else:
                    return name, self._anchor(doc, line, name)
        return None, None

    def _anchor(self, doc: Any, line: bytes, lt: str) -> object:
        """What settles a line of ``lt`` (its document ``doc``): see ``read``.

        Without escapes (a line with a backslash is never read) ``"key"`` is a key or a whole
        string value, so a line holds a key twice only where that text occurs twice."""
        for needle in self.needles[lt]:
            if line.count(needle) > 1:
                return TWICE
        path = self.anchors.get(lt)
        if path is None:
            return None
        value = _reach(doc, path)
        return value if value.__class__ is str else None

    def settled(self, lines: list[bytes]) -> tuple[np.ndarray, pa.Array]:
        """Per line, whether it is settled (see the module doc), and its log type by the key sets
        (NULL for a line simdjson could not read strictly or no key set recognises)."""
        n = len(lines)
        kinds: list[str | None] = [None] * n
        groups: dict[tuple[str, object], list[int]] = {}
        read = self.read
        for i, line in enumerate(lines):
            lt, anchor = read(line)
            if lt is not None:
                kinds[i] = lt
                groups.setdefault((lt, anchor), []).append(i)
        out = np.zeros(n, np.bool_)
        indexes = self.engine.stream.plan.indexes
        for (lt, anchor), rows in groups.items():
            if anchor is TWICE:
                continue
            if lt not in indexes:
                out[rows] = True  # no rule reads this log type
            elif anchor.__class__ is str:  # else not a string: the general path decides
                self._settle(out, rows, lines, lt, anchor)  # type: ignore[arg-type]
        return out, pa.array(kinds, pa.string())

    def _settle(self, out: np.ndarray, rows: list[int], lines: list[bytes], lt: str, value: str) -> None:
        """Settle the lines ``rows`` (of log type ``lt``, anchor value ``value``) no unit can
        match: by the value, then by the texts the units left need (ASCII lines without a
        backslash spell every string as it is, so a text not in the line is in no value)."""
        texts = self._literals(lt, value)
        if texts is None:
            return
        if not texts:
            out[rows] = True
            return
        for i in rows:
            line = lines[i]
            if line.isascii():
                lowered = line.lower()
                out[i] = not any(t in lowered for t in texts)


_ABSENT = object()


def _reach(doc: Any, route: Route, absent: Any = None) -> Any:
    """The value (JSON null too) ``route`` leads to through objects in ``doc``, or ``absent``."""
    node = doc
    for key in route:
        if node.__class__ is not _OBJECT or key not in node:
            return absent
        node = node[key]
    return node


def run_lines(engine: BatchEngine, triage: JsonLinesTriage | None, batch: LineBatch, source: str,
              reader: LogReader) -> list[Alert]:
    """One batch of raw JSON lines through the triage (None: through the JSON-text query, for
    an engine matching elsewhere): the settled ones counted, the rest handed whole to the
    streaming engine (``BatchEngine._route``); the batch's over-long lines reported in order."""
    numbers, lines, held = batch.numbers, batch.lines, batch.held
    alerts: list[Alert] = []
    if lines and triage is None:
        alerts = engine.run_text(numbers, lines, source, reader, held=held)
    elif lines:
        settled, lt = triage.settled(lines)
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

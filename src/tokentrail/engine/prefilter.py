"""The fast path: take a JSON line no loaded rule can match without building its Python objects.

A scan must still validate, count, recognise and deduplicate every event, but for most lines of a
busy log no rule can match, and building the full dict (``orjson.loads``) is then most of the
cost. Here such a line is validated by simdjson instead (a full, strict parse that builds
nothing), and only the few fields the proof needs are read from it lazily: the keys that decide
its log type, the anchor field (the event type) and the vendor id.

The proof, for a line taken here: its log type is the one the plain detector gives (the same
key-presence tests, in the same order; any other shape goes the plain way); its anchor field is
a string whose per-value function in the log type's index (``LogTypeIndex.by_value``, which
holds the unanchored rules too, already decided for that value) is "nothing can match"; and its
id is what the plain id reader gives. Where orjson and simdjson could read a line differently,
the line goes the plain way: a backslash anywhere (escaped keys such as ``\\u0075uid``), a first
byte other than ``{`` (a byte order mark, which simdjson accepts and orjson does not), and any
key the proof reads that occurs more than once in the raw line (orjson keeps the last of
duplicate keys, simdjson finds the first).

A rule set defeats the fast path when some rule could match an event whatever its event type
(a Python rule, or a declarative rule with no condition that pins the event type): the scan then
runs as before and says so once (``Prefilter.off``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simdjson

from tokentrail import schemas
from tokentrail.engine.anchors import assume_anchor_value
from tokentrail.engine.plan import LogTypeIndex, Plan
from tokentrail.rules.ir import All, Cmp, Const, Expr, Keywords
from tokentrail.rules.ir import Any as AnyOf

_OBJECT = simdjson.Object
_UNSEEN = object()
# A value no rule names: a unit whose expression still holds once the event type is assumed to be
# this can match events of any event type.
_ANY_VALUE = "\x00 any event type \x00"

Quick = Callable[[bytes], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Prefilter:
    """The fast path of one engine: ``take(raw)`` gives ``(log type, vendor id)`` for a line it
    proved no rule can match (already validated as a JSON object), or None for a line that must
    take the plain path. ``take`` is None when the fast path is off; ``off`` then says why, in
    one line (empty when it was not asked for)."""

    take: Quick | None
    off: str = ""


def build_prefilter(plan: Plan, forced_log_type: str | None = None) -> Prefilter:
    """The fast path for ``plan``'s rules (see the module docstring). With ``forced_log_type``
    (a resolved log type name) a line is taken only when its detected log type is that one, as
    the forced detector then leaves the event as it is."""
    for index in plan.indexes.values():
        why = _defeated_by(index)
        if why:
            return Prefilter(None, f"prefilter off: {why}")
    reg = schemas.registry()
    native = [lt for lt in reg.log_types if not lt.is_ecs and lt.detect]
    claims: list[tuple[Callable[[Any], bool], Callable[[Any, bytes], str | None]]] = []
    names: list[str] = []
    heads: list[bytes] = []  # heads of nested detection keys of this log type and those before it
    for lt in native:
        for keys in lt.detect:
            heads += [_needle(k.partition(".")[0]) for k in keys if "." in k]
        names.append(lt.name)
        take = None
        if forced_log_type is None or lt.name == forced_log_type:
            take = _taker(lt.name, plan.indexes.get(lt.name), tuple(dict.fromkeys(heads)))
        claims.append((_presence_test(lt.detect), take))
    parser = simdjson.Parser()
    parse = parser.parse

    def quick(raw: bytes) -> tuple[str, str] | None:
        if raw[:1] != b"{" or b"\\" in raw:
            return None
        try:
            doc = parse(raw)
        except (ValueError, RuntimeError):  # not JSON, or not as simdjson reads it (a number
            # past 64 bits): the plain path decides and reports it
            return None
        try:
            if doc.__class__ is not _OBJECT:
                return None
            for present, take in claims:
                if present(doc):
                    if take is None:
                        return None
                    return take(doc, raw)
            return None
        finally:
            del doc  # the parser is reused for the next line only once nothing refers to this one

    return Prefilter(quick)


def _defeated_by(index: LogTypeIndex) -> str:
    """Why ``index`` lets no event be skipped whatever its event type ("" when it does)."""
    for unit in index.python:
        return f"rule {unit.rule.id} has no required literal"
    if index.key_path is None:
        return ""  # such a log type's lines take the plain path (see _taker)
    name = ".".join(index.key_path)
    for unit in index.unanchored:
        expr = assume_anchor_value(unit.expr if unit.expr is not None else Const(False), name, _ANY_VALUE)
        if expr != Const(False) and required_literals(expr) is None:
            return f"rule {unit.rule.id} has no required literal"
    return ""


_TEXT_OPS = frozenset(["eq", "contains", "startswith", "endswith"])
# What the text of a JSON number can hold (``text_of``: decimal, or a float's repr such as
# 1e-05): a literal made of these alone could be in a number's text but not in its raw JSON
# spelling (1E2 is compared as "100").
_NUMBER_CHARS = frozenset("0123456789+-.e")


def required_literals(expr: Expr) -> frozenset[str] | None:
    """Lower-cased texts one of which every event ``expr`` holds for carries in some string (or
    boolean) value; None when there is no such set. Comparisons of numbers, patterns (glob,
    regex, CIDR), negations and field presence give none."""
    match expr:
        case Cmp(op=op, values=values) if op in _TEXT_OPS and values and all(v.__class__ is str for v in values):
            texts = frozenset(v.lower() for v in values)  # type: ignore[union-attr]
            return None if any(not t or set(t) <= _NUMBER_CHARS for t in texts) else texts
        case Keywords(values=values, op="contains") if values:
            return required_literals(Cmp("", "eq", values))
        case All(items):
            sets = [s for s in map(required_literals, items) if s is not None]
            # The most telling conjunct: the fewest texts, then the longest shortest one.
            return min(sets, key=lambda s: (len(s), -min(map(len, s), default=0)), default=None)
        case AnyOf(items) if items:
            sets = list(map(required_literals, items))
            return None if any(s is None for s in sets) else frozenset().union(*sets)  # type: ignore[arg-type]
        case Const(value=False):
            return frozenset()
        case _:
            return None


def _value_literals(index: LogTypeIndex, name: str, value: str) -> tuple[bytes, ...] | None:
    """For events whose anchor field lower-cases to ``value``: the texts one of which must be in
    the line for some unit to match (empty: no unit can), or None when some unit has none."""
    found: set[str] = set()
    for unit in (*index.anchored.get(name, {}).get(value, ()), *index.unanchored):
        expr = assume_anchor_value(unit.expr if unit.expr is not None else Const(False), name, value)
        if expr == Const(False):
            continue
        texts = required_literals(expr)
        if texts is None:
            return None
        found |= texts
    return tuple(t.encode() for t in sorted(found))


def _needle(key: str) -> bytes:
    """The bytes of ``key`` as a JSON key without escapes (a line with a backslash is never taken)."""
    return b'"' + key.encode() + b'"'


def _presence_test(key_sets: tuple[tuple[str, ...], ...]) -> Callable[[Any], bool]:
    """The plain detector's key-presence test for one log type, on a simdjson object (its nested
    keys are decided on the first of duplicate heads, which ``_taker``'s needles rule out)."""

    def present(doc: Any, key: str) -> bool:
        if "." not in key:
            return key in doc
        head, _, rest = key.partition(".")
        value = doc.get(head)
        for part in rest.split("."):
            if value.__class__ is not _OBJECT or part not in value:
                value = _UNSEEN
                break
            value = value.get(part)
        return value is not _UNSEEN or key in doc

    def test(doc: Any) -> bool:
        return any(all(present(doc, key) for key in keys) for keys in key_sets)

    return test


def _taker(log_type: str, index: LogTypeIndex | None,
           heads: tuple[bytes, ...]) -> Callable[[Any, bytes], tuple[str, str] | None] | None:
    """For a line of ``log_type``: ``(log_type, id)`` when no unit of ``index`` can match it and
    its id is read as the plain reader reads it, else None."""
    info = schemas.get_log_type(log_type)
    id_path = tuple(info.id_fields[0].split(".")) if info.id_fields else None
    if id_path is None:
        return None  # no id to deduplicate on: rare, and the plain path has the general reader
    if index is not None and index.key_path is None:
        return None  # rules anchored on several fields: the general path decides
    anchor = index.key_path if index is not None else None
    # Each key the proof reads, and the heads the detection read, must be there at most once.
    needles = tuple(dict.fromkeys([*heads, *map(_needle, id_path), *map(_needle, anchor or ())]))
    table: dict[str, tuple[bytes, ...] | None] = {}  # anchor value -> _value_literals
    name = ".".join(anchor or ())
    max_values, max_key = LogTypeIndex.MAX_VALUES, LogTypeIndex.MAX_KEY

    def read(doc: Any, path: tuple[str, ...]) -> Any:
        value = doc.get(path[0])
        for part in path[1:]:
            value = value.get(part) if value.__class__ is _OBJECT else None
        return value

    def take(doc: Any, raw: bytes) -> tuple[str, str] | None:
        if anchor is not None:
            value = read(doc, anchor)
            if value.__class__ is not str:
                return None
            low = value.lower()
            texts = table.get(low, _UNSEEN)
            if texts is _UNSEEN:
                if len(table) >= max_values or len(low) > max_key:
                    return None
                texts = table[low] = _value_literals(index, name, low)  # type: ignore[arg-type]
            if texts:
                # Without a backslash the line spells every string as it is; ASCII, its lower
                # case is every value's lower case.
                if not raw.isascii():
                    return None
                lowered = raw.lower()
                for text in texts:  # type: ignore[union-attr]
                    if text in lowered:
                        return None
            elif texts is None:
                return None  # some rule could match with no text to look for: the plain path runs it
        ident = read(doc, id_path)
        if ident.__class__ is not str or not ident:
            return None
        for needle in needles:
            if raw.count(needle) > 1:
                return None
        return log_type, ident

    return take


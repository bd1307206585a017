"""The fast path: take a JSON line no loaded rule can match without building its Python objects.

A scan must still validate, count, recognise and deduplicate every event, but for most lines of a
busy log no rule can match, and building the full dict (``orjson.loads``) is then most of the
cost. Here such a line is decoded by msgspec into a struct of only the fields the proof needs
(``linefields``): the keys the plain detector tests up to the log type the line is taken as (its
own and those of every log type tested before it), that log type's anchor field (the event type)
and its vendor id; every other value is skipped, not built. msgspec looks each key of a line up
among all the struct's fields, so each log type has a struct of its own, and a line is first
decoded with the struct of the log type the previous lines were (a log file is mostly of one);
a line of another log type is decoded once more with a struct of every log type's tested keys,
to find its log type and switch to it. simdjson then validates the whole line (``jsonguard``: a
strict parse that builds nothing), as msgspec's skipping does not check all that orjson does.
Together they cost less than building the line (orjson) and detecting and matching it (measured:
docs/benchmarks.md, "The fast path for small records" and "A cheaper proof").

The proof, for a line taken here: orjson accepts it as an object (msgspec decoded it, simdjson
accepts it, it holds no backslash and starts with ``{``: see ``jsonguard``); its log type is the
one the plain detector gives (the same key-presence tests, in the same order; of duplicate keys
the last counts, as in orjson's dict; any other shape goes the plain way); its anchor field
(event type) is a string for which no unit of the log type's index can match — the units
anchored on that value and the unanchored ones, each decided for that value as
``LogTypeIndex`` decides them (``assume_anchor_value``) — or for which every unit left needs a
text (``required_literals``) that the line, lower-cased, does not hold (ASCII lines only); and its
id is what the plain id reader gives. Without a backslash the line spells every key and string
as orjson reads it; a line with one (an escape, such as a lone surrogate) goes plain.

A rule set defeats the fast path when some rule could match an event whatever its event type
(a Python rule, or a declarative rule with no condition that pins the event type): the scan then
runs as before and says so once (``Prefilter.off``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from tokentrail import schemas
from tokentrail.engine.anchors import assume_anchor_value
from tokentrail.engine.dedup import dedup_key
from tokentrail.engine.jsonguard import GUARD, NOT_STRICT, strict_parser
from tokentrail.engine.linefields import UNSET, LineFields, Path, line_fields
from tokentrail.engine.plan import LogTypeIndex, Plan
from tokentrail.rules.ir import All, Cmp, Const, Expr, Keywords
from tokentrail.rules.ir import Any as AnyOf

_UNSEEN = object()
# A value no rule names: a unit whose expression still holds once the event type is assumed to be
# this can match events of any event type.
_ANY_VALUE = "\x00 any event type \x00"

Quick = Callable[[bytes], "tuple[str, str] | None"]


@dataclass(frozen=True)
class Prefilter:
    """The fast path of one engine: ``take(raw)`` gives ``(log type, dedup key)`` for a line it
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
    native = [t for t in schemas.registry().log_types if not t.is_ecs and t.detect]
    detect = _fields(native)
    namespace: dict[str, Any] = {"detect": detect.decode, "not_json": (msgspec.DecodeError, RecursionError),
                                 "parse": strict_parser(), "not_strict": NOT_STRICT,
                                 "UNSET": UNSET, "guess": -1}
    # Generated: one call per line. The line is decoded into the struct of the log type the last
    # line switched to (``guess``): the keys the plain detector tests up to that log type, its
    # anchor and its id. Its tests run inline in the detector's order, then that log type's proof.
    # Any other outcome (another log type, or none) decodes the keys of every log type's tests to
    # find the detector's answer, and when that log type has a proof, switches to it and runs it.
    lines = ["def quick(raw):", "    global guess", f"    if {GUARD}:", "        return None"]
    switch = []
    for n, lt in enumerate(native):
        proof = None
        if forced_log_type is None or lt.name == forced_log_type:
            fields = _fields(native[:n + 1], lt.name, plan.indexes.get(lt.name))
            proof = _proof(lt.name, plan.indexes.get(lt.name), n, fields)
        if proof is None:
            continue
        namespace[f"decode{n}"] = fields.decode
        _tables(plan.indexes.get(lt.name), n, namespace)
        earlier = " or ".join(_detected(fields, other) for other in native[:n])
        lines += [
            f"    {'elif' if switch else 'if'} guess == {n}:",
            "        try:",
            f"            doc = decode{n}(raw)",
            # Not JSON, not an object, or a field of another type than the struct's: plain.
            "        except not_json:",
            "            return None",
            f"        if {f'not ({earlier}) and ' if earlier else ''}{_detected(fields, lt)}:",
            *(" " * 4 + line for line in proof),
        ]
        switch.append(n)
    lines += [
        "    try:",
        "        doc = detect(raw)",
        "    except not_json:",
        "        return None",
    ]
    for n, lt in enumerate(native):
        lines += [f"    {'elif' if n else 'if'} {_detected(detect, lt)}:",
                  f"        found = {n}" if n in switch else "        return None"]
    lines += [
        "    else:",
        "        return None",
        # The struct of ``guess`` already gave another answer: its decode and this one differ in
        # which keys are present only through a bug; the plain path decides.
        "    if found == guess:",
        "        return None",
        "    guess = found",
        "    return quick(raw)",
    ]
    exec("\n".join(lines), namespace)  # noqa: S102 - built above from the registry's key names via repr()
    return Prefilter(namespace["quick"])


def _detect_paths(key: str) -> list[Path]:
    """The paths at which the plain detector finds ``key`` (schemas/detect.py ``_present``):
    through nested objects, or as a literal dotted key."""
    path = tuple(key.split("."))
    return [path] if len(path) == 1 else [path, (key,)]


def _detected(fields: LineFields, lt: Any) -> str:
    """Source that is true when the plain detector's key sets of ``lt`` hold for ``doc``: the
    keys common to every set first, tested once (``(a and b) or (a and c)`` is ``a and (b or c)``)."""
    common = [key for key in lt.detect[0] if all(key in keys for keys in lt.detect)]
    rests = [[key for key in keys if key not in common] for keys in lt.detect]
    terms = [_present(fields, key) for key in common]
    if all(rests):
        terms.append("(" + " or ".join("(" + " and ".join(_present(fields, key) for key in rest) + ")"
                                       for rest in rests) + ")")
    return "(" + " and ".join(terms) + ")"


def _present(fields: LineFields, key: str) -> str:
    return "(" + " or ".join(map(fields.present, _detect_paths(key))) + ")"


def _fields(tested: list[Any], log_type: str | None = None, index: LogTypeIndex | None = None) -> LineFields:
    """The decoder for every key the detector tests for the ``tested`` log types and, with
    ``log_type``, that log type's id and anchor (``index``): msgspec looks each key of a line up
    among all the struct's fields, so each log type has a struct of its own."""
    present = [p for lt in tested for keys in lt.detect for key in keys for p in _detect_paths(key)]
    values = [p for p in (_id_path(log_type) if log_type else None,
                          index.key_path if index is not None else None) if p is not None]
    return line_fields(present, values)


def _id_path(log_type: str) -> Path | None:
    """The path of the log type's first id field when the plain id reader reads it as one
    top-level key (a dotted one would also be looked up as a literal dotted key: not here)."""
    info = schemas.get_log_type(log_type)
    return (info.id_fields[0],) if info.id_fields and "." not in info.id_fields[0] else None


def _tables(index: LogTypeIndex | None, n: int, namespace: dict[str, Any]) -> None:
    """Put in ``namespace`` the table of the proof of log type ``n``: anchor value as the line
    spells it -> True (no unit can match events of that value), the texts one of which the line
    must hold for some unit to match, or False (the plain path decides); and the function that
    gives (and keeps) the verdict of a value first seen."""
    if index is None or index.key_path is None:
        return
    table: dict[Any, tuple[bytes, ...] | bool] = {}
    by_low: dict[str, tuple[bytes, ...] | None] = {}  # lower-cased anchor value -> _value_literals
    name = ".".join(index.key_path)

    def learn(value: Any) -> tuple[bytes, ...] | bool:
        if value.__class__ is not str:
            return False  # absent: no event type to decide by
        low = value.lower()
        texts = by_low.get(low, _UNSEEN)
        if texts is _UNSEEN:
            if len(by_low) >= LogTypeIndex.MAX_VALUES or len(low) > LogTypeIndex.MAX_KEY:
                return False  # as many values as the index keeps: the others take the plain path
            texts = by_low[low] = _value_literals(index, name, low)  # type: ignore[arg-type]
        # A text inside the value itself is in every line of that value (spelled as it is, the
        # line holds the value): no need to look for it, line after line.
        verdict = False if texts is None or any(t in low.encode() for t in texts) else texts or True
        if len(table) < LogTypeIndex.MAX_VALUES:  # spellings of the values kept, at most as many
            table[value] = verdict
        return verdict

    namespace[f"table{n}"], namespace[f"learn{n}"] = table, learn


def _proof(log_type: str, index: LogTypeIndex | None, n: int, fields: LineFields) -> list[str] | None:
    """Source lines that return ``(log_type, dedup key)`` for a line of ``log_type`` when no unit
    of ``index`` can match it and its id is read as the plain reader reads it, else None; None
    when no line of this log type can be taken."""
    id_path = _id_path(log_type)
    ident = fields.value(id_path) if id_path is not None else None
    if ident is None:
        return None  # no id the proof can read: rare, and the plain path has the general reader
    if index is not None and index.key_path is None:
        return None  # rules anchored on several fields: the general path decides
    anchor = index.key_path if index is not None else None
    out: list[str] = []
    if anchor is not None:
        value = fields.value(anchor)
        if value is None:
            return None
        out += [
            f"value = {value}",
            f"texts = table{n}.get(value)",
            "if texts is not True:",
            "    if texts is None:",
            f"        texts = learn{n}(value)",
            "    if texts is not True:",
            "        if texts is False:",
            "            return None",  # some rule could match with no text to look for
            # Without a backslash the line spells every string as it is; ASCII, its lower case
            # is every value's lower case.
            "        if not raw.isascii():",
            "            return None",
            "        lowered = raw.lower()",
            "        for text in texts:",
            "            if text in lowered:",
            "                return None",
        ]
    out += [
        f"ident = {ident}",
        "if not ident:",  # UNSET (absent) or empty
        "    return None",
        # Last, as most lines get this far: the strict parse (its document dropped at once).
        "try:",
        "    parse(raw)",
        "except not_strict:",
        "    return None",
        f"return {log_type!r}, {dedup_key(log_type, '')!r} + ident",
    ]
    return [" " * 8 + line for line in out]


def _defeated_by(index: LogTypeIndex) -> str:
    """Why ``index`` lets no event be skipped whatever its event type ("" when it does)."""
    for unit in index.python:
        return f"rule {unit.rule.id} has no required literal"
    if index.key_path is None:
        return ""  # such a log type's lines take the plain path (see _proof)
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


"""Evaluate an ``AggregateQuery`` (``rules/aggregates.py``) on one group of matches.

Each match brings the values of the fields the query reads, as the digest read them (its output
fields labelled by ``read_label``), and its event time. A ``QueryProgram`` is built once per
rule (row conditions compiled to predicates over those values); a ``QueryState`` per open group
folds each match in and, when the window closes, says whether the condition holds and what the
alert shows. Only running totals are kept: counts, sums, extremes and the distinct values asked
for — never the matches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from operator import eq, ge, gt, le, lt, ne
from typing import Any

from tokentrail.alerting.models import iso
from tokentrail.compile.fields import number_of, text_of
from tokentrail.compile.python import compile_expr
from tokentrail.rules.aggregates import (
    TIME,
    Aggregate,
    AggregateQuery,
    Arith,
    Compare,
    Condition,
    DateDiff,
    IsNull,
    Negate,
    Num,
    Ref,
    Value,
    read_label,
)
from tokentrail.rules.ir import All, Expr, Keywords, Not, fields_of, map_fields
from tokentrail.rules.ir import Any as AnyOf

Number = int | float | str  # str: MIN/MAX of a text field


class _Acc:
    """The running state of one aggregate: a count, a sum, an extreme, or distinct values."""

    __slots__ = ("best", "n", "seen", "total")

    def __init__(self, n: int = 0, total: Number = 0, best: Number | None = None,
                 seen: set[tuple[str, ...]] | None = None) -> None:
        self.n, self.total, self.best, self.seen = n, total, best, seen

    def add(self, kind: str, value: Any) -> None:
        if kind == "count":
            self.n += 1
        elif value is None:
            return  # a null counts for nothing but COUNT(*)
        elif kind == "distinct":
            assert self.seen is not None
            self.seen.add(value)
        else:
            self.n += 1
            if kind in ("sum", "avg"):
                self.total += value
            elif self.best is None or _before(value, self.best) == (kind == "min") and value != self.best:
                self.best = value

    def value(self, kind: str) -> Number | None:
        return _VALUE_OF[kind](self)

    def data(self) -> list[Any]:
        return [self.n, self.total, self.best, None if self.seen is None else sorted(map(list, self.seen))]

    @classmethod
    def of(cls, data: Sequence[Any]) -> _Acc:
        n, total, best, seen = data
        return cls(n, total, best, None if seen is None else {tuple(v) for v in seen})


# What each kind of aggregate is, read from its running state.
_VALUE_OF: dict[str, Callable[[_Acc], Number | None]] = {
    "count": lambda acc: acc.n,
    "distinct": lambda acc: len(acc.seen or ()),
    "sum": lambda acc: acc.total if acc.n else None,
    "avg": lambda acc: acc.total / acc.n if acc.n else None,
    "min": lambda acc: acc.best,
    "max": lambda acc: acc.best,
}


# A group's aggregates live in one flat list (fewer objects per group to make, fill and
# collect): a count or a distinct set takes one place, a sum, average or extreme two — its
# count, then its total or best.
_WIDTH = {"count": 1, "distinct": 1, "sum": 2, "avg": 2, "min": 2, "max": 2}


def _offsets(aggregates: Sequence[Aggregate]) -> list[int]:
    """Where each aggregate starts in the flat list."""
    out, at = [], 0
    for a in aggregates:
        out.append(at)
        at += _WIDTH[a.kind]
    return out


def _acc_at(kind: str, accs: Sequence[Any], at: int) -> _Acc:
    """The ``_Acc`` of the aggregate at ``at`` of a flat list."""
    if kind == "count":
        return _Acc(accs[at])
    if kind == "distinct":
        return _Acc(seen=accs[at])
    if kind in ("sum", "avg"):
        return _Acc(accs[at], accs[at + 1])
    return _Acc(accs[at], best=accs[at + 1])


def _flat(kinds: Sequence[str], accs: Sequence[_Acc]) -> list[Any]:
    """The flat list of a group's aggregates (``_Acc`` of each, of ``kinds``)."""
    out: list[Any] = []
    for kind, acc in zip(kinds, accs, strict=True):
        if kind == "count":
            out.append(acc.n)
        elif kind == "distinct":
            out.append(acc.seen)
        else:
            out += [acc.n, acc.total if kind in ("sum", "avg") else acc.best]
    return out


def _add_at(accs: list[Any], at: int, kind: str, value: Any) -> None:
    """``_Acc.add`` of a sum, average or extreme at ``at`` of a flat list."""
    acc = _acc_at(kind, accs, at)
    acc.add(kind, value)
    accs[at:at + 2] = _flat((kind,), (acc,))


class QueryProgram:
    """One rule's query, ready to fold matches: each row condition is compiled once."""

    def __init__(self, query: AggregateQuery) -> None:
        self.query = query
        self.labels = [(f, read_label(f)) for f in query.fields()]
        slots = {f: f"s{n}" for n, (f, _) in enumerate(self.labels)}
        self.level = query.inner if query.sub_keys else query.aggregates
        # One predicate per distinct row condition: ``fold`` tests each once per match.
        tests: dict[Any, Any] = {}
        for a in self.level:
            if a.rows is not None and a.rows not in tests:
                tests[a.rows] = compile_expr(map_fields(a.rows, slots))
        self.rows = [None if a.rows is None else tests[a.rows] for a in self.level]
        self.slots = slots
        self.keys = [[(compile_expr(map_fields(b.when, slots)), b) for b in key.branches] for key in query.keys]
        # Per match, read once: each read field's slot and label, the sub-key slots, and per
        # aggregate of ``level`` its kind, row test and what it reads: the distinct fields' slots,
        # the slot of the number (None: the event time, or nothing for a count).
        self.reads = [(slots[f], label) for f, label in self.labels]
        self.sub_slots = [slots[f] for f in query.sub_keys]
        self.steps = [(a.kind, test, [slots[f] for f in a.fields] if a.kind == "distinct" else
                       None if a.kind == "count" or a.fields[0] == TIME else slots[a.fields[0]])
                      for a, test in zip(self.level, self.rows, strict=True)]
        # The slot of the one field a row condition reads (None: several, or any, as keywords do).
        self.test_slots = {id(tests[e]): slots[next(iter(fields_of(e)))]
                           for e in tests if len(fields_of(e)) == 1 and not _searches(e)}
        self.kinds = [a.kind for a in self.level]
        self.offsets = _offsets(self.level)
        made = _fold_function(self.reads, self.sub_slots, self.offsets, self.steps, self.test_slots)
        self.fold, self.prepare, self.apply = made["fold"], made["prepare"], made["apply"]
        self.fresh, self.values_of = made["fresh"], made["values_of"]
        # At a close: each aggregate read from its state, or (with sub-groups) folded over
        # theirs; the condition (in ``holds``) and the shown values compiled once, not walked per close.
        self.outer = _outer_function(query, self.values_of) if query.sub_keys else None
        self.holds = _holds_function(query, self.values_of)
        self.shown = [(name, compile_value(value), name in query.times) for name, value in query.shown]

    def key_of(self, fields: Mapping[str, Any]) -> tuple[str, ...]:
        """The computed keys of a match (text; "" for null, as a missing group-by field is)."""
        row = {self.slots[f]: fields.get(label) for f, label in self.labels}
        out = []
        for branches in self.keys:
            value: str | None = None
            for test, branch in branches:
                if test(row):
                    value = branch.text if branch.field is None else _fold(row[self.slots[branch.field]], branch.fold)
                    break
            out.append("" if value is None else value)
        return tuple(out)

    def new_state(self) -> QueryState:
        return QueryState(self)


class QueryState:
    """The aggregates of one open group."""

    __slots__ = ("accs", "program", "subgroups")

    def __init__(self, program: QueryProgram) -> None:
        self.program = program
        self.accs: list[Any] = [] if program.query.sub_keys else program.fresh()
        self.subgroups: dict[tuple[str, ...], list[Any]] = {}

    def add(self, time: float | None, fields: Mapping[str, Any]) -> None:
        """Fold in one match: its event time and the values its digest read. A null adds nothing
        but to COUNT(*); a distinct value is the text of its fields, none of them null."""
        self.program.fold(self, time, fields)

    def values(self) -> list[Number | None]:
        """The value of each of the query's aggregates, now."""
        program = self.program
        if not program.query.sub_keys:
            return program.values_of(self.accs)
        return program.outer(self.subgroups)  # type: ignore[misc]

    def holds(self) -> bool:
        """Whether the query's condition is true for the group."""
        return self.program.holds(self)

    def shown(self) -> dict[str, Any]:
        """The named values the alert reports (times as ISO-8601)."""
        env = self.values()
        out: dict[str, Any] = {}
        for name, value, is_time in self.program.shown:
            result = value(env)
            out[name] = iso(result) if is_time else result
        return out

    def data(self) -> list[Any]:
        """JSON-ready state, for a live run's checkpoint."""
        return [self._data(self.accs), [[list(k), self._data(accs)] for k, accs in self.subgroups.items()]]

    def restore(self, data: Sequence[Any]) -> None:
        """Take back what ``data`` gave."""
        kinds = self.program.kinds
        accs, subgroups = data
        self.accs = _flat(kinds, [_Acc.of(a) for a in accs]) if accs else []
        self.subgroups = {tuple(k): _flat(kinds, [_Acc.of(a) for a in v]) for k, v in subgroups}

    def _data(self, accs: Sequence[Any]) -> list[Any]:
        if not accs:
            return []
        program = self.program
        return [_acc_at(kind, accs, at).data() for kind, at in zip(program.kinds, program.offsets, strict=True)]


def _searches(expr: Expr) -> bool:
    """Whether the condition has a full-text search (it reads every value of the row)."""
    if isinstance(expr, Keywords):
        return True
    if isinstance(expr, All | AnyOf):
        return any(_searches(item) for item in expr.items)
    return isinstance(expr, Not) and _searches(expr.item)


# Results of a row condition over one field remembered per value, up to this many values: a
# condition mostly tests a field of few values (an action, an outcome, a flag) and costs far
# more than a dict look-up.
_REMEMBERED = 4096
# The values remembered by: no two of them are equal without being the same (as 1 and True are).
_REMEMBERED_TYPES = frozenset({str, bool, type(None)})


def _fold_function(reads: Sequence[tuple[str, str]], sub_slots: Sequence[str], offsets: Sequence[int],
                   steps: Sequence[tuple[str, Any, Any]], test_slots: Mapping[int, str]) -> dict[str, Any]:
    """``QueryState.add`` written out for one query, as ``fold(state, time, fields)``: the
    values of the fields it reads (by their slots, ``reads``), the sub-group (``sub_slots``)
    they fall in, and each aggregate of ``steps`` (at ``offsets`` of the flat list) whose row
    condition holds. A query's aggregates are folded once per match, and a loop deciding each
    step's kind every time costs more than the adding. A row condition several aggregates share
    is tested once, and counts and MIN/MAX of a float event time (over none yet or a float) are
    folded in place (``_Acc.add`` is what they do). The result of a row condition over one field
    (``test_slots``: predicate id -> slot) is remembered per text, flag or null value of that
    field: nothing else of the row decides it.

    ``fold`` is ``apply(state, time, prepare(fields))``: ``prepare`` is all that depends on the
    fields alone (row conditions, distinct values, numbers read, the sub-key), as a tuple, so a
    caller that sees the same fields again need not redo it; ``apply`` adds it and the time.
    With them, ``fresh()`` (a new flat list) and ``values_of(accs)`` (each aggregate's value);
    returned by name."""
    namespace: dict[str, Any] = {"_number": _number, "_text": _text, "_add_at": _add_at,
                                 "_REMEMBERED_TYPES": _REMEMBERED_TYPES}
    # Each read value in a local named by its slot; the row of them as a mapping only for a
    # predicate that is called (a remembered one only when its value is new).
    prepared = ["    get = fields.get", *(f"    {slot} = get({label!r})" for slot, label in reads)]
    row = "{" + ", ".join(f"{slot!r}: {slot}" for slot, _ in reads) + "}"
    if any(test is not None and id(test) not in test_slots for _, test, _ in steps):
        prepared.append(f"    row = {row}")
        row = "row"
    carried: list[str] = []  # the locals ``prepare`` hands to ``apply``
    if sub_slots:
        texts = "".join(f"{slot} if {slot}.__class__ is str else _text({slot}), " for slot in sub_slots)
        prepared.append(f"    key = ({texts})")
        carried.append("key")
        applied = ["    accs = state.subgroups.get(key)", "    if accs is None:",
                   "        accs = state.subgroups[key] = fresh()"]
    else:
        applied = ["    accs = state.accs"]
    tested: dict[int, str] = {}  # id of a row predicate -> the local holding its result
    for n, ((kind, test, read), at) in enumerate(zip(steps, offsets, strict=True)):
        pad = "    "
        if test is not None:
            name = tested.get(id(test))
            if name is None:
                name = tested[id(test)] = f"c{n}"
                carried.append(name)
                namespace[f"test{n}"] = test
                slot = test_slots.get(id(test))
                if slot is None:
                    prepared.append(f"    {name} = test{n}({row})")
                else:
                    namespace[f"seen{n}"] = {}
                    prepared += [f"    if {slot}.__class__ in _REMEMBERED_TYPES:",
                                 f"        {name} = seen{n}.get({slot})", f"        if {name} is None:",
                                 f"            {name} = test{n}({row})",
                                 f"            if len(seen{n}) < {_REMEMBERED}:",
                                 f"                seen{n}[{slot}] = {name}",
                                 "    else:", f"        {name} = test{n}({row})"]
            applied.append(f"    if {name}:")
            pad = "        "
        if kind == "count":
            applied.append(f"{pad}accs[{at}] += 1")
        elif kind == "distinct":
            # The value's text (None: a field of it is null), made whether or not the row
            # condition holds: it depends on the fields alone.
            texts = "".join(f"{slot} if {slot}.__class__ is str else _text({slot}), " for slot in read)
            nulls = " or ".join(f"{slot} is None" for slot in read) or "False"
            prepared.append(f"    d{n} = None if {nulls} else ({texts})")
            carried.append(f"d{n}")
            applied += [f"{pad}if d{n} is not None:", f"{pad}    accs[{at}].add(d{n})"]
        elif kind in ("min", "max") and read is None:
            # _Acc.add of a float over a float best: ``_before`` is ``<``; a max also takes a
            # value unequal to the best that is not below it (a NaN, as _Acc.add does).
            better = "time < best" if kind == "min" else "not time < best and time != best"
            applied += [f"{pad}if time.__class__ is float:", f"{pad}    best = accs[{at + 1}]",
                        f"{pad}    if best.__class__ is float:", f"{pad}        accs[{at}] += 1",
                        f"{pad}        if {better}:", f"{pad}            accs[{at + 1}] = time",
                        f"{pad}    elif best is None:", f"{pad}        accs[{at}] += 1",
                        f"{pad}        accs[{at + 1}] = time",
                        f"{pad}    else:", f"{pad}        _add_at(accs, {at}, {kind!r}, time)",
                        f"{pad}elif time is not None:", f"{pad}    _add_at(accs, {at}, {kind!r}, _number({kind!r}, time))"]
        elif read is None:
            applied.append(f"{pad}_add_at(accs, {at}, {kind!r}, _number({kind!r}, time))")
        else:
            prepared.append(f"    x{n} = _number({kind!r}, {read})")
            carried.append(f"x{n}")
            applied.append(f"{pad}_add_at(accs, {at}, {kind!r}, x{n})")
    unpack = [f"    {', '.join(carried)}, = prepared"] if carried else []
    lines = ["def fold(state, time, fields):", *prepared, *applied,
             "def prepare(fields):", *prepared, f"    return ({''.join(f'{c}, ' for c in carried)})",
             "def apply(state, time, prepared):", *unpack, *applied]
    kinds = [kind for kind, _, _ in steps]
    fresh = ", ".join("set()" if kind == "distinct" else "0" if kind == "count" else
                      "0, 0" if kind in ("sum", "avg") else "0, None" for kind in kinds)
    lines += ["def fresh():", f"    return [{fresh}]"]
    read_values = ", ".join(_READ_VALUE[kind].format(n=at, v=at + 1) for kind, at in zip(kinds, offsets, strict=True))
    lines += ["def values_of(accs):", f"    return [{read_values}]"]
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from our own slot names, labels and kinds via repr()
    return {name: namespace[name] for name in ("fold", "prepare", "apply", "fresh", "values_of")}


# Each kind's value read from its place ``n`` (and ``v``, its total or best) of a flat list, as
# ``_VALUE_OF`` reads it from an ``_Acc``.
_READ_VALUE = {"count": "accs[{n}]", "distinct": "len(accs[{n}])", "sum": "(accs[{v}] if accs[{n}] else None)",
               "avg": "(accs[{v}] / accs[{n}] if accs[{n}] else None)", "min": "accs[{v}]", "max": "accs[{v}]"}


def _fold(value: Any, fold: str | None) -> str | None:
    if value is None:
        return None
    text = _text(value)
    return text.lower() if fold == "lower" else text.upper() if fold == "upper" else text


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = text_of(value)
    return text if text is not None else str(value)


def _number(kind: str, raw: Any) -> Any:
    """What a match's value adds to a sum, average or extreme: None adds nothing (a null)."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return raw
    if kind in ("min", "max") and isinstance(raw, str):
        return raw  # MIN/MAX of text (a keyword or an IP) order it as text
    return number_of(raw)


def _before(a: Any, b: Any) -> bool:
    """Whether ``a`` orders before ``b``: numbers as numbers, anything else as text."""
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a < b
    return _text(a) < _text(b)


def _date_diff(start: Number | None, end: Number | None, unit: float) -> int | None:
    if not (isinstance(start, int | float) and isinstance(end, int | float)):
        return None
    return int((end - start) / unit)


def _arith(op: str, a: Number | None, b: Number | None) -> Number | None:
    if isinstance(a, str) or isinstance(b, str):
        a, b = number_of(a), number_of(b)
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return None  # ES|QL: division by zero is null (with a warning)
    if isinstance(a, int) and isinstance(b, int):  # integer division truncates toward zero
        quotient = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
        return quotient if op == "/" else a - b * quotient
    return a / b if op == "/" else math.fmod(a, b)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {"==": eq, "!=": ne, "<": lt, "<=": le, ">": gt, ">=": ge}


def _compare(op: str, a: Number | None, b: Number | None) -> bool | None:
    if a is None or b is None:
        return None
    if isinstance(a, str) or isinstance(b, str):  # MIN/MAX of text: compare as numbers if both are
        a, b = number_of(a), number_of(b)
        if a is None or b is None:
            return None
    return _COMPARISONS[op](a, b)


def _combine(op: str, results: list[bool | None]) -> bool | None:
    decisive = op == "or"  # or: any True decides; and: any False decides
    if decisive in results:
        return decisive
    return None if None in results else not decisive


# Values a comparison compares as they are: numbers, never text (which _compare reads first).
_PLAIN = frozenset({int, float})
_OPERATORS = {op: op for op in _COMPARISONS}  # a comparison's Python operator: itself, if it is one


class _Emitter:
    """A value or condition over the aggregates ``env`` written out as Python statements, one
    local per node in the order walking the tree evaluates them (so it raises where the walk
    would): a close judges it once per group, and a closure per node cost a call each."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.indent = "    "  # of the lines to come: deeper inside a loop
        self.locals = 0
        self.namespace: dict[str, Any] = {"_date_diff": _date_diff, "_arith": _arith, "_compare": _compare,
                                          "_PLAIN": _PLAIN, "_Acc": _Acc, "_number": _number}

    def _local(self, *lines: str) -> str:
        """A new local, set by ``lines`` (``{name}`` in them is its name)."""
        name = f"t{self.locals}"
        self.locals += 1
        self.lines += [f"{self.indent}{line.format(name=name)}" for line in lines]
        return name

    def value(self, value: Value) -> str:
        """The local holding ``value``."""
        if isinstance(value, Ref):
            return self._local(f"{{name}} = env[{int(value.index)}]")
        if isinstance(value, Num):
            constant = f"k{len(self.namespace)}"  # a constant by name: inf and NaN have no literal
            self.namespace[constant] = value.value
            return self._local(f"{{name}} = {constant}")
        if isinstance(value, DateDiff):
            start, end = self.value(value.start), self.value(value.end)
            return self._local(f"{{name}} = _date_diff({start}, {end}, {value.unit!r})")
        assert isinstance(value, Arith)
        left, right = self.value(value.left), self.value(value.right)
        return self._local(f"{{name}} = _arith({value.op!r}, {left}, {right})")

    def condition(self, cond: Condition) -> str:
        """The local holding the three-valued truth of ``cond`` (every item of an and/or is
        evaluated, as ``_combine`` takes them all)."""
        if isinstance(cond, Compare):
            left, right = self.value(cond.left), self.value(cond.right)
            operator = _OPERATORS[cond.op]
            return self._local(f"if {left}.__class__ in _PLAIN and {right}.__class__ in _PLAIN:",
                               f"    {{name}} = {left} {operator} {right}",
                               "else:", f"    {{name}} = _compare({cond.op!r}, {left}, {right})")
        if isinstance(cond, IsNull):
            return self._local(f"{{name}} = {self.value(cond.value)} is None")
        if isinstance(cond, Negate):
            item = self.condition(cond.item)
            return self._local(f"{{name}} = None if {item} is None else not {item}")
        items = "(" + "".join(f"{self.condition(item)}, " for item in cond.items) + ")"
        decisive = cond.op == "or"  # as _combine: or: any True decides; and: any False decides
        return self._local(f"{{name}} = {decisive} if {decisive} in {items} else None if None in {items} "
                           f"else {not decisive}")

    def over_subgroups(self, query: AggregateQuery, read: frozenset[int] | None = None) -> str:
        """The list of the query's aggregates over its sub-groups' (``subgroups``: sub-key ->
        flat list) values (``envs``), each folded over them in turn as ``_Acc.add`` folds. With
        ``read``, a COUNT_DISTINCT, or a MIN or MAX of a sub-group's aggregate, not among those
        indices is left null: nothing reads it, and (unlike a sum's addition or arithmetic) its
        fold cannot raise."""
        self.lines.append("    envs = [values_of(accs) for accs in subgroups.values()]")
        results = []
        for n, a in enumerate(query.aggregates):
            if read is not None and n not in read and (a.kind == "distinct" or
                                                       a.kind in ("min", "max") and isinstance(a.of, Ref)):
                results.append("None")
            elif a.kind == "count" and a.when is None:
                results.append("len(envs)")
            elif a.kind == "distinct":
                at = "".join(f"key[{query.sub_keys.index(f)}], " for f in a.fields)
                results.append(f"len({{({at}) for key in subgroups}})")
            else:
                first = {"count": [f"    n{n} = 0"], "sum": [f"    n{n} = 0", f"    s{n} = 0"]}.get(
                    "sum" if a.kind == "avg" else a.kind, [f"    a{n} = _Acc()"])
                self.lines += [*first, "    for env in envs:"]
                self.indent = "        "
                if a.kind == "count":
                    assert a.when is not None
                    self.lines += [f"        if {self.condition(a.when)} is True:", f"            n{n} += 1"]
                    results.append(f"n{n}")
                else:
                    assert a.of is not None
                    # A sub-group's value is read as a match's is (``_number``): a text (a MIN
                    # of text) adds its number to a sum, or nothing, not a TypeError.
                    value = f"_number({a.kind!r}, {self.value(a.of)})"
                    if a.kind in ("sum", "avg"):  # _Acc.add: a null adds nothing
                        self.lines += [f"        v{n} = {value}", f"        if v{n} is not None:",
                                       f"            n{n} += 1", f"            s{n} += v{n}"]
                        results.append(f"(s{n} if n{n} else None)" if a.kind == "sum" else
                                       f"(s{n} / n{n} if n{n} else None)")
                    else:
                        self.lines.append(f"        a{n}.add({a.kind!r}, {value})")
                        results.append(f"a{n}.value({a.kind!r})")
                self.indent = "    "
        return "[" + ", ".join(results) + "]"

    def function(self, result: str, argument: str = "env") -> Callable[..., Any]:
        """The statements so far as ``f(argument)`` returning ``result``."""
        source = "\n".join([f"def f({argument}):", *self.lines, f"    return {result}"])
        exec(source, self.namespace)  # noqa: S102 - generated from the tree's own ops, units and indices
        return self.namespace["f"]


def compile_value(value: Value) -> Callable[[Sequence[Number | None]], Number | None]:
    """A value over the aggregates ``env`` (null as None), as a function of ``env``: the tree
    is walked once, here."""
    emitter = _Emitter()
    return emitter.function(emitter.value(value))


def compile_condition(cond: Condition) -> Callable[[Sequence[Number | None]], bool | None]:
    """The three-valued truth (True, False, or None: null) of ``cond`` over the aggregates
    ``env``, as a function of ``env`` (every item of an and/or is evaluated)."""
    emitter = _Emitter()
    return emitter.function(emitter.condition(cond))


def _holds_function(query: AggregateQuery, values_of: Callable[[list[Any]], list[Number | None]]) -> Callable[
        [QueryState], bool]:
    """Whether the query's condition is true for a group (``QueryState.holds``), as one
    function of its state: its aggregates read (or folded over its sub-groups) and the condition
    judged in one call, at each of a rule's closes; over sub-groups only what the condition reads
    of the aggregates that cannot raise."""
    emitter = _Emitter()
    emitter.namespace["values_of"] = values_of
    if query.sub_keys:
        emitter.lines.append("    subgroups = state.subgroups")
        emitter.lines.append(f"    env = {emitter.over_subgroups(query, _refs(query.condition))}")
    else:
        emitter.lines.append("    env = values_of(state.accs)")
    return emitter.function(f"{emitter.condition(query.condition)} is True", "state")


def _refs(node: Condition | Value) -> frozenset[int]:
    """The aggregates a condition or value reads (their indices)."""
    if isinstance(node, Ref):
        return frozenset({int(node.index)})
    if isinstance(node, Num):
        return frozenset()
    if isinstance(node, Arith | Compare):
        return _refs(node.left) | _refs(node.right)
    if isinstance(node, DateDiff):
        return _refs(node.start) | _refs(node.end)
    if isinstance(node, Negate):
        return _refs(node.item)
    if isinstance(node, IsNull):
        return _refs(node.value)
    return frozenset().union(*(_refs(item) for item in node.items))


def _outer_function(query: AggregateQuery, values_of: Callable[[list[Any]], list[Number | None]]) -> Callable[
        [Mapping[tuple[str, ...], list[Any]]], list[Number | None]]:
    """The aggregates of a query with sub-groups (a second STATS) as a function of its
    sub-groups: each sub-group's values (``values_of`` its flat list), then each aggregate
    folded over them, one after the other."""
    emitter = _Emitter()
    emitter.namespace["values_of"] = values_of
    return emitter.function(emitter.over_subgroups(query), "subgroups")

"""Panther Python rules matched in SQL through their lifted condition.

A Python rule whose ``rule()`` lifted into the IR (``PythonLogic.lifted``) is decided in the
batch engines' SQL like a declarative rule: only the events its condition holds for, or that SQL
is unsure of, go to Python, where the streaming engine runs the rule itself (``rule()`` again,
then title, dedup, severity, alert context). So the SQL only has to be *sound* against the
Python: where it says "no", the Python must say no too.

The lifted condition is the Python's on plain text and absent fields, but the IR compares JSON
values its own way where the Python does not (lift.py's by-design differences: ``true`` equals
``"true"``, the texts ``"false"`` and ``"0"`` are false, lists fan out, an object is no text) and
Panther's event looks keys up regardless of case. ``sql_condition`` therefore makes every leaf
unsure (SQL NULL) on an event where its field is anything but text other than ``"true"``,
``"false"`` or ``"0"`` — a boolean, a number, null, an object, a list, or a list or non-object
on the way — and compiles with case-insensitive keys, which leaves a missing field unsure.
Kleene logic still decides a rule whose verdict does not hang on such a leaf.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tokentrail.alerting.models import Alert
from tokentrail.engine.plan import UNKNOWN, Unit
from tokentrail.engine.stream import StreamingEngine
from tokentrail.rules.ir import All, Cmp, Exists, Expr, FieldRef, Not, fields_of
from tokentrail.rules.ir import Any as AnyOf
from tokentrail.rules.model import PythonLogic

# SQL compiles a field-to-field comparison to NULL ("unsure") in every dialect; no engine runs
# this expression in Python (the streaming engine runs the rule's own Python).
_UNSURE = FieldRef("", "")
# Texts the IR reads other than the Python: JSON booleans come to SQL as these texts too.
_ODD_TEXTS = ("true", "false", "0")
# A text no event holds: comparing with it is FALSE on text and objects, unsure on lists.
_NO_TEXT = "\x00tokentrail:no-such-text\x00"


def lifted_condition(unit: Unit) -> Expr | None:
    """The lifted condition of a Python unit that SQL may decide, else None (the unit stays
    Python's: every event of its log type goes to Python).

    Not decided in SQL: rules that did not lift, units of no known log type, and conditions
    reading Panther's standard fields (``p_*``, which the engine adds to an event for Python
    rules only)."""
    if unit.python is None or unit.log_type == UNKNOWN or not isinstance(unit.rule.logic, PythonLogic):
        return None
    lifted = unit.rule.logic.lifted
    if lifted is None or any(name.split(".", 1)[0].startswith("p_") for name in fields_of(lifted)):
        return None
    return lifted


def sql_condition(expr: Expr) -> Expr:
    """``expr`` for SQL only, unsure wherever the Python may read the event otherwise (see the
    module docstring); compile it with ``ci_fields=True``."""
    match expr:
        case All(items):
            return All(tuple(sql_condition(i) for i in items))
        case AnyOf(items):
            return AnyOf(tuple(sql_condition(i) for i in items))
        case Not(item):
            return Not(sql_condition(item))
        case Cmp(field=name) | Exists(field=name):
            odd = _odd(name)
            # NULL where ``odd`` is unsure or true, else the leaf itself: (leaf AND NOT u) OR u
            # with u = (odd AND NULL), which is FALSE or NULL.
            unsure = All((odd, _UNSURE))
            return AnyOf((All((expr, Not(unsure))), unsure))
    return expr


def _odd(name: str) -> Expr:
    """TRUE (or unsure) when the field at ``name`` holds anything but plain text or nothing."""
    parts = name.split(".")
    tests: list[Expr] = [
        Cmp(name, "eq", _ODD_TEXTS, cased=True),
        # Present, and not text nor a boolean (whose text contains ""): null, object, number, list.
        All((Exists(name), Not(Cmp(name, "contains", ("",), cased=True)))),
    ]
    # Each object on the way: a list there is unsure (the comparison is too).
    tests += [Cmp(".".join(parts[:k]), "eq", (_NO_TEXT,), cased=True) for k in range(1, len(parts))]
    return AnyOf(tuple(tests))


class LiftedStream(StreamingEngine):
    """The streaming engine as the batch engines drive it: ``accept`` is given the units SQL
    matched, Python units among them, and runs a Python rule SQL decides (``decided``, unit ids)
    only when SQL matched it; every other Python rule runs as ever, and an event SQL was unsure
    of (``process``) meets every rule."""

    decided: frozenset[int] = frozenset()
    _whole = False

    def process(self, event: Mapping[str, Any], source: str = "", line: int = 0, *,
                log_type: str | None = None) -> list[Alert]:
        self._whole = True
        try:
            return super().process(event, source, line, log_type=log_type)
        finally:
            self._whole = False

    def accept(self, event: Mapping[str, Any], log_type: str, hits: list[Unit] | None,
               source: str = "", line: int = 0, *, python: Sequence[Unit] | None = None) -> list[Alert]:
        if python is None and self.decided and not self._whole:
            index = self.plan.indexes.get(log_type)
            if index is not None and index.python:
                asked = {id(u) for u in hits or () if u.python is not None}
                python = [u for u in index.python if id(u) not in self.decided or id(u) in asked]
                if asked:
                    hits = [u for u in hits or () if u.python is None] or None
        return super().accept(event, log_type, hits, source, line, python=python)


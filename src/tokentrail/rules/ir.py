"""The detection IR: one small immutable expression tree shared by every rule format and engine.

Front-ends (``formats/``) lower rules to these nodes; back-ends (``compile/``) turn them into
Python callables or SQL. Matching semantics are stated here, once, and never implied by a backend.

Fields are strings written as the rule wrote them (``data.details.accessedSecrets{}``,
``target.type``, ``event.action``). Resolution against an event:
  * split on ``.``; each part is looked up as a key of a nested object: the exact key, else
    one that differs from it only in case (``eventtype`` for ``eventType``, as Panther's data
    lake spells Okta's columns). Engines keep this off the per-event path: an event whose keys
    are not in its log type's canonical case is recognised once, at log-type detection, and its
    keys are renamed to the spelling of the log type's field tree (``schemas/data``); rule
    fields of log types marked ``case_insensitive_fields`` (Okta, whose SigmaHQ rules write
    lower-case paths) are resolved against the same tree when rules are compiled. Both sides
    meet in the canonical spelling and a read is one exact lookup; canonical events pay
    nothing. Keys the field tree does not list are read as written;
  * a list met on the way fans out: the field matches if any element matches;
  * a literal dotted key (``"event.action"`` in a flattened document) is tried too, for any
    run of consecutive parts — except when the path leads through plain objects (no list) to a
    value: then that value alone is the field's (a document spelling one field both ways uses
    the nested one). ``Exists`` holds when any of these routes finds the field;
  * a trailing ``{}`` on a part (Splunk array notation) means "the elements of this array".

Comparison semantics (``Cmp``):
  * strings compare case-insensitively unless ``cased=True``;
  * JSON ``true``/``false`` equal the strings ``"true"``/``"false"``; numbers equal their
    decimal string form (``5`` equals ``"5"``);
  * ``lt``/``le``/``gt``/``ge`` compare as numbers when both sides are numbers or numeric strings,
    as strings (case-sensitively; ISO timestamps order correctly) when neither is, and not at all
    when only one side is a number;
  * ``values`` match as "any of" unless ``all_values=True`` ("all of");
  * a value of ``None`` with op ``eq`` matches a missing field or a JSON null;
  * ``glob`` values use ``*`` (any run), ``?`` (one character) and ``\\`` to escape the next
    character; ``contains``/``startswith``/``endswith``/``eq`` values are plain strings;
  * ``regex`` values are RE2 syntax; flags are inline (``(?i)``, ``(?m)``, ``(?s)``); regexes are
    searched (not anchored) and always case-sensitive unless the pattern says ``(?i)``;
  * ``cidr`` values are IPv4 or IPv6 networks; a value that is not an IP address never matches.
A comparison against a missing field is false (``Not`` makes it true).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, TypeAlias

Op: TypeAlias = Literal[
    "eq", "contains", "startswith", "endswith", "glob", "regex", "cidr", "lt", "le", "gt", "ge",
]
OPS: frozenset[str] = frozenset(
    ["eq", "contains", "startswith", "endswith", "glob", "regex", "cidr", "lt", "le", "gt", "ge"]
)
Scalar: TypeAlias = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class All:
    """True when every item is true (an empty ``All`` is true)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Any:
    """True when at least one item is true (an empty ``Any`` is false)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


@dataclass(frozen=True, slots=True)
class Cmp:
    """Compare the values found at ``field`` with ``values`` using ``op``."""

    field: str
    op: Op
    values: tuple[Scalar, ...]
    cased: bool = False
    all_values: bool = False

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown comparison operator {self.op!r}")
        if not isinstance(self.values, tuple):
            raise TypeError("Cmp.values must be a tuple")


@dataclass(frozen=True, slots=True)
class Exists:
    """True when the field is present in the event (its value may be null).

    With ``non_null``, true when the field has at least one value that is not null: an array
    holding ``["alice", null]`` exists, ``[null]`` and ``null`` do not (Elasticsearch's meaning,
    which KQL ``field:*`` and EQL ``field != null`` ask).
    """

    field: str
    non_null: bool = False


@dataclass(frozen=True, slots=True)
class FieldRef:
    """Compare one field of the event with another field of the same event."""

    field: str
    other: str
    op: Op = "eq"
    cased: bool = False


@dataclass(frozen=True, slots=True)
class Keywords:
    """Full-text search: true when any string value anywhere in the event matches.

    ``op`` is ``contains`` (plain substring), ``glob`` or ``regex``; with ``all_values`` every value
    must be found (each in some string of the event).
    """

    values: tuple[str, ...]
    op: Op = "contains"
    cased: bool = False
    all_values: bool = False


@dataclass(frozen=True, slots=True)
class Const:
    """A constant truth value (a rule front-end may fold a condition to it)."""

    value: bool


Expr: TypeAlias = All | Any | Not | Cmp | Exists | FieldRef | Keywords | Const


def fields_of(expr: Expr) -> set[str]:
    """Every field name the expression reads (for indexes, mappings and indicator tables)."""
    match expr:
        case All(items) | Any(items):
            out: set[str] = set()
            for item in items:
                out |= fields_of(item)
            return out
        case Not(item):
            return fields_of(item)
        case Cmp(field=f) | Exists(field=f):
            return {f}
        case FieldRef(field=f, other=o):
            return {f, o}
        case _:
            return set()


def map_fields(expr: Expr, rename: dict[str, str]) -> Expr:
    """Return ``expr`` with field names replaced through ``rename`` (names not in it are kept)."""
    match expr:
        case All(items):
            return All(tuple(map_fields(i, rename) for i in items))
        case Any(items):
            return Any(tuple(map_fields(i, rename) for i in items))
        case Not(item):
            return Not(map_fields(item, rename))
        case Cmp(field=f):
            return replace(expr, field=rename.get(f, f))
        case Exists(field=f):
            return replace(expr, field=rename.get(f, f))
        case FieldRef(field=f, other=o):
            return replace(expr, field=rename.get(f, f), other=rename.get(o, o))
        case _:
            return expr


# How deeply and/or/not may nest. Far beyond any real rule (a dozen levels is a lot), and low
# enough that every back-end — recursive lowering, hashing, generated code — stays within
# Python's recursion and parser limits.
MAX_DEPTH = 64


def depth(expr: Expr) -> int:
    """How many boolean levels the tree has (a leaf is 1); iterative, so any depth is measured."""
    deepest = 0
    stack: list[tuple[Expr, int]] = [(expr, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, All | Any):
            stack.extend((item, level + 1) for item in node.items)
        elif isinstance(node, Not):
            stack.append((node.item, level + 1))
    return deepest

"""Digests: what a match needs from its event, read where the match was found.

A digest holds the event's time and id and whatever the unit's alerting will use — group-by key,
distinct and new-terms values, output fields, the keys and values of the correlations the rule
feeds — so the order-dependent part (``StreamingEngine.route``) can run later, in another
process, without the event. Each unit gets one digest function, built once with its
field readers resolved. For Python rules the engine supplies what the rule's own functions say
(title, severity, dedup key, context), since that runs user code whose failures it records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from tokentrail import schemas
from tokentrail.compile.fields import text_of
from tokentrail.rules.model import Correlation, Rule

if TYPE_CHECKING:
    from tokentrail.engine.plan import Unit

SignalPart = tuple[str, int, tuple[str, ...], str | None, dict[str, Any]]  # corr id, step, key, value, fields
Reader = Callable[[Mapping[str, Any]], Any]


class Digest(NamedTuple):
    """What one unit's match read from its event.

    A named tuple, not a dataclass: parallel workers send many of them, and tuples are cheap to
    build and to encode.
    """

    unit: int
    time: float | None
    event_id: str | None  # None: the log type names no id field; the line stands in for it
    extras: dict[str, Any] = {}  # noqa: RUF012 - never mutated; a named tuple field default
    signals: tuple[SignalPart, ...] = ()
    reset_key: tuple[str, ...] | None = None


Digester = Callable[[Mapping[str, Any]], Digest]


def build_digester(unit: Unit, subscribers: Sequence[tuple[Rule, int]], known_log_type: bool,
                   describe: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None) -> Digester:
    """The digest function of a unit; ``subscribers`` are the correlations (and their steps)
    that the unit's rule feeds. ``describe`` (Python rules) gives the group key, title, severity
    and fields in place of the group-by fields and output fields."""
    rule, index, logic = unit.rule, unit.index, unit.rule.logic
    when = schemas.time_reader(unit.log_type) if known_log_type else _nothing
    ident = schemas.id_reader(unit.log_type) if known_log_type else _nothing
    if unit.role == "until":
        assert isinstance(logic, Correlation)
        reset = key_reader(unit, logic.steps[0].by)
        return lambda event: Digest(index, when(event), ident(event), reset_key=reset(event))
    if unit.role == "step":
        assert isinstance(logic, Correlation)
        part = _signal_reader(unit, rule.id, logic, unit.step)
        return lambda event: Digest(index, when(event), ident(event), signals=(part(event),))
    extras = _extras_reader(unit, describe)
    parts = [_signal_reader(unit, corr.id, corr.logic, step) for corr, step in subscribers]  # type: ignore[arg-type]
    if not parts:
        return lambda event: Digest(index, when(event), ident(event), extras(event))
    if describe is not None and any(
        f.startswith(ALERT_CONTEXT) for corr, step in subscribers for f in corr.logic.steps[step].by  # type: ignore[union-attr]
    ):
        # A Panther correlation keyed on the base rule's alert context: read it from describe().
        in_context = [_context_signal_reader(unit, corr.id, corr.logic, step) for corr, step in subscribers]  # type: ignore[arg-type]

        def digest(event: Mapping[str, Any]) -> Digest:
            ex = extras(event)
            return Digest(index, when(event), ident(event), ex, tuple(p(event, ex) for p in in_context))

        return digest
    return lambda event: Digest(index, when(event), ident(event), extras(event), tuple(p(event) for p in parts))


def key_reader(unit: Unit, fields: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[str, ...]]:
    """Reads the text of each of ``fields`` (first value; "" when missing) as a tuple."""
    readers = [unit.reader(f) for f in fields]
    if len(readers) == 1:  # the usual group-by: one field
        read = readers[0]
        return lambda event: (as_text(read(event)),)
    return lambda event: tuple([as_text(read(event)) for read in readers])


def _extras_reader(unit: Unit, describe: Callable[[Mapping[str, Any]], dict[str, Any]] | None,
                   ) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    rule = unit.rule
    g = rule.grouping
    key = key_reader(unit, g.group_by)
    distinct = unit.reader(g.distinct_field) if g.distinct_field else None
    terms = key_reader(unit, g.new_terms) if g.new_terms else None
    outputs = [(o.label, unit.reader(o.field)) for o in rule.output_fields]

    def extras(event: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"group_key": key(event)} if describe is None else describe(event)
        if distinct is not None:
            out["distinct"] = as_text(distinct(event))
        if terms is not None:
            out["terms"] = terms(event)
        if outputs and "fields" not in out:
            out["fields"] = {label: read(event) for label, read in outputs}
        return out

    return extras


def _signal_reader(unit: Unit, corr_id: str, corr: Correlation, step: int) -> Callable[[Mapping[str, Any]], SignalPart]:
    by = corr.steps[step].by
    key = key_reader(unit, by)
    value = unit.reader(corr.value_field) if corr.value_field else None
    names = corr.steps[0].by or by

    def part(event: Mapping[str, Any]) -> SignalPart:
        k = key(event)
        v = as_text(value(event)) if value is not None else None
        return corr_id, step, k, v, dict(zip(names, k, strict=False))

    return part


ALERT_CONTEXT = "p_alert_context."


def _context_signal_reader(unit: Unit, corr_id: str, corr: Correlation, step: int
                           ) -> Callable[[Mapping[str, Any], Mapping[str, Any]], SignalPart]:
    """Like ``_signal_reader``, but ``p_alert_context.<path>`` fields are read from the context the
    Python rule's ``alert_context()`` returned (in the match's extras, under ``fields``)."""
    by = corr.steps[step].by
    readers = [unit.reader(f) if not f.startswith(ALERT_CONTEXT) else None for f in by]
    paths = [tuple(f[len(ALERT_CONTEXT):].split(".")) for f in by]
    names = corr.steps[0].by or by

    def part(event: Mapping[str, Any], extras: Mapping[str, Any]) -> SignalPart:
        context = extras.get("fields") or {}
        key = []
        for read, path in zip(readers, paths, strict=True):
            if read is not None:
                key.append(as_text(read(event)))
                continue
            value: Any = context
            for name in path:
                value = value.get(name) if isinstance(value, Mapping) else None
            key.append(as_text(value))
        k = tuple(key)
        return corr_id, step, k, None, dict(zip(names, k, strict=False))

    return part


def as_text(value: Any) -> str:
    """How a value takes part in a key: its text ("" for a missing value)."""
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    text = text_of(value)
    return text if text is not None else str(value)


def _nothing(event: Mapping[str, Any]) -> None:
    return None

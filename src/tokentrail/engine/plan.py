"""Compile a rule set into per-log-type indexes of runnable units.

A unit is one rule (or one inline correlation step, or an ``until`` clause) compiled for one log
type: field names renamed through that log type's mapping, then compiled to a predicate. Units
are indexed by anchor value so an event meets only the units that could match it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tokentrail import schemas
from tokentrail.compile.batch import compile_batch
from tokentrail.compile.fields import make_first, make_getter, text_of
from tokentrail.compile.python import compile_expr
from tokentrail.compile.regex import RegexTimeLimitExceeded
from tokentrail.engine.anchors import assume_anchor_value, choose_anchor, strip_anchor
from tokentrail.engine.limits import TimeLimitedDetection, load_guarded
from tokentrail.errors import TokenTrailError
from tokentrail.rules.ir import Const, Expr
from tokentrail.rules.model import Correlation, PythonLogic, Rule
from tokentrail.schemas.specialize import specialize

DEFAULT_PYTHON_TIME_LIMIT = 1.0  # seconds one Python rule may take on one event
UNKNOWN = "unknown"  # bucket for events whose log type is not recognised
_UNSEEN = object()


@dataclass(eq=False)
class Unit:
    """One rule (or correlation step) compiled for one log type."""

    rule: Rule
    log_type: str
    role: Literal["rule", "step", "until"]
    step: int = 0
    expr: Expr | None = None  # what the index still has to test (the anchor comparison removed)
    python: Any = None  # the loaded PythonDetection, for Python rules
    readers: dict[str, Callable[[Mapping[str, Any]], Any]] = field(default_factory=dict)
    disabled: bool = False
    index: int = -1  # position in Plan.units (how parallel workers name a unit)

    def first(self, name: str, event: Mapping[str, Any]) -> Any:
        """The first value of a rule field in an event (mapped for this unit's log type)."""
        return self.reader(name)(event)

    def reader(self, name: str) -> Callable[[Mapping[str, Any]], Any]:
        """A function giving the first value of a rule field in an event (None when missing)."""
        read = self.readers.get(name)
        if read is None:
            read = self.readers[name] = make_first(
                schemas.field_for(self.log_type, name, self.dialect) if self.log_type != UNKNOWN else name,
                ci_fields=self.ci,
            )
        return read

    @property
    def dialect(self) -> str:
        return str(self.rule.metadata.get("field_dialect", "native"))

    @property
    def ci(self) -> bool:
        return self.log_type != UNKNOWN and schemas.get_log_type(self.log_type).case_insensitive_events


@dataclass
class LogTypeIndex:
    """The units of one log type: by anchor field and lower-cased value, plus the unanchored.

    Units run as generated functions (``compile_batch``), each testing several units with their
    field reads shared, so an event costs one call rather than a Python loop per candidate.
    Python units stay apart: the engine times them and may disable them.

    The common case has its own table (``by_value``): one anchor field reached through plain
    objects to a string (or, in a flattened document, a literal dotted key). Each lower-cased value of it gets one function for its bucket *and* the
    unanchored units, with every case-insensitive test of the anchor field already decided for
    that value (``assume_anchor_value``) — so an event costs one call, its fields are read once,
    and a rule such as ``eventType|startswith: app.oauth2`` costs nothing on the event types it
    cannot match. A value gets its function when first seen (at most ``MAX_VALUES`` values of at
    most ``MAX_KEY`` characters do;
    values with the same units share one). Any other event (a list of values, several anchor
    fields) takes the general path: the functions of every bucket its values select plus the one
    of the unanchored units, each also built on first use.
    """

    anchored: dict[str, dict[str, list[Unit]]] = field(default_factory=lambda: defaultdict(dict))
    unanchored: list[Unit] = field(default_factory=list)
    python: list[Unit] = field(default_factory=list)
    getters: dict[str, Callable[[Mapping[str, Any]], list[Any]]] = field(default_factory=dict)
    ci: bool = False
    key_path: tuple[str, ...] | None = None  # the one anchor field's path, when the table applies
    by_value: dict[str, Callable | None] = field(default_factory=dict)  # None: nothing can match
    _by_exprs: dict[tuple, Callable] = field(default_factory=dict)  # functions shared by values
    _compiled: dict[tuple[str, str] | None, Callable] = field(default_factory=dict)  # general path
    _single: dict[Unit, Callable] = field(default_factory=dict)  # one unit alone (matching_each)
    _key_name: str = ""
    _prefixes: tuple[str, ...] = ()  # keys that would lead to the anchor's nested path

    MAX_VALUES = 4096
    # Longer values take the general path: 4,096 kept one-megabyte keys would hold 4 GB, and
    # event types, actions and the like are short.
    MAX_KEY = 256

    def add(self, unit: Unit, anchor: tuple[str, frozenset[str]] | None, ci: bool) -> None:
        if unit.python is not None:
            self.python.append(unit)
            return
        if anchor is None:
            self.unanchored.append(unit)
            return
        field_name, values = anchor
        if field_name not in self.getters:
            self.getters[field_name] = make_getter(field_name, ci_fields=ci)
        bucket = self.anchored[field_name]
        # Sorted: the buckets' order is the units' order in both engines, and a set's would
        # follow the hash seed.
        for value in sorted(values):
            bucket.setdefault(value, []).append(unit)

    def seal(self, ci: bool = False, anchor_field: str | None = None) -> None:
        """Choose the fast path's anchor field (call once, after every ``add``): the only field
        rules are anchored on, or else the log type's event-type field (``anchor_field``)."""
        self.ci = ci
        self.by_value.clear()
        self._by_exprs.clear()
        self._compiled.clear()
        names = list(self.anchored) or ([anchor_field] if anchor_field else [])
        self.key_path = tuple(names[0].split(".")) if len(names) == 1 and "{" not in names[0] else None
        path = self.key_path or ()
        self._key_name = ".".join(path)
        self._prefixes = tuple(".".join(path[:j]) for j in range(1, len(path)))

    def _value_runner(self, value: str) -> Callable | None:
        """The function for events whose anchor field holds a string lower-casing to ``value``."""
        name = ".".join(self.key_path or ())
        exprs: list[Expr] = []
        units: list[Unit] = []
        for unit in (*self.anchored.get(name, {}).get(value, ()), *self.unanchored):
            expr = assume_anchor_value(unit.expr if unit.expr is not None else Const(False), name, value)
            if expr != Const(False):
                exprs.append(expr)
                units.append(unit)
        # By repr: expressions compare 1 == True, which the IR tells apart.
        shape = tuple(zip(units, map(repr, exprs), strict=True))
        run = self._by_exprs.get(shape)
        if run is None and units:
            run = self._by_exprs[shape] = compile_batch(exprs, ci_fields=self.ci, labels=units)
        self.by_value[value] = run
        return run

    def candidates(self, event: Mapping[str, Any]) -> list[Unit]:
        """Units that could match ``event``: anchored ones whose value it carries, and the rest."""
        found: list[Unit] = []
        for field_name, bucket in self.anchored.items():
            for value in self.getters[field_name](event):
                text = text_of(value)
                if text is not None and (units := bucket.get(text.lower())):
                    found.extend(units)
        found = list(dict.fromkeys(found))
        return found + self.unanchored + self.python

    def matching(self, event: Mapping[str, Any]) -> list[Unit] | None:
        """The declarative units whose predicate holds for ``event`` (None when there are none)."""
        path = self.key_path
        if path is not None:
            value = event.get(path[0])
            for part in path[1:]:
                value = value.get(part) if value.__class__ is dict else None
            if value.__class__ is not str and self._prefixes and not any(p in event for p in self._prefixes):
                # A flattened document ({"event.action": ...}): with no key on the way to the
                # nested path, the literal dotted key is the field's only possible value.
                value = event.get(self._key_name)
            if value.__class__ is str:
                low = value.lower()
                run = self.by_value.get(low, _UNSEEN)
                if run is _UNSEEN and len(self.by_value) < self.MAX_VALUES and len(low) <= self.MAX_KEY:
                    run = self._value_runner(low)
                if run is not _UNSEEN:
                    return None if run is None else run(event)
        hits: list[Unit] | None = None
        for name, bucket in self.anchored.items():
            for value in self.getters[name](event):
                text = text_of(value)
                if text is None or (low := text.lower()) not in bucket:
                    continue
                if found := self._runner((name, low))(event):
                    hits = found if hits is None else hits + found
        if self.unanchored and (found := self._runner(None)(event)):
            hits = found if hits is None else hits + found
        if hits is not None and len(hits) > 1:
            hits = list(dict.fromkeys(hits))
        return hits

    def matching_each(self, event: Mapping[str, Any]) -> tuple[list[Unit] | None, list[tuple[Unit, str]]]:
        """``matching`` one unit at a time, for an event on which ``matching`` raised a
        ``RegexTimeLimitExceeded``: the units that match, and each unit that overran with why.
        One rule's runaway regex so costs that rule its verdict on this event, not its bucket's."""
        hits: list[Unit] = []
        failures: list[tuple[Unit, str]] = []
        for unit in self.candidates(event):
            if unit.python is not None:
                continue
            test = self._single.get(unit)
            if test is None:
                test = self._single[unit] = compile_expr(
                    unit.expr if unit.expr is not None else Const(False), ci_fields=self.ci)
            try:
                if test(event):
                    hits.append(unit)
            except RegexTimeLimitExceeded as exc:
                failures.append((unit, exc.message))
        return hits or None, failures

    def _runner(self, bucket: tuple[str, str] | None) -> Callable[[Mapping[str, Any]], list[Unit] | None]:
        """The general path's function for one bucket (None: the unanchored units)."""
        run = self._compiled.get(bucket)
        if run is None:
            units = self.unanchored if bucket is None else self.anchored[bucket[0]][bucket[1]]
            run = self._compiled[bucket] = compile_batch(
                [u.expr if u.expr is not None else Const(False) for u in units], ci_fields=self.ci, labels=units)
        return run


@dataclass
class Plan:
    """Everything the streaming engine needs, built once per rule set."""

    indexes: dict[str, LogTypeIndex]
    correlations: list[Rule]
    subscribers: dict[str, list[tuple[Rule, int]]]  # rule id or name -> (correlation, step)
    alerting_rules: set[str]  # ids of rules that raise their own alerts
    errors: list[TokenTrailError]
    python_rules: int = 0
    units: list[Unit] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)  # ids of runnable rules that could not compile


def log_types_of(rule: Rule) -> tuple[str, ...]:
    """Log types a rule runs on: its own list (plus, for Panther rules, a generic log type per
    Panther name TokenTrail has no schema for, such as ``GitHub.Audit``), else what its logsource
    routes to."""
    generic = _generic_log_types(rule)
    if rule.log_types or generic:
        return (*rule.log_types, *generic)
    return schemas.log_types_for(rule.logsource, rule.format)


def _generic_log_types(rule: Rule) -> tuple[str, ...]:
    return tuple(name for name in rule.metadata.get("unmapped_log_types", ()) if schemas.is_generic(name))


def _routes_unknown(rule: Rule) -> bool:
    """Rules not tied to a product or a log type also see events of no recognised log type."""
    return not rule.log_types and rule.logsource.product is None and not _generic_log_types(rule)


def build_plan(rules: Sequence[Rule], *, python_time_limit: float = DEFAULT_PYTHON_TIME_LIMIT) -> Plan:
    """Compile every runnable rule for each log type it routes to and index the results.

    Python rules are wrapped so one call may take at most ``python_time_limit`` seconds.
    """
    indexes: dict[str, LogTypeIndex] = defaultdict(LogTypeIndex)
    errors: list[TokenTrailError] = []
    runnable = [r for r in rules if r.runnable]
    by_ref: dict[str, Rule] = {}
    for r in runnable:
        by_ref[r.id] = r
        if r.name:
            by_ref[r.name] = r
    subscribers: dict[str, list[tuple[Rule, int]]] = defaultdict(list)
    generate_refs: set[str] = set()
    referenced: set[str] = set()
    correlations: list[Rule] = []
    python_rules = 0
    failed: set[str] = set()
    validated: set[tuple[Expr, bool]] = set()

    Placement = tuple[str, Unit, "tuple[str, frozenset[str]] | None", bool]

    def place_expr(rule: Rule, expr: Expr, role: str, step: int, types: tuple[str, ...],
                   unknown: bool) -> list[Placement]:
        """Units of one expression for each log type (not yet indexed)."""
        dialect = str(rule.metadata.get("field_dialect", "native"))
        placed: list[Placement] = []
        for lt in (*types, *((UNKNOWN,) if unknown else ())):
            if lt == UNKNOWN:
                mapped, ci, preferred = expr, False, None
            else:
                info = schemas.get_log_type(lt)
                mapped = specialize(expr, lt, dialect)
                ci, preferred = info.case_insensitive_events, info.anchor_field or None
            if mapped == Const(False):
                continue  # e.g. an ECS rule pinning event.dataset of another vendor
            anchor = choose_anchor(mapped, preferred)
            residual = strip_anchor(mapped, anchor) if anchor else mapped
            if (residual, ci) not in validated:
                # Compiled alone once, the way the scan compiles it, so whatever cannot run is
                # reported against its own rule here; the shared per-bucket compile during the
                # scan would otherwise fail for every rule of the bucket.
                compile_batch([residual], ci_fields=ci)
                validated.add((residual, ci))
            placed.append((lt, Unit(rule, lt, role, step=step, expr=residual), anchor, ci))  # type: ignore[arg-type]
        return placed

    for rule in runnable:
        # Everything a rule needs is prepared first and committed only if all of it succeeded,
        # so a rule reported as broken never runs in part (nor silences the rules it refers to).
        placed: list[Placement] = []
        subscriptions: list[tuple[str, int]] = []
        try:
            types = log_types_of(rule)
            unknown = _routes_unknown(rule)
            logic = rule.logic
            if isinstance(logic, Correlation):
                for i, step in enumerate(logic.steps):
                    if step.expr is not None:
                        placed += place_expr(rule, step.expr, "step", i, types, unknown)
                    elif step.rule_ref is not None:
                        target = by_ref.get(step.rule_ref)
                        if target is None:
                            raise TokenTrailError(f"correlation step {step.name!r} refers to unknown rule "
                                                  f"{step.rule_ref!r}", file=rule.path or None)
                        subscriptions.append((target.id, i))
                if logic.until is not None:
                    placed += place_expr(rule, logic.until, "until", 0, types, unknown)
            elif isinstance(logic, PythonLogic):
                detection = TimeLimitedDetection(load_guarded(logic, python_time_limit), limit=python_time_limit)
                placed = [(lt, Unit(rule, lt, "rule", python=detection), None, False)
                          for lt in (*types, *((UNKNOWN,) if unknown or not types else ()))]
            else:
                assert logic is not None
                placed = place_expr(rule, logic, "rule", 0, types, unknown)
        except TokenTrailError as exc:
            if not exc.file:
                exc.file = rule.path or None
            errors.append(exc)
            failed.add(rule.id)
            continue
        except Exception as exc:  # a broken rule is reported; the others still run
            errors.append(TokenTrailError(f"rule {rule.id} cannot run: {type(exc).__name__}: {exc}",
                                          file=rule.path or None))
            failed.add(rule.id)
            continue
        for lt, unit, anchor, ci in placed:
            indexes[lt].add(unit, anchor, ci)
        if isinstance(rule.logic, PythonLogic):
            python_rules += 1
        if isinstance(rule.logic, Correlation):
            correlations.append(rule)
            for target_id, i in subscriptions:
                subscribers[target_id].append((rule, i))
                referenced.add(target_id)
                if rule.logic.generate:
                    generate_refs.add(target_id)
    units: list[Unit] = []
    for lt, index in indexes.items():
        info = schemas.get_log_type(lt) if lt != UNKNOWN else None
        index.seal(info is not None and info.case_insensitive_events, info.anchor_field if info else None)
        for unit in dict.fromkeys([*(u for b in index.anchored.values() for us in b.values() for u in us),
                                   *index.unanchored, *index.python]):
            unit.index = len(units)
            units.append(unit)
    alerting = {r.id for r in runnable if r.id not in referenced or r.id in generate_refs}
    return Plan(dict(indexes), correlations, dict(subscribers), alerting, errors, python_rules, units, failed)

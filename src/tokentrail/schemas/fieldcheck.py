"""Check that every field a rule reads exists in the log types the rule runs on.

A rule's fields are those of its logic (every comparison and existence test, correlation steps and
``until``), its grouping (group-by, distinct, new-terms fields) and its output fields. Each field
is looked up, as the rule's dialect names it, in the field lists (``fieldlists``) of the log
types the rule routes to that speak the same dialect — a Sigma rule for Okta against the Okta
System Log, an Elastic rule against Okta's ECS form — skipping log types on which the rule cannot
match at all (an ECS rule pinning another vendor's ``event.dataset``). A field is unknown when no
such log type has it; where the rule requires event types (``EVENT_TYPE: RestApi``), only those
event types' names count. Mapping gaps between a native log type and its ECS form are not the
rule's fault and are not reported.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokentrail.errors import TokenTrailError
from tokentrail.rules.ir import All, Any, Cmp, Const, Expr, fields_of
from tokentrail.rules.model import Correlation, PythonLogic, Rule
from tokentrail.schemas.fieldlists import FieldList, field_lists, normalize
from tokentrail.schemas.fields import field_for
from tokentrail.schemas.lookup import get_log_type
from tokentrail.schemas.registry import registry
from tokentrail.schemas.specialize import fold_constants, specialize

Route = Callable[[Rule], Sequence[str]]


class UnknownField(TokenTrailError):
    """A field a rule reads that none of its log types has (``str``: one line with file and line)."""

    def __init__(self, rule_id: str, field_name: str, labels: Sequence[str], suggestion: str | None, *,
                 file: str | None = None, line: int | None = None) -> None:
        where = " or ".join(labels)
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        super().__init__(f"{rule_id}: {field_name}: no such {where} field{hint}", file=file, line=line)
        self.rule_id = rule_id
        self.field = field_name
        self.labels = tuple(labels)
        self.suggestion = suggestion

    def as_dict(self) -> dict[str, object]:
        """The report as plain data (for ``--format json``)."""
        return {"rule_id": self.rule_id, "field": self.field, "log_types": list(self.labels),
                "suggestion": self.suggestion, "file": self.file, "line": self.line,
                "message": str(self)}


def check_rules(rules: Iterable[Rule], route: Route) -> list[UnknownField]:
    """Every unknown field of every declarative rule; ``route`` gives a rule's log types (pass the
    engine's own routing so the check covers exactly the log types a scan compiles the rule for)."""
    found: list[UnknownField] = []
    for rule in rules:
        # A Python rule's reads are code; its output fields, read statically from that code, may be
        # computed values or data model names, so only declarative rules are checked.
        if rule.logic is not None and not isinstance(rule.logic, PythonLogic):
            found += check_rule(rule, tuple(route(rule)))
    return found


def check_rule(rule: Rule, log_types: Sequence[str]) -> list[UnknownField]:
    """The unknown fields of one rule running on ``log_types`` (in the order the rule names them)."""
    dialect = str(rule.metadata.get("field_dialect", "native"))
    exprs = _exprs(rule)
    targets = _targets(exprs, log_types, dialect)
    if not targets:
        return []
    lists = field_lists()
    pins = {lt: _pinned(exprs, lt, dialect, lists[lt]) for lt in targets}
    targets = _matching_event_types(targets, pins, lists)
    found: list[UnknownField] = []
    for name in rule_fields(rule):
        if any(lists[lt].knows(field_for(lt, name, dialect), pins[lt]) for lt in targets):
            continue
        labels = tuple(dict.fromkeys(lists[lt].label for lt in targets))
        suggestion = _suggest(name, [lists[lt] for lt in targets], [pins[lt] for lt in targets])
        found.append(UnknownField(rule.id, name, labels, suggestion, file=rule.path or None,
                                  line=_line_of(rule.path, name)))
    return found


def rule_fields(rule: Rule) -> tuple[str, ...]:
    """Every field name a rule reads, as the rule wrote it, each once (sorted within each part)."""
    names: list[str] = []
    for expr in _exprs(rule):
        names += sorted(fields_of(expr))
    logic = rule.logic
    if isinstance(logic, Correlation):
        names += [f for step in logic.steps for f in step.by]
        names += [logic.value_field] if logic.value_field else []
    g = rule.grouping
    names += [*g.group_by, *g.new_terms, *([g.distinct_field] if g.distinct_field else [])]
    names += [o.field for o in rule.output_fields]
    return tuple(dict.fromkeys(n for n in names if n))


def _exprs(rule: Rule) -> list[Expr]:
    logic = rule.logic
    if isinstance(logic, Correlation):
        out = [step.expr for step in logic.steps if step.expr is not None]
        return out + ([logic.until] if logic.until is not None else [])
    if logic is None or isinstance(logic, PythonLogic):
        return []
    return [logic]


def _targets(exprs: Sequence[Expr], log_types: Sequence[str], dialect: str) -> tuple[str, ...]:
    """The routed log types of the rule's dialect it can match on (each family's log type of that
    dialect when the rule routes to none of them)."""
    reg = registry()
    # A log type name TokenTrail has no schema for (a Panther log type it only routes) has no list.
    live = [lt for lt in log_types if reg.get(lt) is not None
            and (not exprs or any(_can_match(e, lt, dialect) for e in exprs))]
    want_ecs = dialect == "ecs"
    same = [lt for lt in live if get_log_type(lt).is_ecs == want_ecs]
    if same:
        return tuple(same)
    families = dict.fromkeys(get_log_type(lt).family for lt in live)
    picked = [reg.ecs_of(f) if want_ecs else reg.get(f) for f in families]
    return tuple(lt.name for lt in picked if lt is not None)


def _can_match(expr: Expr, log_type: str, dialect: str) -> bool:
    """Whether ``expr`` may hold on some event of ``log_type``. Beyond what a scan folds, an ECS
    log type's own constants count (an ECS document of Okta is one whose ``event.dataset`` is
    ``okta.system``), so a rule pinning another vendor's dataset is not checked against it."""
    specialized = specialize(expr, log_type, dialect)
    lt = get_log_type(log_type)
    if lt.is_ecs and lt.ecs_constants:
        specialized = fold_constants(specialized, lt.ecs_constants)
    return specialized != Const(False)


def _matching_event_types(targets: tuple[str, ...], pins: Mapping[str, tuple[str, ...] | None],
                          lists: Mapping[str, FieldList]) -> tuple[str, ...]:
    """Drop the log types whose events the rule's required event types cannot be (``EVENT_TYPE:
    Login`` names an Event Log File event type, never a Real-Time Event Monitoring object), when
    another routed log type lists all of them."""
    def lists_all(lt: str) -> bool:
        pin = pins[lt]
        return bool(pin) and all(v.lower() in lists[lt].by_event_type for v in pin or ())

    def lists_none(lt: str) -> bool:
        pin = pins[lt]
        return bool(pin) and bool(lists[lt].by_event_type) and not any(
            v.lower() in lists[lt].by_event_type for v in pin or ())

    if not any(lists_all(lt) for lt in targets):
        return targets
    return tuple(lt for lt in targets if not lists_none(lt))


def _pinned(exprs: Sequence[Expr], log_type: str, dialect: str, known: FieldList) -> tuple[str, ...] | None:
    """The event types a single-expression rule requires on ``log_type`` (``None``: any)."""
    if len(exprs) != 1 or not known.event_type_field:
        return None
    values = _required(specialize(exprs[0], log_type, dialect), known.event_type_field.lower())
    return tuple(sorted(values)) if values else None


def _required(expr: Expr, field_name: str) -> frozenset[str] | None:
    """Values ``field_name`` must equal for ``expr`` to hold (``None`` when it is not pinned)."""
    match expr:
        case Cmp(field=f, op="eq", values=values, all_values=False) if normalize(f) == field_name:
            strings = [v for v in values if isinstance(v, str)]
            return frozenset(strings) if len(strings) == len(values) and strings else None
        case All(items):
            pinned = [p for p in (_required(i, field_name) for i in items) if p is not None]
            return frozenset.intersection(*pinned) if pinned else None
        case Any(items) if items:
            each = [_required(i, field_name) for i in items]
            return None if any(p is None for p in each) else frozenset().union(*each)  # type: ignore[arg-type]
        case _:
            return None


def _suggest(name: str, lists: Sequence[FieldList], pins: Sequence[tuple[str, ...] | None]) -> str | None:
    """The known name closest to ``name`` (compared without case and array markers)."""
    known = _candidates(tuple(k.log_type for k in lists), tuple(pins))
    target = normalize(name)
    root = target.split(".", 1)[0]
    pool = known.by_root.get(root)
    if pool is None:
        # The first part is misspelt (or foreign): look among the names under the nearest one.
        close_root = difflib.get_close_matches(root, list(known.by_root), n=1, cutoff=0.75)
        pool = known.by_root[close_root[0]] if close_root else ()
    best = difflib.get_close_matches(target, pool, n=1, cutoff=0.75)
    if not best and "." in target:
        # A misspelt last part of a long path: compare the part, keep the path.
        head, _, tail = target.rpartition(".")
        tails = {n.rpartition(".")[2]: n for n in pool if n.rpartition(".")[0] == head}
        close = difflib.get_close_matches(tail, list(tails), n=1, cutoff=0.6)
        best = [tails[close[0]]] if close else []
    if best:
        return known.spelling[best[0]]
    return _inside_open_object(target, lists)


@dataclass(frozen=True)
class _Candidates:
    """The names suggestions are drawn from: lower-cased name -> spelling, and names by first part."""

    spelling: Mapping[str, str]
    by_root: Mapping[str, tuple[str, ...]]


@lru_cache(maxsize=256)
def _candidates(log_types: tuple[str, ...], pins: tuple[tuple[str, ...] | None, ...]) -> _Candidates:
    lists = field_lists()
    spelling: dict[str, str] = {}
    for log_type, pin in zip(log_types, pins, strict=True):
        known = lists[log_type]
        for n in (*known.allowed(pin), *known.open):
            spelling.setdefault(n, known.spelling.get(n, n))
    by_root: dict[str, list[str]] = {}
    for n in spelling:
        by_root.setdefault(n.split(".", 1)[0], []).append(n)
    return _Candidates(spelling, {root: tuple(names) for root, names in by_root.items()})


def _inside_open_object(target: str, lists: Sequence[FieldList]) -> str | None:
    """``target`` moved under an open object beside its first part (``data.request.x`` ->
    ``data.details.request.x``), for a rule that skipped the object's own key."""
    for known in lists:
        for o in known.open:
            parent = o.rpartition(".")[0]
            if parent and target.startswith(parent + ".") and not target.startswith(o + "."):
                return known.spelling.get(o, o) + target[len(parent):]
    return None


def _line_of(path: str, name: str) -> int | None:
    """The first line of the rule file naming the field (``None`` when not found or unreadable)."""
    if not path:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    bare = name.replace("{}", "")
    pattern = re.compile(r"(?<![\w.])" + re.escape(bare) + r"(?![\w])")
    for number, text in enumerate(lines, 1):
        if pattern.search(text):
            return number
    return None

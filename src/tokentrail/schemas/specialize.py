"""Prepare a rule's expression for one log type: rename its fields, and settle comparisons on
fields that are constant for the log type.

ECS documents carry fields that native events lack because they are fixed by the log type
(``event.dataset: okta.system``); an Elastic rule testing them must still run on native Okta
events, and must never fire on native Auth0 events. So when an ``ecs`` dialect rule runs on a
native log type, comparisons on the family's ECS constants fold to ``Const`` before renaming —
and an ``All`` holding a false constant folds to ``Const(False)``, telling the engine the rule
cannot match that log type at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, Expr, Not, map_fields
from tokentrail.schemas.fields import field_map
from tokentrail.schemas.registry import registry


def specialize(expr: Expr, log_type: str, rule_dialect: str = "native") -> Expr:
    """``expr`` as it must run on events of ``log_type`` (fields renamed, constants folded).

    Raises ``ConfigError`` for an unknown log type or dialect.
    """
    mapping = field_map(log_type, rule_dialect)
    constants = ecs_constants(log_type) if rule_dialect == "ecs" else {}
    if constants:
        expr = fold_constants(expr, constants)
    return map_fields(expr, mapping)  # type: ignore[arg-type]  # map_fields only calls .get


def ecs_constants(log_type: str) -> Mapping[str, object]:
    """ECS fields whose value is fixed for every event of a native log type (``{}`` for ECS ones)."""
    reg = registry()
    lt = reg.get(log_type)
    if lt is None or lt.is_ecs:
        return {}
    ecs = reg.ecs_of(lt.family)
    return ecs.ecs_constants if ecs else {}


def fold_constants(expr: Expr, constants: Mapping[str, object],
                   decidable: Callable[[Cmp], bool] | None = None) -> Expr:
    """Replace tests of constant fields by their outcome and simplify what they decide.

    ``decidable`` (if given) says which comparisons on a constant field may be settled; the
    others are kept as they are.
    """
    match expr:
        case All(items) | Any(items):
            folded = [fold_constants(i, constants, decidable) for i in items]
            if folded == list(items):
                return expr
            # All: False decides, True drops out; Any: the other way round.
            decides = Const(isinstance(expr, Any))
            kept = tuple(i for i in folded if i != Const(not decides.value))
            if decides in kept:
                return decides
            return type(expr)(kept) if kept else Const(not decides.value)
        case Not(item):
            inner = fold_constants(item, constants, decidable)
            if isinstance(inner, Const):
                return Const(not inner.value)
            return expr if inner is item else Not(inner)
        case Exists(field) if field in constants:
            return Const(True)
        case Cmp(field=field) if field in constants and (decidable is None or decidable(expr)):
            return Const(_holds(expr, {field: constants[field]}))
        case _:
            return expr


def _holds(cmp: Cmp, event: Mapping[str, object]) -> bool:
    # The comparison semantics live in one place (the Python compiler); reuse them rather than
    # restate them for the handful of constant fields.
    from tokentrail.compile.python import compile_expr

    return compile_expr(cmp)(event)

"""Every conversion target by name, and ``convert``: one rule to one target, never raising for
what the rule says — a rule that cannot be written for a target gives ``not_convertible`` and why.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from tokentrail.convert import siem, vendor
from tokentrail.convert.errors import Unconvertible
from tokentrail.convert.forms import form_of
from tokentrail.convert.model import Conversion
from tokentrail.convert.sigma import to_sigma
from tokentrail.convert.targets import SCHEMAS, TARGETS
from tokentrail.errors import ConfigError
from tokentrail.rules.model import PythonLogic, Rule

SQL_MISSING = "SQL targets not installed"
LIFTED_CAVEAT = ("the condition was lifted from the rule's Python rule(); its Python alert functions "
                 "(title, dedup, alert_context, severity) are not carried")


def convert(rule: Rule, target: str, *, schema: str | None = None,
            rules: Sequence[Rule] = ()) -> Conversion:
    """``rule`` as a query of ``target`` (one of ``TARGETS``), with its fidelity.

    ``schema`` overrides the target's field names (``native`` or ``ecs``); ``rules`` are the
    rules a correlation may name. Raises ``ConfigError`` for an unknown target or schema only.
    """
    if target not in TARGETS:
        raise ConfigError(f"unknown conversion target {target!r} (known: {', '.join(TARGETS)})")
    if schema is not None and schema not in SCHEMAS:
        raise ConfigError(f"unknown schema {schema!r} (known: {', '.join(SCHEMAS)})")
    try:
        declarative, lifted = _declarative(rule)
        rules = [_lifted(r) for r in rules]  # a correlation may name a lifted Python rule
        query, caveats = _query(declarative, target, schema, _resolver([declarative, *rules]), rules)
    except Unconvertible as exc:
        return Conversion(rule.id, target, "", "not_convertible", (exc.message,), rule.path)
    except Exception as exc:  # a backend surprise on one rule must not stop the others
        return Conversion(rule.id, target, "", "not_convertible",
                          (f"conversion failed: {type(exc).__name__}: {exc}",), rule.path)
    if isinstance(query, Conversion):
        if not lifted or query.status == "not_convertible":
            return query
        return replace(query, status="caveats", caveats=tuple(dict.fromkeys((LIFTED_CAVEAT, *query.caveats))))
    caveats = tuple(dict.fromkeys([LIFTED_CAVEAT, *caveats] if lifted else caveats))
    return Conversion(rule.id, target, query, "caveats" if caveats else "exact", caveats, rule.path)


def convert_all(rules: Sequence[Rule], targets: Iterable[str], *,
                schema: str | None = None) -> list[Conversion]:
    """Every rule to every target (rule by rule, targets in the order given)."""
    wanted = list(dict.fromkeys(targets))
    return [convert(rule, t, schema=schema, rules=rules) for rule in rules for t in wanted]


def _declarative(rule: Rule) -> tuple[Rule, bool]:
    """The rule with IR logic, and whether that logic was lifted from its Python ``rule()``.

    Raises ``Unconvertible`` for a Python rule that did not lift, with the lift's reason.
    """
    logic = rule.logic
    if not isinstance(logic, PythonLogic):
        return rule, False
    if logic.lifted is None:
        raise Unconvertible("Python logic cannot be converted"
                            + (f": {logic.not_lifted}" if logic.not_lifted else ""))
    return _lifted(rule), True


def _lifted(rule: Rule) -> Rule:
    """The rule with its lifted condition as its logic, when it is a Python rule that lifted."""
    logic = rule.logic
    if isinstance(logic, PythonLogic) and logic.lifted is not None:
        return replace(rule, logic=logic.lifted)
    return rule


def _query(rule: Rule, target: str, schema: str | None, resolve: Callable[[str], Rule | None],
           rules: Sequence[Rule]) -> tuple[str | Conversion, list[str]]:
    if rule.logic is None:
        raise Unconvertible(f"the rule did not load: {rule.unsupported or 'it has no logic'}")
    unknown = rule.metadata.get("unmapped_log_types")
    if unknown and not rule.log_types:  # else its empty log types would read as "every log type"
        raise Unconvertible(f"the rule reads only log types TokenTrail does not know ({', '.join(unknown)})")
    if target.startswith("sql:"):
        return _sql(rule, target.split(":", 1)[1], schema, rules), []
    if target == "sigma":
        dialect = schema or "native"
        sigma = to_sigma(rule, form_of(rule, dialect), resolve, lambda r: form_of(r, dialect))
        return sigma.yaml(), list(sigma.caveats)
    if target in vendor.TARGETS:
        return vendor.to_vendor(vendor.TARGETS[target], form_of(rule, "native"))
    return siem.to_siem(rule, siem.TARGETS[target], schema, resolve)


def _sql(rule: Rule, dialect: str, schema: str | None, rules: Sequence[Rule]) -> Conversion:
    try:
        module = importlib.import_module("tokentrail.convert.sql")
    except ModuleNotFoundError as exc:
        if exc.name != "tokentrail.convert.sql":
            raise
        raise Unconvertible(SQL_MISSING) from None
    # The rules a correlation names, for a converter that takes them.
    extra = {"others": tuple(rules)} if "others" in inspect.signature(module.to_sql).parameters else {}
    conversion = module.to_sql(rule, dialect, schema, **extra)
    if not isinstance(conversion, Conversion):
        raise Unconvertible(f"the SQL converter gave {type(conversion).__name__}, not a Conversion")
    return conversion


def _resolver(rules: Iterable[Rule]) -> Callable[[str], Rule | None]:
    by_ref: dict[str, Rule] = {}
    for r in rules:
        for key in (r.id, r.name):
            if key:
                by_ref.setdefault(key, r)
                by_ref.setdefault(key.lower(), r)
    return lambda ref: by_ref.get(ref) or by_ref.get(ref.lower())

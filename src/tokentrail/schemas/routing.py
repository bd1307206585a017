"""Which log types a rule runs on, from its Sigma ``logsource`` or its format's own names
(Panther ``LogTypes``, Elastic index patterns)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

from tokentrail.rules.model import LogSource
from tokentrail.schemas.model import LogType
from tokentrail.schemas.registry import Registry, registry


def log_types_for(logsource: LogSource, rule_format: str = "sigma") -> tuple[str, ...]:
    """Log type names a rule with this ``logsource`` covers, in registry order.

    No product and no service: every log type. A product (any case) selects its family — native,
    variant and ECS forms. A service known for the product narrows to the log types that list it
    (plus the family's ECS form, which carries the same events); a service we do not know keeps the
    whole family. Unknown product: ``()`` — unless ``rule_format`` is ``panther`` or ``elastic`` and
    the product is one of that format's log type names or index patterns.
    """
    reg = registry()
    product = (logsource.product or "").strip().lower()
    service = (logsource.service or "").strip().lower()
    if not product and not service:
        return tuple(lt.name for lt in reg.log_types)
    if product:
        candidates = tuple(lt for lt in reg.log_types if lt.product == product)
        if not candidates:
            return (
                log_types_for_names([logsource.product or ""], rule_format)
                if rule_format in ("panther", "elastic")
                else ()
            )
    else:
        candidates = reg.log_types
    if not service:
        return _names(candidates)
    chosen = [lt for lt in candidates if service in lt.services]
    if not chosen:
        return _names(candidates) if product else ()
    families = {lt.family for lt in chosen if not lt.is_ecs}
    return _names(lt for lt in candidates if lt in chosen or (lt.is_ecs and lt.family in families))


def log_types_for_names(names: Iterable[str], rule_format: str) -> tuple[str, ...]:
    """Log type names for a format's own names of its inputs.

    ``panther``: Panther log types (``Okta.SystemLog``, ``Salesforce.RealtimeEvent``) select their
    family. ``elastic``: index patterns naming a vendor (``logs-okta*``) select its family; generic
    patterns (``filebeat-*``, ``logs-*``) select every log type. Any format: a TokenTrail log type
    name selects itself. Names nothing knows add nothing.
    """
    reg = registry()
    picked: set[str] = set()
    for raw in names:
        name = raw.strip()
        if reg.get(name) is not None:
            picked.add(name)
        elif rule_format == "panther":
            picked.update(_families(reg, name, lambda base: base.panther_log_types))
        elif rule_format == "elastic":
            if name in reg.generic_index_patterns:
                picked.update(lt.name for lt in reg.log_types)
            else:
                picked.update(_families(reg, name.lower(), lambda base: base.index_globs))
    return tuple(lt.name for lt in reg.log_types if lt.name in picked)


def _families(reg: Registry, name: str, globs: Callable[[LogType], tuple[str, ...]]) -> set[str]:
    """Every log type of each family whose base log type has a glob matching ``name``."""
    return {
        lt.name
        for base in reg.log_types
        if base.name == base.family and any(fnmatchcase(name, g) for g in globs(base))
        for lt in reg.family(base.family)
    }


def _names(log_types: Iterable[LogType]) -> tuple[str, ...]:
    return tuple(lt.name for lt in log_types)

"""Which TokenTrail log types an Elastic rule reads, from its ``index`` patterns."""

from __future__ import annotations

from collections.abc import Iterable

# Native and ECS log types of each vendor whose ECS mapping TokenTrail ships (schemas/data/ecs/).
VENDOR_LOG_TYPES: dict[str, tuple[str, ...]] = {
    "okta": ("okta", "ecs.okta"),
    "auth0": ("auth0", "ecs.auth0"),
    "salesforce": ("salesforce", "ecs.salesforce"),
}
ALL_LOG_TYPES: tuple[str, ...] = tuple(t for types in VENDOR_LOG_TYPES.values() for t in types)


def vendors_in(names: Iterable[str]) -> list[str]:
    """Vendors named by index patterns or integration names (``logs-okta*`` -> ``okta``)."""
    found: list[str] = []
    for name in names:
        low = str(name).lower()
        for vendor in VENDOR_LOG_TYPES:
            if vendor in low and vendor not in found:
                found.append(vendor)
    return found


def log_types_for_indices(indices: Iterable[str], integrations: Iterable[str] = ()) -> tuple[str, ...]:
    """Log types for a rule's index patterns (then its integrations); every vendor when neither
    names one, since ``filebeat-*`` or ``logs-*`` could hold any of them."""
    vendors = vendors_in(indices) or vendors_in(integrations)
    if not vendors:
        return ALL_LOG_TYPES
    return tuple(t for vendor in vendors for t in VENDOR_LOG_TYPES[vendor])

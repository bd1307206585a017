"""Panther log type names and the TokenTrail log types whose events they describe."""

from __future__ import annotations

from collections.abc import Iterable

# Exact Panther names first, then families by prefix (Salesforce.* are all Real-Time Event
# Monitoring objects with the same upper-case field names).
_EXACT: dict[str, tuple[str, ...]] = {
    "Okta.SystemLog": ("okta", "ecs.okta"),
    "Auth0.Events": ("auth0", "auth0.api"),
}
_PREFIXES: dict[str, tuple[str, ...]] = {
    "Salesforce.": ("salesforce", "salesforce.rtem"),
}


def tokentrail_log_types(panther_types: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(TokenTrail log types, Panther names with no TokenTrail counterpart)``, both in order."""
    mapped: list[str] = []
    unmapped: list[str] = []
    for name in panther_types:
        targets = _EXACT.get(name)
        if targets is None:
            targets = next((t for p, t in _PREFIXES.items() if name.startswith(p)), None)
        if targets is None:
            unmapped.append(name)
        else:
            mapped.extend(t for t in targets if t not in mapped)
    return tuple(mapped), tuple(unmapped)

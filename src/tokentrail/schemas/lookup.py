"""Look log types up by name."""

from __future__ import annotations

from tokentrail.errors import ConfigError
from tokentrail.schemas.model import LogType
from tokentrail.schemas.registry import registry


class UnknownLogType(ConfigError, KeyError):
    """A log type name TokenTrail does not know (also a ``KeyError`` for dict-like callers)."""


def get_log_type(name: str) -> LogType:
    """The log type called ``name``; raises ``UnknownLogType`` listing the known names."""
    lt = registry().get(name)
    if lt is None:
        known = ", ".join(lt.name for lt in registry().log_types)
        raise UnknownLogType(f"unknown log type {name!r} (known: {known})")
    return lt


def all_log_types() -> tuple[LogType, ...]:
    """Every log type, in detection order."""
    return registry().log_types

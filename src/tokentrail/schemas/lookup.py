"""Look log types up by name: TokenTrail's own, and a generic one per Panther log type name.

Panther exports name their log type in ``p_log_type``. Names of a family TokenTrail knows
(``Okta.SystemLog``, ``Salesforce.Login``) select that family; any other Panther name
(``GitHub.Audit``) is a *generic* log type of its own: no field tree, no field renames, time from
``p_event_time`` and id from ``p_row_id``, so a Panther Python rule declaring that name still sees
its events.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import cache

from tokentrail.errors import ConfigError
from tokentrail.schemas.model import LogType
from tokentrail.schemas.registry import registry

# Panther log type names: a vendor and one or more parts (``GitHub.Audit``, ``AWS.CloudTrail``).
_PANTHER_NAME = re.compile(r"[A-Z][A-Za-z0-9]*(\.[A-Za-z0-9_]+)+")


class UnknownLogType(ConfigError, KeyError):
    """A log type name TokenTrail does not know (also a ``KeyError`` for dict-like callers)."""


def get_log_type(name: str) -> LogType:
    """The log type called ``name`` (a TokenTrail name, or a generic Panther name); raises
    ``UnknownLogType`` listing the known names."""
    lt = log_type_info(name)
    if lt is None:
        known = ", ".join(lt.name for lt in registry().log_types)
        raise UnknownLogType(
            f"unknown log type {name!r} (known: {known}; or a Panther log type name such as GitHub.Audit)"
        )
    return lt


def log_type_info(name: str) -> LogType | None:
    """The log type called ``name``, generic Panther ones included; ``None`` when unknown."""
    return registry().get(name) or generic_log_type(name)


def resolve_log_type_name(name: str) -> str:
    """The log type a user-given name means: a TokenTrail name as is, a Panther name of a known
    family as that family's base log type (``Okta.SystemLog`` -> ``okta``), any other Panther name
    as its generic log type. Raises ``UnknownLogType`` listing the known names."""
    if registry().get(name) is not None:
        return name
    family = panther_family(name)
    return family if family is not None else get_log_type(name).name


@cache
def panther_family(panther_name: str) -> str | None:
    """The TokenTrail family (its base log type's name) a Panther log type name belongs to."""
    for lt in registry().log_types:
        if lt.name == lt.family and any(fnmatchcase(panther_name, g) for g in lt.panther_log_types):
            return lt.name
    return None


@cache
def generic_log_type(name: str) -> LogType | None:
    """The generic log type of a Panther name no TokenTrail family claims; ``None`` otherwise."""
    if not _PANTHER_NAME.fullmatch(name) or panther_family(name) is not None:
        return None
    return LogType(
        name=name,
        family=name,
        product=name.split(".", 1)[0].lower(),
        title=f"Panther log type {name}",
        time_fields=("p_event_time",),
        id_fields=("p_row_id",),
        panther_log_types=(name,),
        source="generic Panther log type",
    )


def is_generic(name: str) -> bool:
    """Whether ``name`` is a generic (Panther-named, schema-less) log type."""
    return generic_log_type(name) is not None


def all_log_types() -> tuple[LogType, ...]:
    """Every log type TokenTrail has a data file for, in detection order."""
    return registry().log_types

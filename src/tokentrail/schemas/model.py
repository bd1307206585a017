"""What TokenTrail knows about one log type: how to recognise its events, where their time and id
are, which field names the event type, and how rule field names become its field names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

Dialect: TypeAlias = Literal["native", "ecs"]
DIALECTS: tuple[str, ...] = ("native", "ecs")


@dataclass(frozen=True, slots=True)
class LogType:
    """One log type (``okta``, ``auth0.api``, ``ecs.salesforce``, ...).

    ``family`` is the native log type whose field names rules of the ``native`` dialect use for
    every log type of the family (``auth0`` for ``auth0.api`` and ``ecs.auth0``). ``dialect`` says
    how this log type's own events name their fields. ``detect`` lists alternatives, each a tuple of
    keys that must all be present (dotted keys are nested paths) — ECS log types are recognised by
    ``ecs_detect`` values instead. ``detect_fallback`` alternatives are looser ones, tried only after
    every log type's ``detect`` failed. ``case_insensitive_events``: engines look keys up in events regardless of case (defaults to
    ``case_insensitive_fields``). ``case_insensitive_fields``: rule field names resolve to this
    log type's fields regardless of case, so engines should look up unknown ones the same way.
    ``ecs_fields`` (native field -> the ECS field it is indexed as) and ``ecs_aliases`` (further
    ECS field -> the native field whose value it carries) are set on ECS log types only. Aliases
    are read in the ECS -> native direction alone, and decide it where ``ecs_fields`` sends several
    native fields to one ECS field. ``indicators`` (kind -> fields) name the fields whose values
    Panther's standard ``p_any_<kind>`` lists collect (``ip_addresses``, ``emails``, ...).
    """

    name: str
    family: str
    product: str
    title: str = ""
    dialect: Dialect = "native"
    services: tuple[str, ...] = ()
    detect: tuple[tuple[str, ...], ...] = ()
    detect_fallback: tuple[tuple[str, ...], ...] = ()
    ecs_detect: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    anchor_field: str = ""
    time_fields: tuple[str, ...] = ()
    id_fields: tuple[str, ...] = ()
    case_insensitive_fields: bool = False
    case_insensitive_events: bool = False
    known_fields: tuple[str, ...] = ()
    implicit_prefix: str = ""
    strip_prefix: str = ""
    renames: Mapping[str, str] = field(default_factory=dict, hash=False)
    ecs_fields: Mapping[str, str] = field(default_factory=dict, hash=False)
    ecs_aliases: Mapping[str, str] = field(default_factory=dict, hash=False)
    ecs_constants: Mapping[str, object] = field(default_factory=dict, hash=False)
    panther_log_types: tuple[str, ...] = ()
    indicators: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    index_globs: tuple[str, ...] = ()
    source: str = ""

    @property
    def vendor(self) -> str:
        """The vendor (product) whose logs these are."""
        return self.product

    @property
    def is_ecs(self) -> bool:
        """Whether events of this log type are ECS documents."""
        return self.dialect == "ecs"

"""Recognise which log type an event is, fast: this runs on every event of a scan.

The checks come from the data files (``detect`` key sets of native log types, then ECS dataset
values) and are generated once into one Python function of plain ``in`` tests, so a typical event
costs a handful of dict lookups and no loop over its keys. An event those checks do not place
goes to the slower ``reshape`` path (Panther's ``p_log_type``, Splunk and ECS wrappers, keys in
another case); what it recognises comes back as a ``Recognised`` holding the event rules must
read. Events in their log type's canonical form therefore pay nothing for the other forms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from tokentrail.schemas.access import reader
from tokentrail.schemas.casefold import fold_keys
from tokentrail.schemas.lookup import resolve_log_type_name
from tokentrail.schemas.registry import Registry, registry
from tokentrail.schemas.reshape import Recognised, build_reshaper, unwrap

# A log type name, a ``Recognised`` (the event had to be reshaped), or None (no log type).
Detection = str | Recognised | None
Detector = Callable[[Mapping[str, Any]], Detection]


def detect_log_type(event: Mapping[str, Any]) -> str | None:
    """The name of the log type ``event`` belongs to, or ``None`` when no log type claims it.

    Native forms are tried in registry order (Okta, Auth0 stream, Auth0 API, Salesforce ELF,
    Salesforce RTEM), then ECS documents by their dataset, then the other shapes ``reshape``
    knows. ``detector()`` gives the engine's form, which also hands back a reshaped event.
    """
    found = detector()(event)
    return found.log_type if found.__class__ is Recognised else found  # type: ignore[union-attr]


def recognise(event: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    """``(log type, the event rules must read)``: the event itself unless it had to be reshaped."""
    found = detector()(event)
    if found.__class__ is Recognised:
        return found.log_type, found.event  # type: ignore[union-attr]
    return found, event  # type: ignore[return-value]


@cache
def detector() -> Detector:
    """The generated detection function for the shipped log types."""
    return build_detector(registry())


@cache
def forced_detector(name: str) -> Detector:
    """A detector that gives every event the log type ``name`` (a TokenTrail or Panther name).

    Wrappers are still taken off and keys still folded to the forced log type's case, so forcing
    ``okta`` on a Panther export reads its lower-case columns. Raises ``UnknownLogType``.
    """
    forced = resolve_log_type_name(name)
    detect = detector()

    def force(event: Mapping[str, Any]) -> Detection:
        found = detect(event)
        if found == forced:
            return forced
        if found is None:
            inner = unwrap(event) or event
        else:
            inner = found.event if found.__class__ is Recognised else event  # type: ignore[union-attr]
        folded = fold_keys(inner, forced)
        return forced if folded is event else Recognised(forced, folded)

    return force


def build_detector(reg: Registry) -> Detector:
    """Generate the detection function for a registry."""
    lines = [
        "def detect(e):",
        "    if type(e) is not dict and not isinstance(e, Mapping):",
        "        return None",
    ]
    lines += _checks(reg, "detect")
    # Panther's p_log_type decides before ECS probes (an export may carry an ``event`` key).
    lines += ["    if 'p_log_type' in e:", "        return reshape(e)"]
    probes = reg.ecs.probe_keys
    if probes:
        lines += [
            f"    if ({' or '.join(f'{k!r} in e' for k in probes)}) and (found := ecs(e)) is not None:",
            "        return found",
        ]
    lines += _checks(reg, "detect_fallback")
    lines.append("    return reshape(e)")
    namespace: dict[str, Any] = {"Mapping": Mapping, "ecs": _ecs_detector(reg), "has": _has}
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from data-file keys via repr()
    detect = namespace["detect"]
    namespace["reshape"] = build_reshaper(reg, detect)
    return detect


def _checks(reg: Registry, attribute: str) -> list[str]:
    """Source lines returning a native log type's name when one of its key sets is present."""
    lines: list[str] = []
    for lt in reg.log_types:
        sets = getattr(lt, attribute)
        if lt.is_ecs or not sets:
            continue
        alternatives = " or ".join(f"({_all_present(keys)})" for keys in sets)
        lines += [f"    if {alternatives}:", f"        return {lt.name!r}"]
    return lines


def _all_present(keys: tuple[str, ...]) -> str:
    return " and ".join(_present(key) for key in keys)


def _present(key: str) -> str:
    """A test that ``key`` is in ``e``: top-level, or a literal dotted key, or a nested path."""
    if "." not in key:
        return f"{key!r} in e"
    head, _, rest = key.partition(".")
    nested = f"{rest!r} in v" if "." not in rest else f"has(v, {rest!r})"
    # The dict test keeps the common case to two lookups; other mappings take the slow path.
    return (
        f"(({nested} if type(v := e.get({head!r})) is dict else v is not None and has(v, {rest!r}))"
        f" or {key!r} in e)"
    )


def _has(obj: Any, path: str) -> bool:
    """Whether the nested object ``obj`` holds ``path`` (dot-separated keys)."""
    for part in path.split("."):
        if not isinstance(obj, Mapping) or part not in obj:
            return False
        obj = obj[part]
    return True


def _ecs_detector(reg: Registry) -> Callable[[Mapping[str, Any]], str | None]:
    """Map an ECS document to its log type. Keys are read in turn — the vendor files' ``detect``
    keys, then the ECS family keys — and the first that answers decides: by an exact value a
    vendor file lists, else (family keys only) by the family named in the value's first part."""
    exact: dict[str, dict[str, str]] = {}
    for lt in reg.log_types:
        for field, values in lt.ecs_detect.items():
            table = exact.setdefault(field, {})
            for value in values:
                table.setdefault(value, lt.name)
    by_family = {lt.family: lt.name for lt in reg.log_types if lt.is_ecs}
    family_keys = set(reg.ecs.family_keys)
    steps = tuple(
        (reader(field), exact.get(field, {}), by_family if field in family_keys else {})
        for field in dict.fromkeys([*exact, *reg.ecs.family_keys])
    )

    def ecs(event: Mapping[str, Any]) -> str | None:
        for read, values, families in steps:
            value = read(event)
            if type(value) is str:
                name = values.get(value) or families.get(value.partition(".")[0])
                if name is not None:
                    return name
        return None

    return ecs

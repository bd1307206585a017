"""Load the log type data files (``schemas/data``) into ``LogType`` objects, once per process.

The files hold the facts; this module only checks their shape and turns them into models. A
broken file raises ``ConfigError`` naming it: the data ships with the package, so a bad file is a
packaging bug to surface, not an input to skip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tokentrail.errors import ConfigError
from tokentrail.schemas.model import LogType

DATA_DIR = Path(__file__).resolve().parent / "data"
_NATIVE_FILES = (
    "okta.yml", "auth0.yml", "auth0_api.yml", "salesforce.yml", "salesforce_rtem.yml",
    "azure_activitylogs.yml", "azure_platformlogs.yml",
)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class EcsSettings:
    """Facts shared by every ECS log type (``data/ecs.yml``)."""

    probe_keys: tuple[str, ...]
    family_keys: tuple[str, ...]


@dataclass(frozen=True)
class Registry:
    """Every log type, in detection order (native ones first, then ECS ones)."""

    log_types: tuple[LogType, ...]
    ecs: EcsSettings
    generic_index_patterns: frozenset[str]
    by_name: Mapping[str, LogType] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {lt.name: lt for lt in self.log_types})

    def get(self, name: str) -> LogType | None:
        return self.by_name.get(name)

    def family(self, family: str) -> tuple[LogType, ...]:
        """The log types of one family, in registry order."""
        return tuple(lt for lt in self.log_types if lt.family == family)

    def ecs_of(self, family: str) -> LogType | None:
        """The ECS log type of a family (it carries the family's native->ECS field table)."""
        return next((lt for lt in self.log_types if lt.family == family and lt.is_ecs), None)


@cache
def registry() -> Registry:
    """The log types shipped in ``schemas/data`` (loaded on first use, then shared)."""
    return load_registry(DATA_DIR)


def load_registry(data_dir: Path) -> Registry:
    """Build a registry from a data directory laid out like ``schemas/data``."""
    native = [_native_log_type(data_dir / name) for name in _NATIVE_FILES]
    ecs_path = data_dir / "ecs.yml"
    ecs_doc = _read(ecs_path)
    ecs_types = [_ecs_log_type(entry, ecs_doc, ecs_path) for entry in _list(ecs_doc, "log_types", ecs_path)]
    families = {lt.name: lt for lt in native}
    for lt in ecs_types:
        if lt.family not in families:
            raise ConfigError(
                f"ECS log type {lt.name} names unknown family {lt.family!r}", file=str(ecs_path)
            )
    # An ECS form is of its family's product (family azure.platformlogs, product azure).
    ecs_types = [replace(lt, product=families[lt.family].product) for lt in ecs_types]
    ecs_dir = data_dir / "ecs"
    if ecs_dir.is_dir():
        for path in sorted(ecs_dir.glob("*.yml")):
            ecs_types = _apply_vendor_file(ecs_types, path)
    aliases_path = data_dir / "aliases.yml"
    aliases = _read(aliases_path)
    settings = EcsSettings(
        probe_keys=_strings(ecs_doc, "probe_keys", ecs_path),
        family_keys=_strings(ecs_doc, "family_keys", ecs_path),
    )
    return Registry(
        log_types=tuple(native + ecs_types),
        ecs=settings,
        generic_index_patterns=frozenset(_strings(aliases, "generic_index_patterns", aliases_path)),
    )


def _native_log_type(path: Path) -> LogType:
    doc = _read(path)
    name = _string(doc, "name", path)
    return LogType(
        name=name,
        family=_string(doc, "family", path),
        product=_string(doc, "product", path),
        title=str(doc.get("title", "")),
        dialect="native",
        services=_strings(doc, "services", path),
        detect=tuple(tuple(_keys(alt, path)) for alt in _list(doc, "detect", path)),
        detect_fallback=tuple(tuple(_keys(alt, path)) for alt in _list(doc, "detect_fallback", path)),
        anchor_field=_string(doc, "anchor_field", path),
        time_fields=_strings(doc, "time_fields", path),
        id_fields=_strings(doc, "id_fields", path),
        case_insensitive_fields=bool(doc.get("case_insensitive_fields", False)),
        case_insensitive_events=bool(doc.get("case_insensitive_events", doc.get("case_insensitive_fields", False))),
        known_fields=tuple(_flatten_tree(doc.get("fields") or {}, "", path)),
        implicit_prefix=str(doc.get("implicit_prefix", "")),
        strip_prefix=str(doc.get("strip_prefix", "")),
        renames=_string_map(doc.get("renames") or {}, "renames", path),
        panther_log_types=_strings(doc, "panther_log_types", path),
        index_globs=_strings(doc, "index_globs", path),
        indicators=_indicator_map(doc.get("indicators") or {}, path),
        source=str(path),
    )


def _ecs_log_type(entry: Any, doc: Mapping[str, Any], path: Path) -> LogType:
    if not isinstance(entry, Mapping):
        raise ConfigError("each entry of log_types must be a mapping", file=str(path))
    family = _string(entry, "family", path)
    return LogType(
        name=_string(entry, "name", path),
        family=family,
        product=family,  # the family's product, set once the native log types are known
        title=str(entry.get("title", "")),
        dialect="ecs",
        services=_strings(doc, "services", path),
        anchor_field=_string(doc, "anchor_field", path),
        time_fields=_strings(doc, "time_fields", path),
        id_fields=_strings(doc, "id_fields", path),
        case_insensitive_fields=bool(doc.get("case_insensitive_fields", False)),
        case_insensitive_events=bool(doc.get("case_insensitive_events", doc.get("case_insensitive_fields", False))),
        ecs_constants=_constant_map(entry.get("constants") or {}, path),
        source=str(path),
    )


def _apply_vendor_file(ecs_types: list[LogType], path: Path) -> list[LogType]:
    """Merge one ``ecs/<vendor>.yml`` (detect values, field table, constants) into its log type."""
    doc = _read(path)
    name = _string(doc, "ecs_log_type", path)
    family = _string(doc, "log_type", path)
    index = next((i for i, lt in enumerate(ecs_types) if lt.name == name), None)
    if index is None:
        raise ConfigError(f"unknown ECS log type {name!r}", file=str(path))
    current = ecs_types[index]
    if current.family != family:
        raise ConfigError(f"{name} belongs to {current.family}, not {family}", file=str(path))
    detect = doc.get("detect") or {}
    if not isinstance(detect, Mapping):
        raise ConfigError("detect must map ECS fields to values", file=str(path))
    ecs_detect = {str(k): _scalars(v) for k, v in detect.items()}
    merged = replace(
        current,
        ecs_detect={**current.ecs_detect, **ecs_detect},
        ecs_fields={**current.ecs_fields, **_string_map(doc.get("fields") or {}, "fields", path)},
        ecs_constants={**current.ecs_constants, **_constant_map(doc.get("constants") or {}, path)},
        source=str(path),
    )
    aliases = _string_map(doc.get("aliases") or {}, "aliases", path)
    _check_aliases(aliases, merged, path)
    merged = replace(merged, ecs_aliases={**merged.ecs_aliases, **aliases})
    return [merged if i == index else lt for i, lt in enumerate(ecs_types)]


def _check_aliases(aliases: Mapping[str, str], lt: LogType, path: Path) -> None:
    """Reject aliases the ECS -> native direction could not honour.

    An alias may pick which of several native fields an ECS field in ``fields`` reads back as,
    but not send that ECS field to a native field ``fields`` never gives it; and an ECS constant
    is settled before any renaming, so an alias for one would silently never apply.
    """
    natives: dict[str, list[str]] = {}
    for native, ecs_name in lt.ecs_fields.items():
        natives.setdefault(ecs_name, []).append(native)
    for ecs_name, native in aliases.items():
        if not ecs_name or not native:
            raise ConfigError("aliases must map non-empty ECS field names to native fields",
                              file=str(path))
        if ecs_name in lt.ecs_constants:
            raise ConfigError(f"aliases: {ecs_name} is a constant of {lt.name}, not a field to rename",
                              file=str(path))
        known = natives.get(ecs_name)
        if known is not None and native not in known:
            raise ConfigError(
                f"aliases: {ecs_name} -> {native} contradicts fields, where {ecs_name} comes from "
                f"{', '.join(known)}",
                file=str(path),
            )


def _read(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read log type data: {exc.strerror}", file=str(path)) from exc
    try:
        doc = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"invalid YAML: {exc}", file=str(path), line=mark.line + 1 if mark is not None else None
        ) from exc
    if not isinstance(doc, Mapping):
        raise ConfigError("log type data must be a mapping", file=str(path))
    return doc


def _string(doc: Mapping[str, Any], key: str, path: Path) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} must be a non-empty string", file=str(path))
    return value


def _list(doc: Mapping[str, Any], key: str, path: Path) -> list[Any]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list", file=str(path))
    return value


def _strings(doc: Mapping[str, Any], key: str, path: Path) -> tuple[str, ...]:
    return tuple(_keys(_list(doc, key, path), path))


def _keys(values: Any, path: Path) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ConfigError(f"expected a list of strings, got {values!r}", file=str(path))
    return values


def _scalars(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _string_map(value: Any, key: str, path: Path) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"{key} must map field names to field names", file=str(path))
    return dict(value)


def _indicator_map(value: Any, path: Path) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and k for k in value):
        raise ConfigError("indicators must map indicator kinds to lists of fields", file=str(path))
    return {kind: tuple(_keys(fields, path)) for kind, fields in value.items()}


def _constant_map(value: Any, path: Path) -> dict[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ConfigError("constants must map ECS field names to values", file=str(path))
    return dict(value)


def _flatten_tree(tree: Any, prefix: str, path: Path) -> list[str]:
    """Every node path of a nested field tree (``{a: {b:}}`` or ``{a: [b]}`` -> ``a``, ``a.b``)."""
    if isinstance(tree, list):
        return [f"{prefix}{leaf}" for leaf in _keys(tree, path)]
    if not isinstance(tree, Mapping):
        raise ConfigError(f"fields under {prefix or 'the top'} must be a mapping", file=str(path))
    out: list[str] = []
    for key, sub in tree.items():
        name = f"{prefix}{key}"
        out.append(name)
        if sub is not None:
            out.extend(_flatten_tree(sub, f"{name}.", path))
    return out

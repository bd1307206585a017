"""Which field names the events of each log type can carry, from ``schemas/data/fields/``.

A log type's list is the union of:
  * the ``fields:`` tree of its own data file (``okta.yml``, ``auth0.yml``, ...);
  * ``fields/<log type>.yml``: more names (``fields``), open objects (``open``: any sub-field of
    these is a field), and names only some event types have (``event_types``, keyed by the value of
    ``event_type_field``, e.g. Salesforce Event Log File columns per ``EVENT_TYPE``);
  * the shared names of its dialect: ``fields/panther.yml`` (the standard fields Panther adds) for
    native log types, ``fields/ecs.yml`` (the Elastic Common Schema) for ECS ones;
  * for a log type that strips its family's envelope (``strip_prefix``, Auth0 Management API
    records), the family's names under that prefix, without it.

Names are matched without regard to case (field reads fall back to a key differing only in case).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tokentrail.errors import ConfigError
from tokentrail.schemas.registry import DATA_DIR, Registry, registry

FIELDS_DIR = DATA_DIR / "fields"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INDEX = re.compile(r"\[[^\]]*\]")  # Panther/JSONPath list indexes: target[0].id, target[*].id


def normalize(field_name: str) -> str:
    """A rule field as a plain dotted path: array markers (``{}``, ``[0]``) dropped, lower case."""
    return _INDEX.sub("", field_name.replace("{}", "")).lower()


@dataclass(frozen=True)
class FieldList:
    """The known field names of one log type, in that log type's own spelling.

    ``names`` and ``open`` hold lower-cased paths; ``spelling`` gives each name as the data writes
    it (for suggestions). ``by_event_type`` maps a lower-cased event type to the names only events
    of that type carry; ``event_type_field`` names the field holding it.
    """

    log_type: str
    label: str
    names: frozenset[str]
    open: tuple[str, ...] = ()
    event_type_field: str = ""
    by_event_type: Mapping[str, frozenset[str]] = field(default_factory=dict)
    spelling: Mapping[str, str] = field(default_factory=dict, repr=False)
    _allowed: dict[tuple[str, ...] | None, frozenset[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def allowed(self, event_types: Iterable[str] | None = None) -> frozenset[str]:
        """The names events of these event types carry (every event type's when ``None`` or when
        one of them has no list of its own)."""
        if not self.by_event_type:
            return self.names
        wanted = tuple(sorted(t.lower() for t in event_types)) if event_types is not None else None
        if not wanted or not all(t in self.by_event_type for t in wanted):
            wanted = None
        out = self._allowed.get(wanted)
        if out is None:
            chosen = self.by_event_type.values() if wanted is None else (self.by_event_type[t] for t in wanted)
            out = self._allowed[wanted] = self.names.union(*chosen)
        return out

    def knows(self, field_name: str, event_types: Iterable[str] | None = None) -> bool:
        """Whether ``field_name`` (as this log type names it) is a field of these event types."""
        path = normalize(field_name)
        if any(path == o or path.startswith(o + ".") for o in self.open):
            return True
        names = self.allowed(event_types)
        if "*" in path:
            pattern = re.compile(".*".join(map(re.escape, path.split("*"))) + "$")
            return any(pattern.match(n) for n in names)
        return path in names


@cache
def field_lists() -> Mapping[str, FieldList]:
    """The field list of every shipped log type, by log type name (loaded once)."""
    return load_field_lists(registry(), FIELDS_DIR)


def load_field_lists(reg: Registry, fields_dir: Path) -> dict[str, FieldList]:
    """Field lists for every log type of ``reg`` from a directory laid out like ``data/fields``.

    Raises ``ConfigError`` naming the file for a malformed one (the data ships with the package).
    """
    shared = {"native": _read(fields_dir / "panther.yml"), "ecs": _read(fields_dir / "ecs.yml")}
    lists: dict[str, FieldList] = {}
    # Log types that borrow their family's names come after the family's base log type.
    for lt in sorted(reg.log_types, key=lambda t: bool(t.strip_prefix)):
        own_path = fields_dir / f"{lt.name}.yml"
        own = _read(own_path) if own_path.is_file() else _Doc({}, own_path)
        common: dict[str, str] = {n.lower(): n for n in lt.known_fields}
        opens: list[str] = []
        for doc in (shared[lt.dialect], own):
            common.update(_names(doc.get("fields"), doc.path))
            opens += _strings(doc.get("open"), "open", doc.path)
        if lt.strip_prefix:
            base = lists.get(lt.family)
            if base is None:
                raise ConfigError(f"{lt.name} strips {lt.strip_prefix!r} but family {lt.family!r} has no list")
            common.update(_stripped(((n, base.spelling.get(n, n)) for n in base.names), lt.strip_prefix))
            opens += [o for o, _ in _stripped(((o, o) for o in base.open), lt.strip_prefix)]
        spelling = dict(common)
        by_type: dict[str, frozenset[str]] = {}
        for event_type, tree in _mapping(own.get("event_types"), "event_types", own.path).items():
            names = _names(tree, own.path)
            spelling.update(names)
            by_type[str(event_type).lower()] = frozenset(names)
        lists[lt.name] = FieldList(
            log_type=lt.name,
            label=str(own.get("label") or lt.product.capitalize()),
            names=frozenset(common),
            open=tuple(dict.fromkeys(o.lower() for o in opens)),
            event_type_field=str(own.get("event_type_field") or ""),
            by_event_type=by_type,
            spelling=spelling,
        )
    return lists


def _stripped(items: Iterable[tuple[str, str]], prefix: str) -> list[tuple[str, str]]:
    low = prefix.lower()
    return [(k[len(low):], v[len(prefix):]) for k, v in items if k.startswith(low) and len(k) > len(low)]


@dataclass(frozen=True)
class _Doc:
    data: Mapping[str, Any]
    path: Path

    def get(self, key: str) -> Any:
        return self.data.get(key)


def _read(path: Path) -> _Doc:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except OSError as exc:
        raise ConfigError(f"cannot read field list: {exc.strerror}", file=str(path)) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {exc}", file=str(path),
                          line=mark.line + 1 if mark is not None else None) from exc
    if not isinstance(doc, Mapping):
        raise ConfigError("a field list must be a mapping", file=str(path))
    return _Doc(doc, path)


def _names(tree: Any, path: Path, prefix: str = "") -> dict[str, str]:
    """Every node of a field tree (``{a: {b:}}``, ``{a: [b]}`` or a list of dotted names), lower-cased
    name -> spelling."""
    out: dict[str, str] = {}
    if tree is None:
        return out
    if isinstance(tree, list):
        for leaf in tree:
            if not isinstance(leaf, str) or not leaf:
                raise ConfigError(f"field names must be strings, got {leaf!r}", file=str(path))
            name = prefix + leaf
            out[name.lower()] = name
        return out
    if not isinstance(tree, Mapping):
        raise ConfigError(f"fields under {prefix or 'the top'} must be a mapping or a list", file=str(path))
    for key, sub in tree.items():
        name = f"{prefix}{key}"
        out[name.lower()] = name
        out.update(_names(sub, path, name + "."))
    return out


def _strings(value: Any, key: str, path: Path) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key} must be a list of field names", file=str(path))
    return value


def _mapping(value: Any, key: str, path: Path) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key} must map event types to field lists", file=str(path))
    return value

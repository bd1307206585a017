"""Panther data models: per-log-type names (``source_ip``, ``actor_user``) mapped to a JSONPath
or to a Python method, read by rules through ``event.udm(name)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokentrail.formats.panther.imports import import_file
from tokentrail.formats.panther.jsonpath import JSONPath, path_text


@dataclass(frozen=True, slots=True)
class ModelField:
    """One data-model name: read through ``path`` or computed by the module's ``method``."""

    name: str
    path: JSONPath | None = None
    method: str | None = None


@dataclass
class DataModel:
    """A loaded data model; its Python file (if any) is imported on first method use."""

    id: str
    log_types: tuple[str, ...]
    mappings: dict[str, ModelField]
    python_file: Path | None = None
    _methods: dict[str, Callable[[Any], Any]] | None = field(default=None, repr=False)

    def defines(self, name: str) -> bool:
        return name in self.mappings

    def path_of(self, name: str, event: Any = None) -> str | None:
        """Where ``name`` is read: for a path mapping, the path of the value it finds in
        ``event`` (``client.ipAddress``; ``None`` when it finds none, or without an event the
        mapping as written); for a method mapping, the method's name."""
        entry = self.mappings.get(name)
        if entry is None:
            return None
        if entry.path is None:
            return entry.method
        if event is None:
            return entry.path.text
        found = entry.path.find_located(event._data)
        return path_text(found[0][0]) if found else None

    def value(self, name: str, event: Any) -> Any:
        """The value of ``name`` for ``event`` (a ``PantherEvent``); a list when a path hits
        several values, ``None`` when it hits none."""
        entry = self.mappings[name]
        if entry.path is not None:
            found = entry.path.find(event._data)
            if not found:
                return None
            return found[0] if len(found) == 1 else found
        return self._method(entry.method)(event)  # type: ignore[arg-type]

    def _method(self, name: str) -> Callable[[Any], Any]:
        if self._methods is None:
            if self.python_file is None:
                raise LookupError(f"data model {self.id} maps to method {name!r} but has no Filename")
            module = import_file(self.python_file)
            self._methods = {k: v for k, v in vars(module).items() if callable(v)}
        method = self._methods.get(name)
        if method is None:
            raise LookupError(f"data model {self.id} has no method {name!r}")
        return method


class Registry:
    """Data models by Panther log type; one per ``PantherFormat`` (one rule-loading run)."""

    def __init__(self) -> None:
        self._by_log_type: dict[str, DataModel] = {}

    def add(self, model: DataModel) -> None:
        for log_type in model.log_types:
            self._by_log_type[log_type] = model

    def for_log_type(self, log_type: str) -> DataModel | None:
        return self._by_log_type.get(log_type)

    def resolver(
        self, fallback_log_types: tuple[str, ...]
    ) -> Callable[[Mapping[str, Any]], DataModel | None]:
        """A function giving an event's data model: by its ``p_log_type``, else by the rule's
        log types in order (native vendor events carry no ``p_log_type``)."""
        by_type = self._by_log_type

        def resolve(raw: Mapping[str, Any]) -> DataModel | None:
            log_type = raw.get("p_log_type")
            if isinstance(log_type, str) and log_type in by_type:
                return by_type[log_type]
            for fallback in fallback_log_types:
                model = by_type.get(fallback)
                if model is not None:
                    return model
            return None

        return resolve

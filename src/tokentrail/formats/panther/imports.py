"""Importing Panther Python files: rule modules once each, global helpers by name, and our
``panther_detection_helpers`` stand-in when the real package is not installed.

Global helpers are found through one finder placed at the *end* of ``sys.meta_path``: installed
packages win, and a helper directory never shadows the standard library.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from tokentrail.errors import RuleLoadError, summarize_exception

HELPERS_DIR_NAME = "global_helpers"
# Panther's packages and the submodules TokenTrail serves for them (from ``shims``).
_SHIMS: dict[str, tuple[str, ...]] = {
    "panther_detection_helpers": ("caching",),
    "panther_core": ("immutable", "enriched_event"),
}
_SHIM_ROOT = "tokentrail.formats.panther.shims"
_lock = threading.RLock()


class _HelperFinder(importlib.abc.MetaPathFinder):
    """Finds top-level modules in registered helper directories or registered global files."""

    def __init__(self) -> None:
        self.dirs: list[Path] = []
        self.files: dict[str, Path] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if "." in fullname:
            return None
        file = self.files.get(fullname)
        if file is not None:
            return importlib.util.spec_from_file_location(fullname, file)
        for directory in self.dirs:
            candidate = directory / f"{fullname}.py"
            if candidate.is_file():
                return importlib.util.spec_from_file_location(fullname, candidate)
            package = directory / fullname / "__init__.py"
            if package.is_file():
                return importlib.util.spec_from_file_location(
                    fullname, package, submodule_search_locations=[str(package.parent)]
                )
        return None


_FINDER = _HelperFinder()


def _install_finder() -> None:
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)


def add_helper_dir(directory: Path) -> None:
    """Make the modules in ``directory`` importable by Panther Python files."""
    directory = directory.resolve()
    with _lock:
        _install_finder()
        if directory not in _FINDER.dirs:
            _FINDER.dirs.append(directory)


def add_global_module(name: str, file: Path) -> None:
    """Make ``file`` importable as the top-level module ``name`` (a Panther ``global`` item)."""
    with _lock:
        _install_finder()
        _FINDER.files[name] = file.resolve()


def helper_source(name: str) -> str | None:
    """The source of the global helper module ``name`` (read, not imported), if registered."""
    with _lock:
        file = _FINDER.files.get(name)
        candidates = [file] if file is not None else [d / f"{name}.py" for d in _FINDER.dirs]
    for candidate in candidates:
        try:
            return candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return None


def find_helpers_root(start: Path) -> Path | None:
    """The nearest ``global_helpers/`` directory in ``start``'s folder or any parent folder."""
    for folder in (start.parent, *start.parent.parents):
        candidate = folder / HELPERS_DIR_NAME
        if candidate.is_dir():
            return candidate
    return None


def ensure_shims() -> None:
    """Serve ``panther_detection_helpers`` and ``panther_core`` from TokenTrail when the real
    packages are absent (an installed package always wins)."""
    with _lock:
        for package, submodules in _SHIMS.items():
            if package in sys.modules or importlib.util.find_spec(package) is not None:
                continue
            sys.modules[package] = importlib.import_module(f"{_SHIM_ROOT}.{package}")
            for sub in submodules:
                sys.modules[f"{package}.{sub}"] = importlib.import_module(f"{_SHIM_ROOT}.{package}.{sub}")


# Helper modules that failed to import: module name -> the one-line reason.
_failed_helpers: dict[str, str] = {}


class HelperImportError(ImportError):
    """A rule imports a helper module that failed to import (reported once, at load)."""


def import_helpers(directories: Sequence[Path]) -> list[RuleLoadError]:
    """Import every top-level module in ``directories``; one error per module that fails,
    naming its file and line."""
    errors: list[RuleLoadError] = []
    for directory in directories:
        for file in sorted(directory.glob("*.py")):
            name = file.stem
            if name in sys.modules or name in _failed_helpers:
                continue
            ensure_shims()
            try:
                importlib.import_module(name)
            except Exception as exc:
                line = next(
                    (
                        f.lineno
                        for f in reversed(traceback.extract_tb(exc.__traceback__))
                        if f.filename == str(file)
                    ),
                    None,
                )
                reason = summarize_exception(exc)
                _failed_helpers[name] = f"{file}: {reason}"
                errors.append(
                    RuleLoadError(
                        f"helper module {name} failed to import: {reason}", file=str(file), line=line
                    )
                )
    return errors


def _failed_helper_in(exc: BaseException) -> str | None:
    """The failed helper a rule's import error comes from, if any."""
    if isinstance(exc, ImportError) and exc.name in _failed_helpers:
        return exc.name
    for frame in traceback.extract_tb(exc.__traceback__):
        name = Path(frame.filename).stem
        if name in _failed_helpers and _failed_helpers[name].startswith(frame.filename + ":"):
            return name
    return None


def module_name_for(path: Path) -> str:
    """A unique, stable module name for a rule or data-model file."""
    resolved = str(path.resolve())
    digest = hashlib.sha1(resolved.encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", path.stem)
    return f"_tokentrail_panther_{stem}_{digest}"


def import_file(path: Path) -> ModuleType:
    """Import a Panther Python file once per process; later calls return the same module."""
    name = module_name_for(path)
    with _lock:
        module = sys.modules.get(name)
        if module is not None:
            return module
        ensure_shims()
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            del sys.modules[name]
            helper = _failed_helper_in(exc)
            if helper is not None:
                raise HelperImportError(
                    f"helper module {helper} failed to import (reported once, for its file)", name=helper
                ) from None
            raise
        return module

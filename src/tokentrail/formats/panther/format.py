"""The Panther front-end: claims Panther analysis YAML files and loads them."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

from tokentrail.errors import RuleLoadError
from tokentrail.formats.panther.analysis import (
    NOT_RUNNABLE,
    Item,
    correlation_rule,
    data_model,
    detection_rule,
    global_helper,
    not_runnable_item,
)
from tokentrail.formats.panther.datamodel import Registry
from tokentrail.formats.panther.imports import (
    HELPERS_DIR_NAME,
    add_helper_dir,
    find_helpers_root,
    import_helpers,
)
from tokentrail.formats.panther.yaml12 import load_document
from tokentrail.rules.loader import LoadContext, LoadResult
from tokentrail.rules.model import Rule

_CLAIM = re.compile(r"^AnalysisType\s*:", re.MULTILINE)
DATA_MODELS_DIR_NAME = "data_models"
# The folders `pat test` reads when run at a repository's root (shell patterns on the folder's
# path from the root, written "./rules/okta_rules"); it leaves every other folder unread.
_PAT_FOLDERS = (
    "*data_models*",
    "*lookup_tables*",
    "*/global_helpers",
    "*/packs",
    "*policies*",
    "*queries*",
    "*rules*",
    "*scheduled_prompts*",
)
OUTSIDE_PAT_FOLDERS = "outside the folders pat test reads in a Panther repository"
NOT_YAML = "pat test reads only YAML analysis files"


class PantherFormat:
    """``RuleFormat`` for Panther: ``.yml``/``.yaml`` files with an ``AnalysisType:`` key.

    One instance is one loading run: data models loaded by it are what its rules' ``udm()``
    sees. Global helpers (``global_helpers/`` found above each file, ``LoadContext.helper_dirs``,
    ``global`` items) become importable process-wide.
    """

    name = "panther"

    def __init__(self) -> None:
        self.registry = Registry()
        self._helper_roots: dict[Path, Path | None] = {}
        self._context_dirs_added = False
        self._model_dirs: set[Path] = set()
        self._loaded_models: dict[Path, Rule] = {}
        self._failed_models: set[Path] = set()
        self._helper_dirs: list[Path] = []
        self._allow_python = False

    def skips(self, path: Path, root: Path) -> str | None:
        """Why a file found under ``root`` is left unread: at a Panther repository's root (it
        holds ``global_helpers/``), the files ``pat test`` does not read there."""
        if not (root / HELPERS_DIR_NAME).is_dir():
            return None
        folder = path.parent.relative_to(root).as_posix()
        if folder == ".":
            return None if path.suffix in (".yml", ".yaml") else NOT_YAML
        if not any(fnmatch(f"./{folder}", pattern) for pattern in _PAT_FOLDERS):
            return OUTSIDE_PAT_FOLDERS
        return None

    def claims(self, path: Path, head: str) -> bool:
        return path.suffix in (".yml", ".yaml") and _CLAIM.search(head) is not None

    def load(self, path: Path, context: LoadContext) -> list[Rule] | LoadResult:
        """The rules (and helper items) in one Panther analysis file; with the first file of a
        repository, the errors of the data models found beside its ``global_helpers/``."""
        model_errors = self._add_helper_dirs(path, context)
        if path.resolve() in self._failed_models:
            return LoadResult((), tuple(model_errors))  # its error came with its data_models/
        rules = self._load_item(path, context)
        return LoadResult(tuple(rules), tuple(model_errors)) if model_errors else rules

    def finalize(self, rules: list[Rule]) -> tuple[list[Rule], list[RuleLoadError]]:
        """Import every module of the helper directories once: a helper that fails to import is
        one error naming its file (the rules importing it then say which helper failed)."""
        if not self._allow_python:
            return rules, []
        return rules, import_helpers(self._helper_dirs)

    def _load_item(self, path: Path, context: LoadContext) -> list[Rule]:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleLoadError(f"cannot read: {exc}", file=str(path)) from None
        doc = load_document(text, file=str(path))
        if not isinstance(doc.data, dict):
            raise RuleLoadError("a Panther analysis file must be a YAML mapping", file=str(path))
        item = Item(path, doc)
        kind = doc.data.get("AnalysisType")
        if kind in ("rule", "scheduled_rule", "policy"):
            return [detection_rule(item, kind, context, self.registry)]
        if kind == "correlation_rule":
            return [correlation_rule(item)]
        if kind == "datamodel":
            # Registered once, whether found beside global_helpers/ or among the paths given.
            key = path.resolve()
            if key not in self._loaded_models:
                self._loaded_models[key] = data_model(item, self.registry)
            return [self._loaded_models[key]]
        if kind == "global":
            return [global_helper(item)]
        if kind in NOT_RUNNABLE:
            return [not_runnable_item(item, kind)]
        raise item.error(f"unknown AnalysisType {kind!r}", "AnalysisType")

    def _add_helper_dirs(self, path: Path, context: LoadContext) -> list[RuleLoadError]:
        """Register helper directories for ``path`` and load data models not yet loaded from
        ``context`` and from the ``data_models/`` beside the repository's ``global_helpers/``."""
        self._allow_python = self._allow_python or context.allow_python
        model_dirs: list[Path] = []
        if not self._context_dirs_added:
            for directory in context.helper_dirs:
                self._add_helper(Path(directory))
            model_dirs.extend(Path(d) for d in context.data_model_dirs)
            self._context_dirs_added = True
        folder = path.parent
        if folder not in self._helper_roots:
            root = find_helpers_root(path)
            self._helper_roots[folder] = root
            if root is not None:
                self._add_helper(root)
                model_dirs.append(root.parent / DATA_MODELS_DIR_NAME)
        errors: list[RuleLoadError] = []
        for directory in model_dirs:
            errors.extend(self._load_models(directory.resolve(), context))
        return errors

    def _add_helper(self, directory: Path) -> None:
        add_helper_dir(directory)
        if directory.resolve() not in self._helper_dirs:
            self._helper_dirs.append(directory.resolve())

    def _load_models(self, directory: Path, context: LoadContext) -> list[RuleLoadError]:
        """Register every data model under ``directory`` (once per loading run)."""
        if directory in self._model_dirs or not directory.is_dir():
            return []
        self._model_dirs.add(directory)
        errors: list[RuleLoadError] = []
        for file in sorted(directory.rglob("*.y*ml")):
            if file.suffix not in (".yml", ".yaml") or file.resolve() in self._loaded_models:
                continue
            try:
                head = file.read_text(encoding="utf-8", errors="replace")[:4096]
                if self.claims(file, head):
                    self._load_item(file, context)
            except RuleLoadError as exc:
                errors.append(exc)
                self._failed_models.add(file.resolve())
        return errors

"""The Panther front-end: claims Panther analysis YAML files and loads them."""

from __future__ import annotations

import re
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
from tokentrail.formats.panther.imports import add_helper_dir, find_helpers_root
from tokentrail.formats.panther.yaml12 import load_document
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import Rule

_CLAIM = re.compile(r"^AnalysisType\s*:", re.MULTILINE)


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

    def claims(self, path: Path, head: str) -> bool:
        return path.suffix in (".yml", ".yaml") and _CLAIM.search(head) is not None

    def load(self, path: Path, context: LoadContext) -> list[Rule]:
        """The rules (and helper items) in one Panther analysis file."""
        self._add_helper_dirs(path, context)
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
            return [data_model(item, self.registry)]
        if kind == "global":
            return [global_helper(item)]
        if kind in NOT_RUNNABLE:
            return [not_runnable_item(item, kind)]
        raise item.error(f"unknown AnalysisType {kind!r}", "AnalysisType")

    def _add_helper_dirs(self, path: Path, context: LoadContext) -> None:
        if not self._context_dirs_added:
            for directory in context.helper_dirs:
                add_helper_dir(Path(directory))
            self._context_dirs_added = True
        folder = path.parent
        if folder not in self._helper_roots:
            root = find_helpers_root(path)
            self._helper_roots[folder] = root
            if root is not None:
                add_helper_dir(root)

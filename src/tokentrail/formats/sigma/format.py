"""The Sigma front-end: recognise Sigma files, load their documents, finish cross-file work."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import yaml

from tokentrail.errors import RuleLoadError, TokenTrailError
from tokentrail.formats.sigma import finalize as finishing
from tokentrail.formats.sigma.correlation import RefIndex
from tokentrail.formats.sigma.documents import read_documents
from tokentrail.formats.sigma.metadata import KIND_KEY, parse_tests
from tokentrail.formats.sigma.rules import document_kind, lower_correlation_doc, lower_filter, lower_rule
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import Rule, RuleTest

_SIGMA_KEY = re.compile(r"^(detection|correlation|filter)\s*:", re.MULTILINE)
_SIGMA_HEADER = re.compile(r"^logsource\s*:", re.MULTILINE)
_PANTHER_KEY = re.compile(r"^AnalysisType\s*:", re.MULTILINE)
SIDECAR_SUFFIXES = (".tests.yml", ".tests.yaml")


class SigmaFormat:
    """Sigma rules, correlations and filters (Sigma specification 2.x) via pySigma."""

    name = "sigma"

    def claims(self, path: Path, head: str) -> bool:
        """YAML files with a Sigma ``detection``/``correlation``/``filter`` section, not Panther's."""
        if path.suffix.lower() not in (".yml", ".yaml") or path.name.endswith(SIDECAR_SUFFIXES):
            return False
        if _PANTHER_KEY.search(head):
            return False
        return bool(_SIGMA_KEY.search(head) or _SIGMA_HEADER.search(head))

    def load(self, path: Path, context: LoadContext) -> list[Rule]:
        """Every rule, correlation and filter document in ``path``; raises on the first bad one."""
        file = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleLoadError(f"cannot read: {exc}", file=file) from None
        docs = read_documents(text, file)
        if not docs:
            raise RuleLoadError("no Sigma document in file", file=file)

        def fallback_id(n: int) -> str:
            return path.stem if len(docs) == 1 else f"{path.stem}#{n + 1}"

        slots: list[Rule | None] = []
        for n, doc in enumerate(docs):
            kind = document_kind(doc)
            if kind == "rule":
                slots.append(lower_rule(doc, file, context.placeholders, fallback_id(n)))
            elif kind == "filter":
                slots.append(lower_filter(doc, file, context.placeholders, fallback_id(n)))
            else:
                slots.append(None)
        index = RefIndex(r for r in slots if r is not None)
        rules = [
            slot if slot is not None else lower_correlation_doc(doc, file, index, fallback_id(n))
            for n, (doc, slot) in enumerate(zip(docs, slots, strict=True))
        ]
        return _with_sidecar_tests(path, rules)

    def finalize(self, rules: list[Rule]) -> tuple[list[Rule], list[TokenTrailError]]:
        """After all files loaded: apply filters (and drop them), check correlation references."""
        return finishing.finalize(rules)


def _with_sidecar_tests(path: Path, rules: list[Rule]) -> list[Rule]:
    """Add the tests of ``<stem>.tests.yml`` next to the rule file, if there is one.

    Each test goes to the rule its ``rule:`` key names (id, name or title), or to the file's only
    detection rule.
    """
    sidecar = next((p for p in (path.with_name(path.stem + s) for s in SIDECAR_SUFFIXES) if p.is_file()),
                   None)
    if sidecar is None:
        return rules
    file = str(sidecar)
    try:
        data = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleLoadError(f"cannot read tests: {exc}", file=file) from None
    entries = data.get("tests") if isinstance(data, dict) else data
    tests = parse_tests(entries, file=file, line=None)
    detection = [r for r in rules if r.metadata.get(KIND_KEY) == "rule"]
    extra: dict[str, list[RuleTest]] = {}
    for entry, test in zip(entries, tests, strict=True):
        target = _test_target(entry.get("rule"), detection, file, test.name)
        extra.setdefault(target.id, []).append(test)
    return [_add_tests(r, extra[r.id]) if r.id in extra else r for r in rules]


def _test_target(ref: object, rules: list[Rule], file: str, name: str) -> Rule:
    if ref is None:
        if len(rules) == 1:
            return rules[0]
        raise RuleLoadError(f"test {name!r} must name its rule ('rule:') in a file of several rules",
                            file=file)
    found = next((r for r in rules if str(ref) in (r.id, r.name, r.title)), None)
    if found is None:
        raise RuleLoadError(f"test {name!r} names rule {ref!r}, which is not in the rule file", file=file)
    return found


def _add_tests(rule: Rule, tests: list[RuleTest]) -> Rule:
    return replace(rule, tests=(*rule.tests, *tests))

"""The Sigma front-end: recognise Sigma files, load their documents, finish cross-file work."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path

import yaml

from tokentrail.errors import RuleLoadError, TokenTrailError
from tokentrail.formats.sigma import finalize as finishing
from tokentrail.formats.sigma.correlation import RefIndex
from tokentrail.formats.sigma.documents import Document, read_documents
from tokentrail.formats.sigma.metadata import KIND_KEY, parse_test
from tokentrail.formats.sigma.rules import document_kind, lower_correlation_doc, lower_filter, lower_rule
from tokentrail.rules.loader import LoadContext, LoadResult
from tokentrail.rules.model import Rule, RuleTest
from tokentrail.rules.yaml_bounds import safe_load_bounded

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

    def load(self, path: Path, context: LoadContext) -> list[Rule] | LoadResult:
        """Every rule, correlation and filter document in ``path``.

        A file of one document raises its error. In a file of several, each bad document is one
        error (with its line) in a ``LoadResult`` next to the rules of the good ones.
        """
        file = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RuleLoadError(f"cannot read: {exc}", file=file) from None
        items = read_documents(text, file)
        if not items:
            raise RuleLoadError("no Sigma document in file", file=file)
        rules, errors = _lower_all(items, path, context)
        rules, more = _with_sidecar_tests(path, rules)
        errors += more
        if not errors:
            return rules
        if len(items) == 1:
            raise errors[0]
        return LoadResult(tuple(rules), tuple(errors))

    def finalize(self, rules: list[Rule]) -> tuple[list[Rule], list[TokenTrailError]]:
        """After all files loaded: apply filters (and drop them), check correlation references."""
        return finishing.finalize(rules)


def _lower_all(items: list[Document | RuleLoadError], path: Path,
               context: LoadContext) -> tuple[list[Rule], list[TokenTrailError]]:
    """Lower each document, in file order; a document that fails becomes its error.

    Correlations are lowered last so they can resolve aliases against this file's rules.
    """
    file = str(path)
    done: dict[int, Rule | TokenTrailError] = {
        n: item for n, item in enumerate(items) if isinstance(item, RuleLoadError)
    }

    def fallback_id(n: int) -> str:
        return path.stem if len(items) == 1 else f"{path.stem}#{n + 1}"

    def attempt(n: int, doc: Document, lower: Callable[[], Rule]) -> None:
        try:
            done[n] = lower()
        except TokenTrailError as exc:
            exc.file = exc.file or file
            exc.line = exc.line or doc.line
            done[n] = exc
        except Exception as exc:  # a pySigma surprise on one document must not sink its neighbours
            done[n] = RuleLoadError(f"sigma loader failed: {type(exc).__name__}: {exc}",
                                    file=file, line=doc.line)

    docs = [(n, item) for n, item in enumerate(items) if isinstance(item, Document)]
    for n, doc in docs:
        kind = document_kind(doc)
        if kind != "correlation":
            lower = lower_rule if kind == "rule" else lower_filter
            attempt(n, doc, partial(lower, doc, file, context.placeholders, fallback_id(n)))
    index = RefIndex(r for r in done.values() if isinstance(r, Rule))
    for n, doc in docs:
        if document_kind(doc) == "correlation":
            attempt(n, doc, partial(lower_correlation_doc, doc, file, index, fallback_id(n)))
    ordered = [done[n] for n in sorted(done)]
    return ([r for r in ordered if isinstance(r, Rule)],
            [e for e in ordered if isinstance(e, TokenTrailError)])


def _with_sidecar_tests(path: Path, rules: list[Rule]) -> tuple[list[Rule], list[TokenTrailError]]:
    """Add the tests of ``<stem>.tests.yml`` next to the rule file, if there is one.

    Each test goes to the rule or correlation its ``rule:`` key names (id, name or title), or to
    the file's only detection rule. A test that cannot be placed is an error; the others still are.
    """
    sidecar = next((p for p in (path.with_name(path.stem + s) for s in SIDECAR_SUFFIXES) if p.is_file()),
                   None)
    if sidecar is None:
        return rules, []
    file = str(sidecar)
    try:
        data = safe_load_bounded(sidecar.read_text(encoding="utf-8"), file=file)
    except RuleLoadError as exc:
        return rules, [exc]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return rules, [RuleLoadError(f"cannot read tests: {exc}", file=file)]
    entries = data.get("tests") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        return rules, [RuleLoadError("'tests' must be a list of {name, expected, event}", file=file)]
    extra: dict[str, list[RuleTest]] = {}
    errors: list[TokenTrailError] = []
    for n, entry in enumerate(entries, start=1):
        try:
            target = _test_target(entry, n, rules, file)
            correlation = target.metadata.get(KIND_KEY) == "correlation"
            extra.setdefault(target.id, []).append(
                parse_test(entry, n, file=file, line=None, correlation=correlation))
        except RuleLoadError as exc:
            errors.append(exc)
    return [_add_tests(r, extra[r.id]) if r.id in extra else r for r in rules], errors


def _test_target(entry: object, n: int, rules: list[Rule], file: str) -> Rule:
    if not isinstance(entry, Mapping):
        raise RuleLoadError(f"test {n} must be a mapping", file=file)
    name = str(entry.get("name") or f"test {n}")
    ref = entry.get("rule")
    if ref is None:
        detection = [r for r in rules if r.metadata.get(KIND_KEY) == "rule"]
        if len(detection) == 1:
            return detection[0]
        raise RuleLoadError(f"test {name!r} must name its rule ('rule:') in a file of several rules",
                            file=file)
    testable = (r for r in rules if r.metadata.get(KIND_KEY) in ("rule", "correlation"))
    found = next((r for r in testable if str(ref) in (r.id, r.name, r.title)), None)
    if found is None:
        raise RuleLoadError(f"test {name!r} names rule {ref!r}, which is not among the rules loaded "
                            "from the rule file", file=file)
    return found


def _add_tests(rule: Rule, tests: list[RuleTest]) -> Rule:
    return replace(rule, tests=(*rule.tests, *tests))

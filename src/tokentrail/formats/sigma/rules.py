"""Lower the three kinds of Sigma documents (detection rule, correlation, filter) to ``Rule``s."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from sigma.correlations import SigmaCorrelationRule
from sigma.filters import SigmaFilter
from sigma.rule import SigmaLogSource, SigmaRule

from tokentrail.errors import RuleLoadError, TokenTrailError
from tokentrail.formats.sigma.conditions import Locate, lower_detections
from tokentrail.formats.sigma.correlation import RefIndex, check_shape, lower_correlation
from tokentrail.formats.sigma.documents import Document, key_line
from tokentrail.formats.sigma.metadata import parse_tests, rule_fields
from tokentrail.formats.sigma.parse import parse_document
from tokentrail.formats.sigma.values import Placeholders
from tokentrail.rules.model import LogSource, Rule, RuleTest

T = TypeVar("T")


def document_kind(doc: Document) -> str:
    """``correlation``, ``filter`` or ``rule``, as pySigma tells them apart."""
    if "correlation" in doc.data:
        return "correlation"
    if "filter" in doc.data and "detection" not in doc.data:
        return "filter"
    return "rule"


def lower_rule(doc: Document, file: str, placeholders: Placeholders, fallback_id: str) -> Rule:
    """A detection rule document as a ``Rule`` with IR logic and its embedded tests."""
    parsed = parse_document(SigmaRule, doc, file)
    expr = _located(lambda: lower_detections(parsed.detection, placeholders, _locator(doc, "detection")),
                    doc, file)
    return Rule(format="sigma", logic=expr, path=file, logsource=_logsource(parsed.logsource),
                tests=_tests(doc, file, correlation=False),
                **rule_fields(doc.data, fallback_id=fallback_id, kind="rule", line=doc.line))


def lower_filter(doc: Document, file: str, placeholders: Placeholders, fallback_id: str) -> Rule:
    """A filter document as a disabled ``Rule`` whose logic is the filter's condition.

    ``finalize`` ANDs that condition into the rules the filter names, then drops this Rule.
    """
    parsed = parse_document(SigmaFilter, doc, file)
    expr = _located(lambda: lower_detections(parsed.filter, placeholders, _locator(doc, "filter")),
                    doc, file)
    return Rule(format="sigma", logic=expr, path=file, logsource=_logsource(parsed.logsource),
                enabled=False,
                **rule_fields(doc.data, fallback_id=fallback_id, kind="filter", line=doc.line))


def lower_correlation_doc(doc: Document, file: str, index: RefIndex, fallback_id: str) -> Rule:
    """A correlation document as a ``Rule`` with ``Correlation`` logic (aliases resolved when known)
    and its tests (each a list of events, see ``parse_test``)."""
    raw = doc.data["correlation"]
    if not isinstance(raw, Mapping):
        raise RuleLoadError("'correlation' must be a mapping", file=file,
                            line=key_line(doc.node, lambda k: k == "correlation") or doc.line)
    _located(lambda: check_shape(raw), doc, file)
    parsed = parse_document(SigmaCorrelationRule, doc, file)
    logic = _located(lambda: lower_correlation(parsed, raw, index, strict=False), doc, file)
    return Rule(format="sigma", logic=logic, path=file, tests=_tests(doc, file, correlation=True),
                **rule_fields(doc.data, fallback_id=fallback_id, kind="correlation", line=doc.line))


def _tests(doc: Document, file: str, *, correlation: bool) -> tuple[RuleTest, ...]:
    if "tests" not in doc.data:
        return ()
    line = key_line(doc.node, lambda k: k == "tests")
    return parse_tests(doc.data["tests"], file=file, line=line, correlation=correlation)


def _logsource(source: SigmaLogSource) -> LogSource:
    return LogSource(product=source.product, service=source.service, category=source.category)


def _locator(doc: Document, section: str) -> Locate:
    """Lines of detection items by field (a keyword item, ``None``, gets the section's line)."""
    def locate(field: str | None) -> int | None:
        found = None
        if field is not None:
            found = key_line(doc.node, lambda k: k.split("|")[0] == field, path=(section,))
        return found or key_line(doc.node, lambda k: k == section) or doc.line
    return locate


def _located(make: Callable[[], T], doc: Document, file: str) -> T:
    """Run ``make``; a TokenTrail error from it gets this document's file and a line."""
    try:
        return make()
    except TokenTrailError as exc:
        exc.file = exc.file or file
        if exc.line is None:
            exc.line = key_line(doc.node, lambda k: k in ("detection", "filter", "correlation")) \
                or doc.line
        raise

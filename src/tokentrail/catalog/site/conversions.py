"""A rule's conversions for its page, when TokenTrail's converter is installed.

The converter is ``tokentrail.convert(rule, target, *, schema=None, rules=()) -> Conversion`` (or
the same function in the ``tokentrail.convert`` package); the targets are its ``TARGETS`` when it
lists them, less the data-lake SQL ones (``sql:*``), which are for batch engines, not SIEM users. Without a converter the rule pages have no conversions section. A conversion that fails is
shown as not convertible with the reason, and the other targets still convert.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tokentrail.rules.model import Rule

# The SIEM and vendor-search targets a rule page shows when the converter does not list its own.
DEFAULT_TARGETS = ("sigma", "splunk", "lucene", "esql", "eql", "kusto", "okta", "auth0")


@dataclass(frozen=True, slots=True)
class ConversionView:
    """One target's query for a rule, its status (exact, caveats, not_convertible) and caveats."""

    target: str
    status: str
    query: str
    caveats: tuple[str, ...] = ()


Converter = Callable[[Rule, str], Any]


def _takes(function: Callable, name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def find_converter() -> tuple[Converter, tuple[str, ...]] | None:
    """The installed converter and its targets, or None when there is none."""
    try:
        package = importlib.import_module("tokentrail.convert")
    except ImportError:
        return None
    root = importlib.import_module("tokentrail")
    function = next((f for f in (getattr(root, "convert", None), getattr(package, "convert", None))
                     if callable(f)), None)
    if function is None:
        return None
    targets = getattr(package, "TARGETS", None)
    if callable(targets):
        targets = targets()
    listed = tuple(str(t) for t in targets) if isinstance(targets, Sequence | dict) and targets else DEFAULT_TARGETS
    return function, tuple(t for t in listed if not t.startswith("sql:")) or DEFAULT_TARGETS


def rule_conversions(rule: Rule, converter: tuple[Converter, tuple[str, ...]] | None,
                     rules: Sequence[Rule] = ()) -> tuple[ConversionView, ...] | None:
    """The rule converted to every target (None without a converter); ``rules`` are those a
    correlation may name, for a converter that takes them."""
    if converter is None:
        return None
    function, targets = converter
    extra = {"rules": rules} if _takes(function, "rules") else {}
    views = []
    for target in targets:
        try:
            done = function(rule, target, **extra)
        except Exception as exc:  # one target's failure is shown on the page; the others go on
            views.append(ConversionView(target, "not_convertible", "", (f"conversion failed: {exc}",)))
            continue
        views.append(ConversionView(target, str(getattr(done, "status", "exact")), str(getattr(done, "query", "")),
                                    tuple(str(c) for c in getattr(done, "caveats", ()))))
    return tuple(views)

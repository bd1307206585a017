"""A loaded Panther Python rule: what the engine calls per event, and what a test run calls.

``rule(event)`` must return a bool (Panther rejects anything else). When it matches, the
optional functions shape the alert: ``title``, ``dedup``, ``severity``, ``alert_context``,
``description``, ``reference``, ``runbook``, ``destinations`` (and ``unique``, passed through).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tokentrail.errors import summarize_exception
from tokentrail.formats.panther.datamodel import Registry
from tokentrail.formats.panther.event import ImmutableList, PantherEvent, to_plain
from tokentrail.formats.panther.shims.panther_detection_helpers import caching
from tokentrail.rules.ir import Expr
from tokentrail.rules.model import RuleTest

AUX_FUNCTIONS = (
    "title",
    "dedup",
    "severity",
    "alert_context",
    "description",
    "reference",
    "runbook",
    "destinations",
    "unique",
)
SEVERITY_NAMES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL")
MAX_TEXT = 1000  # Panther truncates titles and dedup strings to this many characters
MAX_CONTEXT_BYTES = 200 * 1024


class RuleReturnTypeError(TypeError):
    """A rule function returned a value of the wrong type."""


@dataclass(frozen=True)
class RuleSpec:
    """What a detection needs to know about its rule besides the Python module."""

    rule_id: str
    python_file: Path
    display_name: str = ""
    severity: str = "medium"
    description: str = ""
    reference: str = ""
    runbook: str = ""
    output_ids: tuple[str, ...] = ()
    log_types: tuple[str, ...] = ()
    # Set when no log type maps to TokenTrail's: the rule then sees events of no known log type
    # whose ``p_log_type`` is one of ``log_types`` or absent.
    only_panther_log_types: bool = False
    inline_filter: Expr | None = None
    # rule, scheduled_rule or policy: a policy's function is ``policy(resource)``, it alerts
    # when it returns False, and it receives the resource as a plain dict (as pat passes it).
    analysis_type: str = "rule"


class PantherDetection:
    """The ``PythonDetection`` of one Panther rule (module imported once, by the loader)."""

    def __init__(self, spec: RuleSpec, module: ModuleType, registry: Registry | None = None) -> None:
        self.is_policy = spec.analysis_type == "policy"
        self.matcher = "policy" if self.is_policy else "rule"
        rule = getattr(module, self.matcher, None)
        if not callable(rule):
            raise RuleReturnTypeError(f"{spec.python_file.name} defines no {self.matcher}() function")
        self.spec = spec
        self.module = module
        self._rule: Callable[[Any], Any] = rule
        # The value of rule()/policy() that raises an alert.
        self.alert_value = not self.is_policy
        registry = registry or Registry()
        self._models = registry.resolver(spec.log_types)
        # As pat, scheduled rules' tests get no data model (their events are query rows). A test
        # event without p_log_type gets the rule's own log types' model, as in a scan of native
        # vendor logs (pat would give none; no test of Panther's repository tells the two apart).
        self._test_models = None if spec.analysis_type == "scheduled_rule" else self._models
        self._only = frozenset(spec.log_types) if spec.only_panther_log_types else None
        self._filter: Callable[[Mapping[str, Any]], bool] | None = None
        if spec.inline_filter is not None:
            # Compiled here, at run time: building the rule list must not need the compiler.
            from tokentrail.compile.python import compile_expr

            self._filter = compile_expr(spec.inline_filter)

    # -- engine API ---------------------------------------------------------------------------
    def bind_state(self, store: Any) -> None:
        """Use ``store`` (a ``StateStore``) behind the caching helpers from now on."""
        caching.configure_state(store)

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether the rule fires on the raw event; raises what the rule raises."""
        if self._only is not None:
            # An event another Panther log type claims is not ours; one that names none (a
            # native export of a log type TokenTrail has no schema for) is left to the rule.
            claimed = event.get("p_log_type")
            if claimed is not None and claimed not in self._only:
                return False
        if self._filter is not None and not self._filter(event):
            return False
        wrapped = PantherEvent(event, self._models)
        caching.current_event = wrapped
        result = self._rule(wrapped)
        if result is True or result is False:
            return result
        raise RuleReturnTypeError(f"rule() returned {type(result).__name__}, expected bool")

    def describe(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The alert extras for a matching event. A failing optional function does not lose the
        alert: its default is used and the failure is listed under ``errors``."""
        outputs, errors = self.alert_outputs(event)
        if errors:
            outputs["errors"] = errors
        return outputs

    # -- shared by describe and tests ---------------------------------------------------------
    def alert_outputs(
        self, event: Mapping[str, Any], module: ModuleType | None = None, *, test: bool = False
    ) -> tuple[dict[str, Any], list[str]]:
        """Run every optional function the rule defines; return the normalised outputs and
        one message per function that raised or returned the wrong type."""
        module = module or self.module
        wrapped = self.subject(event, test=test)
        spec = self.spec
        out: dict[str, Any] = {
            "title": spec.display_name or spec.rule_id,
            "dedup": None,
            "severity": spec.severity,
            "context": {},
            "description": spec.description,
            "reference": spec.reference,
            "runbook": spec.runbook,
            "destinations": list(spec.output_ids) or None,
        }
        errors: list[str] = []
        produced: set[str] = set()
        for name in AUX_FUNCTIONS:
            func = getattr(module, name, None)
            if not callable(func):
                continue
            try:
                value = _normalise(name, func(wrapped), spec.severity)
            except Exception as exc:  # a rule bug must not lose the alert
                errors.append(f"{name}(): {summarize_exception(exc)}")
                continue
            out["context" if name == "alert_context" else name] = value
            produced.add(name)
        if not out["dedup"]:
            # Panther's order: dedup(), else title(), else a per-rule constant.
            out["dedup"] = out["title"] if "title" in produced else f"defaultDedupString:{spec.rule_id}"
        return out, errors

    def subject(self, event: Mapping[str, Any], *, test: bool = False) -> Any:
        """What the rule's functions receive for ``event``: a ``PantherEvent`` (a policy: a
        plain copy of the resource); also the event the caching helpers age entries by."""
        if self.is_policy:
            caching.current_event = None
            return copy.deepcopy(dict(event))
        wrapped = PantherEvent(event, self._test_models if test else self._models)
        caching.current_event = wrapped
        return wrapped

    def evaluate(self, event: Mapping[str, Any]) -> bool:
        """What ``rule()`` (``policy()``) returns for a test event: no log-type routing (tests
        name no log type), data models as ``pat test`` picks them."""
        if self._filter is not None and not self._filter(event):
            return not self.alert_value
        result = getattr(self.module, self.matcher, self._rule)(self.subject(event, test=True))
        if result is True or result is False:
            return result
        raise RuleReturnTypeError(f"{self.matcher}() returned {type(result).__name__}, expected bool")

    def run_test(self, test: RuleTest) -> Any:
        """Run one of the rule's unit tests with ``pat test``'s verdict rules (a ``TestOutcome``)."""
        from tokentrail.formats.panther.testing import run_test

        return run_test(self, test)


def _normalise(name: str, value: Any, default_severity: str) -> Any:
    """Check a function's return type (as Panther does) and convert it for the alert."""
    if name == "severity":
        if not isinstance(value, str):
            raise RuleReturnTypeError(f"returned {type(value).__name__}, expected str")
        upper = value.upper()
        if upper == "DEFAULT":
            return default_severity
        if upper not in SEVERITY_NAMES:
            raise RuleReturnTypeError(
                f"returned {value!r}, expected one of {', '.join(SEVERITY_NAMES)} or DEFAULT"
            )
        return upper.lower()
    if name == "alert_context":
        if not isinstance(value, Mapping):
            raise RuleReturnTypeError(f"returned {type(value).__name__}, expected dict")
        plain = to_plain(value)
        try:
            size = len(json.dumps(plain))
        except (TypeError, ValueError) as exc:
            raise RuleReturnTypeError(f"returned a dict that is not JSON-serialisable: {exc}") from None
        if size > MAX_CONTEXT_BYTES:
            raise RuleReturnTypeError(f"returned {size} bytes of JSON, more than {MAX_CONTEXT_BYTES}")
        return plain
    if name == "destinations":
        if not isinstance(value, list | tuple | ImmutableList) or not all(isinstance(v, str) for v in value):
            raise RuleReturnTypeError(f"returned {type(value).__name__}, expected a list of str")
        return list(value)
    if not isinstance(value, str):
        raise RuleReturnTypeError(f"returned {type(value).__name__}, expected str")
    return value[:MAX_TEXT] if name in ("title", "dedup") else value

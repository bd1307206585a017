"""Panther rules: analysis YAML + Python, run with a Panther-compatible event API.

Public API:
  * ``PantherFormat`` — the ``RuleFormat`` (loads rule, scheduled_rule, correlation_rule,
    datamodel, global items; see ``analysis``);
  * ``PantherDetection`` — what ``PythonLogic.load()`` returns (``matches``, ``describe``,
    ``run_test``); ``PantherEvent`` — the event object rules receive;
  * ``run_panther_tests(rules, filter=...)`` / ``TestOutcome`` — ``pat test`` verdicts;
  * ``configure_state(store)`` — the ``StateStore`` behind ``panther_detection_helpers.caching``.
"""

from __future__ import annotations

from tokentrail.formats.panther.detection import PantherDetection, RuleReturnTypeError
from tokentrail.formats.panther.event import PantherEvent
from tokentrail.formats.panther.format import PantherFormat
from tokentrail.formats.panther.shims.panther_detection_helpers.caching import configure_state
from tokentrail.formats.panther.testing import TestOutcome, matches_filter, run_panther_tests

__all__ = [
    "PantherDetection",
    "PantherEvent",
    "PantherFormat",
    "RuleReturnTypeError",
    "TestOutcome",
    "configure_state",
    "matches_filter",
    "run_panther_tests",
]

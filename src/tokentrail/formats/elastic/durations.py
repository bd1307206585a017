"""Elastic's time spans: ``5m``, ``30s``, ``250ms``, date math ``now-9m``, ``{value, unit}``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_LOOKBACK = re.compile(r"^\s*now\s*-\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")


def span_seconds(text: str, *, default_unit: str = "s") -> float | None:
    """Seconds in a span such as ``5m`` (a bare number is in ``default_unit``); ``None`` if invalid."""
    match = _SPAN.match(text)
    if not match:
        return None
    return float(match.group(1)) * UNIT_SECONDS[match.group(2) or default_unit]


def lookback_seconds(text: str) -> float | None:
    """Seconds back from now in date math ``now-9m``; ``None`` when it is not of that form."""
    match = _LOOKBACK.match(text)
    if not match:
        return None
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]


def value_unit_seconds(obj: Any) -> float | None:
    """Seconds in a ``{"value": 5, "unit": "m"}`` object (alert suppression durations)."""
    if not isinstance(obj, Mapping):
        return None
    value, unit = obj.get("value"), obj.get("unit")
    if isinstance(value, bool) or not isinstance(value, int | float) or unit not in UNIT_SECONDS:
        return None
    return float(value) * UNIT_SECONDS[unit]

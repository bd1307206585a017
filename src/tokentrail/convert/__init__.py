"""Rules to other languages: Sigma, SIEM queries, data-lake SQL and vendor log searches.

    from tokentrail import convert, load_rules
    for rule in load_rules().rules:
        c = convert(rule, "splunk")      # Conversion(query, status, caveats, ...)
"""

from __future__ import annotations

import importlib
from typing import Any

from tokentrail.convert.fidelity import portability
from tokentrail.convert.model import Conversion
from tokentrail.convert.targets import SCHEMAS, TARGETS

__all__ = ["SCHEMAS", "TARGETS", "Conversion", "convert", "convert_all", "portability"]


def __getattr__(name: str) -> Any:
    # The converters load pySigma's SIEM backends: imported on first use, so that importing a
    # light part of this package (its model, its target names) does not pay for them.
    if name in ("convert", "convert_all"):
        value = getattr(importlib.import_module("tokentrail.convert.registry"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tokentrail.convert' has no attribute {name!r}")

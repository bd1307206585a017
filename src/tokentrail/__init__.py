"""TokenTrail: find application-access-token theft and abuse in SaaS identity logs.

    from tokentrail import load_rules, scan
    rules = load_rules()                 # the bundled pack
    result = scan(["okta.jsonl"], rules)
    for alert in result.alerts: ...
    query = convert(rules.rules[0], "splunk").query
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tokentrail.errors import TokenTrailError

if TYPE_CHECKING:
    from tokentrail.convert.model import Conversion
    from tokentrail.rules.model import Rule

# The subpackage first (light: its converters load on first use), so that the function below,
# not the subpackage, is what `tokentrail.convert` names.
importlib.import_module("tokentrail.convert")

__all__ = ["TokenTrailError", "convert", "load_rules", "scan"]
__version__ = "0.1.0"

# Imported on first use, not with the package: every worker process and every `tokentrail scan`
# imports `tokentrail`, and the SIEM converters (pySigma's backends) and Parquet (pyarrow) would
# add about 40 MB to each of them.
_LAZY = {"load_rules": "tokentrail.api", "scan": "tokentrail.api"}


def convert(rule: Rule, target: str, *, schema: str | None = None, rules: Sequence[Rule] = ()) -> Conversion:
    """``rule`` as a query of ``target``: ``tokentrail.convert.registry.convert``."""
    from tokentrail.convert.registry import convert as convert_rule

    return convert_rule(rule, target, schema=schema, rules=rules)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tokentrail' has no attribute {name!r}")

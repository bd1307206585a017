"""Rule front-ends, one per format. Each lowers its rules to ``tokentrail.rules`` models."""

from __future__ import annotations

from tokentrail.rules.loader import RuleFormat


def default_formats() -> list[RuleFormat]:
    """Every front-end that is installed, in the order they are asked to claim a file."""
    formats: list[RuleFormat] = []
    for module, cls in (("sigma", "SigmaFormat"), ("elastic", "ElasticFormat"),
                        ("panther", "PantherFormat")):
        try:
            mod = __import__(f"tokentrail.formats.{module}", fromlist=[cls])
        except ImportError:
            continue
        formats.append(getattr(mod, cls)())
    return formats

"""Rule front-ends, one per format. Each lowers its rules to ``tokentrail.rules`` models."""

from __future__ import annotations

from tokentrail.rules.loader import RuleFormat


def default_formats() -> list[RuleFormat]:
    """Every front-end, in the order they are asked to claim a file."""
    from tokentrail.formats.elastic import ElasticFormat
    from tokentrail.formats.panther import PantherFormat
    from tokentrail.formats.sigma import SigmaFormat

    return [SigmaFormat(), ElasticFormat(), PantherFormat()]

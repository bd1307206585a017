"""Sigma front-end: Sigma rules, correlations and filters lowered to TokenTrail rules."""

from tokentrail.formats.sigma.format import SigmaFormat

__all__ = ["SigmaFormat"]

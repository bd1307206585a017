"""Why a rule (or a part of it) has no query on a target."""

from __future__ import annotations

from tokentrail.errors import TokenTrailError


class Unconvertible(TokenTrailError):
    """The rule cannot be written for the target; the message says why, in one sentence."""

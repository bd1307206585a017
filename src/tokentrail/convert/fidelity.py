"""How portable a rule is: one number per rule from the statuses of its conversions.

Each conversion scores 1 when exact, ``max(0.5, 1 - 0.1 * caveats)`` with caveats (each thing
lost costs a tenth, but a query with caveats still beats none), 0 when not convertible. A rule's
portability is the mean score over the targets that apply to it, as a percentage rounded down:
a vendor's own log search applies only to rules for that vendor's logs, and a target this
installation lacks (the SQL targets before they are installed) is no loss of the rule's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from tokentrail.convert.model import Conversion

# Reasons that say the target is not there, not that the rule cannot be written for it.
NOT_APPLICABLE_PREFIXES = ("SQL targets not installed", "not applicable:")


def score(conversion: Conversion) -> float:
    """One conversion's score (see the module docstring)."""
    if conversion.status == "exact":
        return 1.0
    if conversion.status == "caveats":
        return max(0.5, 1.0 - 0.1 * len(conversion.caveats))
    return 0.0


def applies(conversion: Conversion) -> bool:
    """Whether the conversion counts towards its rule's portability."""
    return not (conversion.status == "not_convertible" and conversion.caveats
                and conversion.caveats[0].startswith(NOT_APPLICABLE_PREFIXES))


def portability(conversions: Iterable[Conversion]) -> int | None:
    """The rule's portability in percent (None when no target applies)."""
    scores = [score(c) for c in conversions if applies(c)]
    if not scores:
        return None
    return math.floor(100 * sum(scores) / len(scores) + 1e-9)

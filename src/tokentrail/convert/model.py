"""What a conversion of one rule to one target gives: the query, how faithful it is, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["exact", "caveats", "not_convertible"]


@dataclass(frozen=True)
class Conversion:
    """One rule converted to one target.

    ``status`` is ``exact`` when the query means what the rule means, ``caveats`` when it was
    converted with losses listed in ``caveats`` (one sentence each), ``not_convertible`` when there
    is no query (``query`` is empty and ``caveats`` says why).
    """

    rule_id: str
    target: str
    query: str
    status: Status
    caveats: tuple[str, ...] = ()
    path: str = ""

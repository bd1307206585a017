"""TokenTrail's stand-in for ``panther_core``: the event type rules annotate with, and the
read-only containers it hands out (``immutable``), re-exported from TokenTrail's own event API."""

from tokentrail.formats.panther.event import PantherEvent

__all__ = ["PantherEvent"]

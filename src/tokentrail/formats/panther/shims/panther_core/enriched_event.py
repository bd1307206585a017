"""``panther_core.enriched_event``: where ``PantherEvent`` lives in Panther's package."""

from tokentrail.formats.panther.event import PantherEvent

__all__ = ["PantherEvent"]

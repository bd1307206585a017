"""``panther_core.immutable``: the read-only mapping and list that rules receive."""

from tokentrail.formats.panther.event import ImmutableCaseInsensitiveDict, ImmutableList, json_encoder

__all__ = ["ImmutableCaseInsensitiveDict", "ImmutableList", "json_encoder"]

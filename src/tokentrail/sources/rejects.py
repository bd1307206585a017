"""The hand-off between a reader that finds a bad record and the place its bytes are kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class KeptRecord(Protocol):
    """Where the original bytes of one rejected record go, written piece by piece (so a record
    too big to hold is still kept whole), then closed."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


# Called once per bad record with the message and the line it starts on; counts and reports it,
# and returns where its bytes go (None: nowhere). In strict mode it raises instead.
Reject = Callable[[str, "int | None"], "KeptRecord | None"]


def keep_whole(kept: KeptRecord | None, data: bytes) -> None:
    """Write one record's bytes, all known at once, and close it."""
    if kept is not None:
        kept.write(data)
        kept.close()

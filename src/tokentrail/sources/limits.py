"""How much of any one record, document or compressed member a read may hold or expand to."""

from __future__ import annotations

from dataclasses import dataclass

from tokentrail.errors import ConfigError

MiB = 1 << 20


@dataclass(frozen=True)
class ReadLimits:
    """Sizes past which a record is refused (one error, the read goes on after it).

    ``max_line_bytes``: one JSON line, and one CSV row. ``max_cell_bytes``: one CSV cell.
    ``max_document_bytes``: one JSON value read whole from a document (a single event, an
    element of an array; arrays themselves are read element by element and have no limit).
    ``max_expanded_bytes``: what one compressed file or archive member may expand to. Memory is
    bounded by the other limits whatever a member expands to, so this one bounds the time a
    compression bomb can take; the default leaves room for a record over the line limit (one
    error) in a member of several GB, with the rest of the member still read.
    """

    max_line_bytes: int = 32 * MiB
    max_cell_bytes: int = 32 * MiB
    max_document_bytes: int = 256 * MiB
    max_expanded_bytes: int = 64 * 1024 * MiB

    def __post_init__(self) -> None:
        for name in ("max_line_bytes", "max_cell_bytes", "max_document_bytes", "max_expanded_bytes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"read limit {name} must be at least 1 byte")


DEFAULT_LIMITS = ReadLimits()

"""Pieces every vendor collector shares: checkpoint codec, ``--since`` parsing, page splitting."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from tokentrail.errors import ConfigError

DEFAULT_BATCH = 1000  # events per Batch: what the caller holds at once


def encode_checkpoint(source: str, state: dict[str, Any]) -> str:
    """The opaque checkpoint string: the state as JSON, tagged with the source that wrote it."""
    return orjson.dumps({"source": source, **state}, option=orjson.OPT_SORT_KEYS).decode()


def decode_checkpoint(source: str, checkpoint: str | None) -> dict[str, Any] | None:
    """The state in ``checkpoint`` (None for a first start); a checkpoint of another source or
    one that is not ours is a clear error, never a silent restart from zero."""
    if checkpoint is None:
        return None
    try:
        state = orjson.loads(checkpoint)
    except orjson.JSONDecodeError:
        raise ConfigError(f"checkpoint for {source} is not JSON; refusing to guess where to resume") from None
    if not isinstance(state, dict) or state.get("source") != source:
        found = state.get("source") if isinstance(state, dict) else None
        raise ConfigError(f"checkpoint belongs to {found or 'something else'}, not {source}")
    return state


def parse_since(since: datetime | str | None) -> datetime | None:
    """``--since`` as an aware UTC datetime (ISO 8601; a naive value is taken as UTC)."""
    if since is None or isinstance(since, datetime):
        moment = since
    else:
        try:
            moment = datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"--since {since!r} is not an ISO 8601 date or time") from None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC) if moment is not None else None


def iso_z(moment: datetime) -> str:
    """``2025-01-06T08:00:00.000Z``: the form the vendors' APIs take."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def chunks(items: Sequence[Any], size: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(offset, items)`` slices of at most ``size``; one empty slice for no items."""
    if not items:
        yield 0, ()
        return
    for at in range(0, len(items), size):
        yield at, tuple(items[at:at + size])


def check_positive(name: str, value: float, most: float | None = None) -> None:
    """A ConfigError unless ``0 < value <= most``."""
    if value <= 0 or (most is not None and value > most):
        bound = f" and at most {most}" if most is not None else ""
        raise ConfigError(f"{name} must be above 0{bound}, not {value}")

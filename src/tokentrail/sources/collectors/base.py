"""The contract between a vendor collector and whatever runs the rules on what it collects.

A collector yields one `Batch` per API page, in the API's order. The caller runs the rules on the
batch's events, makes their alerts durable in every sink, and only then stores the batch's
checkpoint; handing that checkpoint back to `batches()` after a restart resumes right after the
batch, so nothing is lost and, with deterministic alert ids, nothing is sent twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Batch:
    """One page of events and the checkpoint that resumes after it.

    ``checkpoint`` is opaque to the caller (a JSON string the collector understands: the Okta next
    URL, the Auth0 last ``log_id``, Salesforce's last ``LogDate``/``Id`` per event type). It never
    holds a secret. ``caught_up`` is true on the page that reached the present (an empty or short
    page): ``--once`` stops after it. ``rejected`` holds one line per record of the page that
    could not be read (too big, malformed): counted and reported, never silently dropped. A page
    bigger than the collector's batch size comes as several batches, each resumable. ``raw``,
    from a collector asked for it, holds the page's records instead of ``events``: each the
    compact JSON text of one object (validated), so the caller's engine may prove most of them
    away without parsing them (``StreamingEngine.take_line``) and parse the rest.
    """

    events: tuple[Mapping[str, Any], ...]
    checkpoint: str
    source: str
    caught_up: bool = False
    rejected: tuple[str, ...] = ()
    raw: tuple[bytes, ...] = ()


class Collector(Protocol):
    """Pulls one tenant's log, handling paging, auth and back-off itself."""

    name: str

    def batches(self, checkpoint: str | None, stop: threading.Event) -> Iterator[Batch]:
        """Yield batches from ``checkpoint`` (None: the configured ``--since``) until ``stop`` is set.

        After a caught-up page the collector waits its polling interval (waking early when ``stop``
        is set) and polls again; it returns when ``stop`` is set.
        """
        ...

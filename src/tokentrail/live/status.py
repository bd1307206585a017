"""The one-line status of a live run, and the scrubbing of secrets from what it prints."""

from __future__ import annotations

import time
from collections.abc import Sequence

from tokentrail.alerting.models import iso
from tokentrail.live.pipeline import SourceStatus


class Rate:
    """Events per second over the last interval between two readings."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.at = clock()
        self.count = 0
        self.rate = 0.0

    def update(self, count: int) -> float:
        now = self.clock()
        if now - self.at >= 0.5:
            self.rate = (count - self.count) / (now - self.at)
            self.at, self.count = now, count
        return self.rate


def status_line(sources: Sequence[SourceStatus], rate: float, now: float | None = None) -> str:
    """``events/s, lag behind now, last checkpoint, alerts`` over every source, e.g.
    ``1200 events/s · 12000 events · lag 3s · checkpoint 10:01:02Z · 4 alerts``."""
    now = time.time() if now is None else now
    events = sum(s.events for s in sources)
    alerts = sum(s.alerts for s in sources)
    newest = [s.newest_event for s in sources if s.newest_event is not None]
    commits = [s.last_commit for s in sources if s.last_commit is not None]
    lag = f"lag {_duration(now - min(newest))}" if newest else "lag -"
    checkpoint = f"checkpoint {(iso(max(commits)) or '')[11:19]}Z" if commits else "no checkpoint yet"
    caught = " · caught up" if sources and all(s.caught_up for s in sources) else ""
    return f"{rate:.0f} events/s · {events} events · {lag} · {checkpoint} · {alerts} alerts{caught}"


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def scrubber(secrets: Sequence[str]):
    """A function that replaces each of ``secrets`` in a text with ``***`` (the last guard before
    anything is printed; the collectors keep secrets out of their messages already)."""
    known = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for secret in known:
            text = text.replace(secret, "***")
        return text

    return scrub

"""Alerts leave once: the last step before an output, wherever the alerts came from."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tokentrail.alerting.models import Alert


class AlertGate:
    """Passes each alert id once to ``deliver`` and counts the repeats it stops.

    An alert id is (rule, group key, window start), so a repeat is the same alert raised again —
    a late match reopening a window that had closed at the same start, say. Only the ids are kept
    (under 100 bytes each), never the alerts.
    """

    def __init__(self, deliver: Callable[[Alert], None]) -> None:
        self.deliver = deliver
        self.ids: set[str] = set()
        self.delivered = 0
        self.repeats = 0

    def __call__(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            if alert.id in self.ids:
                self.repeats += 1
                continue
            self.ids.add(alert.id)
            self.delivered += 1
            self.deliver(alert)

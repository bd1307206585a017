"""The status line's parts and the last-resort scrubbing of secrets."""

from __future__ import annotations

from tokentrail.live.pipeline import SourceStatus
from tokentrail.live.status import Rate, scrubber, status_line

NOW = 1_800_000_000.0


def test_status_line_sums_sources_and_shows_the_worst_lag():
    a = SourceStatus("a", events=1000, alerts=2, newest_event=NOW - 30, last_commit=NOW - 1, caught_up=True)
    b = SourceStatus("b", events=500, alerts=1, newest_event=NOW - 5400, last_commit=NOW - 3, caught_up=False)
    line = status_line([a, b], 1234.4, now=NOW)
    assert line == "1234 events/s · 1500 events · lag 90m · checkpoint 07:59:59Z · 3 alerts"
    b.caught_up = True
    assert status_line([a, b], 0, now=NOW).endswith("· caught up")
    assert "no checkpoint yet" in status_line([SourceStatus("c")], 0, now=NOW)
    assert "lag -" in status_line([SourceStatus("c")], 0, now=NOW)


def test_rate_is_events_per_second_between_readings():
    clock = iter([0.0, 1.0, 1.2, 3.0]).__next__
    rate = Rate(clock)
    assert rate.update(500) == 500.0
    assert rate.update(900) == 500.0  # under half a second since the last reading: unchanged
    assert rate.update(1500) == 500.0


def test_scrubber_replaces_every_secret_longest_first():
    scrub = scrubber(["tok-123456", "tok-1234", "abc"])
    assert scrub("a tok-123456 and tok-1234, abc") == "a *** and ***, abc"  # too short to be one: kept

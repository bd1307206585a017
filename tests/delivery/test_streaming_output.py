"""Alerts leave when final: through a real pipe, each alert arrives within a second of the line
that completes it — a single-event alert at once, a grouped one when a later line closes its
event-time window — and the rest at the end of input."""

from __future__ import annotations

import queue
import subprocess
import threading
import time

import orjson
from support import TOKEN_RULE, okta_event, tokentrail

from tokentrail import load_rules, scan

THRESHOLD_RULE = """\
[metadata]
creation_date = "2025/01/20"
maturity = "production"

[rule]
author = ["TokenTrail tests"]
description = "Three sessions of one user within five minutes."
from = "now-5m"
index = ["logs-okta*"]
interval = "5m"
language = "kuery"
name = "Three Okta sessions of one user"
risk_score = 21
rule_id = "7d1e0c1a-0000-4000-8000-0000000000b2"
severity = "low"
type = "threshold"
query = 'eventType : "user.session.start"'

[rule.threshold]
field = ["actor.alternateId"]
value = 3
"""

LATENCY = 1.0  # seconds: the promise


def session(n: int, user: str, minute: int, second: int) -> bytes:
    event = okta_event(n, "user.session.start", user=user,
                       published=f"2024-05-01T10:{minute:02d}:{second:02d}.000Z")
    return orjson.dumps(event) + b"\n"


def rules_dir(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "token.yml").write_text(TOKEN_RULE)
    (tmp_path / "rules" / "sessions.toml").write_text(THRESHOLD_RULE)
    return tmp_path / "rules"


class Lines:
    """stdout of a process, line by line, with the moment each arrived."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue[tuple[float, bytes]] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.queue.put((time.monotonic(), line))
        self.queue.put((time.monotonic(), b""))

    def next(self, timeout: float) -> tuple[float, dict | None]:
        try:
            at, line = self.queue.get(timeout=timeout)
        except queue.Empty:
            return time.monotonic(), None
        return at, orjson.loads(line) if line else None


def send(proc: subprocess.Popen, data: bytes) -> float:
    proc.stdin.write(data)
    proc.stdin.flush()
    return time.monotonic()


def test_a_pipe_gets_each_alert_within_a_second_of_the_line_that_completes_it(tmp_path):
    proc = tokentrail("scan", "-", "-r", rules_dir(tmp_path), "--format", "jsonl", stdin=subprocess.PIPE)
    lines = Lines(proc.stdout)
    try:
        # A single-event rule: at once.
        sent = send(proc, orjson.dumps(okta_event(1, published="2024-05-01T10:00:00Z")) + b"\n")
        at, alert = lines.next(timeout=30)  # the first line also waits for the CLI to start
        assert alert is not None and alert["event_ids"] == ["okta-1"]
        # A threshold in a five-minute window: three matches, but the window is still open.
        for n, second in ((2, 10), (3, 20), (4, 30)):
            send(proc, session(n, "alice@example.com", 0, second))
        _, early = lines.next(timeout=1.5)
        assert early is None, "a grouped alert left before its window closed"
        # A line past the window's end closes it: the alert follows within a second.
        sent = send(proc, session(5, "bob@example.com", 6, 0))
        at, grouped = lines.next(timeout=10)
        assert grouped is not None and grouped["event_ids"] == ["okta-2", "okta-3", "okta-4"]
        assert at - sent < LATENCY, f"grouped alert took {at - sent:.3f}s"
        # A second single-event alert, timed now that the process is warm.
        sent = send(proc, orjson.dumps(okta_event(6, published="2024-05-01T10:06:05Z")) + b"\n")
        at, single = lines.next(timeout=10)
        assert single is not None and single["event_ids"] == ["okta-6"]
        assert at - sent < LATENCY, f"single-event alert took {at - sent:.3f}s"
        proc.stdin.close()
        _, end = lines.next(timeout=30)
        assert end is None  # bob's group never reached the threshold: nothing at the end
        assert proc.wait(timeout=30) == 0, proc.stderr.read().decode()
    finally:
        proc.kill()
        proc.wait()


def test_the_library_hands_alerts_over_as_they_become_final(tmp_path):
    logs = tmp_path / "okta.jsonl"
    logs.write_bytes(b"".join([session(1, "alice@example.com", 0, 1), session(2, "alice@example.com", 0, 2),
                               session(3, "alice@example.com", 0, 3), session(4, "bob@example.com", 9, 0),
                               session(5, "bob@example.com", 9, 1), session(6, "bob@example.com", 9, 2)]))
    seen_when: list[tuple[str, int]] = []
    delivered: list = []

    def on_match(match):
        seen_when.append(("match", match.line))

    def on_alert(alert):
        delivered.append(alert)
        seen_when.append(("alert", len(delivered)))

    result = scan([logs], load_rules([rules_dir(tmp_path)]), on_alert=on_alert, on_match=on_match)
    assert result.alerts == [] and result.alerts_delivered == 2
    # Alice's alert left as line 4 closed her window, before bob's last lines were read.
    assert seen_when.index(("alert", 1)) == seen_when.index(("match", 4)) + 1
    assert [a.event_ids for a in delivered] == [("okta-1", "okta-2", "okta-3"), ("okta-4", "okta-5", "okta-6")]

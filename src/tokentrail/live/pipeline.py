"""One source of a live run (a tenant's collector, a log-stream receiver): its batches through
the streaming engine, the new alerts to every sink, then the checkpoint, in one commit.

What a restart must find again is all in the ``--state`` store and committed together, after the
alerts are durable: the source's checkpoint, the ids of the alerts already delivered (a window
raised again is not sent again), the open windows and groups of the rules, and what the rules
keep there themselves (new_terms history, Panther caches).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from tokentrail import schemas
from tokentrail.alerting.models import Alert
from tokentrail.engine.stream import StreamingEngine
from tokentrail.errors import StateError
from tokentrail.live.recent_events import RecentEvents
from tokentrail.live.sinkset import SinkSet
from tokentrail.rules.model import Rule
from tokentrail.sinks.writers import dumps_line
from tokentrail.state import StateStore

# Event ids a run keeps as strings before they are packed (engine/dedup.py); past the newest
# one to two million ids the run forgets them (live/recent_events.py), so memory stays flat
# however long it runs.
LIVE_MEMORY_IDS = 25_000
CHECKPOINT_NS = "\x00live.checkpoint"
ALERTS_NS = "\x00live.alerts"
WINDOWS_NS = "\x00live.windows"


@dataclass
class SourceStatus:
    """What the status line and ``--format json`` report about one source."""

    source: str
    events: int = 0
    duplicates: int = 0
    rejected: int = 0  # records of the API's pages that could not be read (each reported)
    unknown: int = 0  # events of no known log type (no rule can read them)
    alerts: int = 0
    batches: int = 0
    newest_event: float | None = None  # epoch seconds of the newest event read
    last_commit: float | None = None  # wall clock of the last stored checkpoint
    caught_up: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "events": self.events, "duplicate_events": self.duplicates,
                "rejected_records": self.rejected, "unknown_events": self.unknown,
                "alerts": self.alerts, "batches": self.batches, "caught_up": self.caught_up}


class Pipeline:
    """The engine, alert gate and checkpoint of one source; see the module docstring.

    Only one thread may call ``run_batch``/``finish`` on the pipelines sharing a state store:
    each call commits the store.
    """

    def __init__(self, rules: Sequence[Rule], state: StateStore, sinks: SinkSet, source: str, *,
                 memory_ids: int = LIVE_MEMORY_IDS) -> None:
        if not state.held:
            raise StateError("a live run needs the state held", file=state.path)
        self.state = state
        self.sinks = sinks
        self.source = source
        self.engine = StreamingEngine(rules, state=state, seen=RecentEvents(memory_ids))
        self.delivered: set[str] = set()  # this run's alert ids (the state holds the earlier ones)
        self.status = SourceStatus(source)
        self._stored: set[str] = set()  # the rules whose open windows are in the state
        self._matches_stored: dict[str, int] = {}  # matches per rule when their windows were stored
        self._pending: list[Alert] = []  # alerts of the batches run since the last commit
        self._pending_checkpoint: str | None = None
        self._uncommitted = False
        self._restore_windows()

    @property
    def checkpoint(self) -> str | None:
        """The checkpoint stored after the last batch whose alerts were durable (None: none yet)."""
        return self.state.get(CHECKPOINT_NS, self.source)

    def run_batch(self, events: Iterable[Mapping[str, Any]], checkpoint: str | None,
                  stop: threading.Event, *, caught_up: bool = False, commit: bool = True,
                  raw: Sequence[bytes] = (), on_reject: Callable[[str], None] | None = None) -> list[Alert]:
        """Run the rules on ``events`` (or on ``raw``, the events' JSON texts: see ``_run_raw``);
        with ``commit``, deliver the new alerts, store ``checkpoint`` and commit (see
        ``commit``). Without it, the alerts and the checkpoint wait for the next ``commit``
        (nothing of the batch is durable before), and none are returned.

        Raises ``Stopped`` (nothing stored) when ``stop`` is set while a sink refuses the alerts.
        """
        process, source = self.engine.process, self.source
        alerts = self._pending
        first = self.engine.stats.events + self.engine.stats.duplicates + 1
        event = None
        for n, event in enumerate(events, first):
            found = process(event, source, n)
            if found:
                alerts.extend(found)
        if raw:
            event = self._run_raw(raw, first, on_reject or (lambda line: None))
        if event is not None:  # the lag the status line shows: the page's last event against now
            newest = _event_time(event)
            if newest is not None:
                self.status.newest_event = max(newest, self.status.newest_event or newest)
        if checkpoint is not None:
            self._pending_checkpoint = checkpoint
        self._uncommitted = True
        stats = self.engine.stats
        self.status.events, self.status.duplicates = stats.events, stats.duplicates
        self.status.unknown = stats.unknown_events
        self.status.batches += 1
        self.status.caught_up = caught_up
        return self.commit(stop) if commit else []

    def _run_raw(self, texts: Sequence[bytes], first: int, on_reject: Callable[[str], None]) -> Mapping[str, Any] | None:
        """The engine's fast path on each text (one that no rule can match is counted and
        deduplicated there, never parsed), the rules on the others; gives the last event, parsed."""
        engine, source, alerts = self.engine, self.source, self._pending
        take, process, loads = engine.take_line, engine.process, orjson.loads
        last, last_at = None, -1
        for n, text in enumerate(texts):
            if take(text):
                continue
            try:
                event = loads(text)
            except orjson.JSONDecodeError as exc:  # simdjson took a text orjson refuses
                self.status.rejected += 1
                on_reject(f"{source}: record {first + n}: not readable as JSON ({exc})")
                continue
            last, last_at = event, n
            found = process(event, source, first + n)
            if found:
                alerts.extend(found)
        if last_at == len(texts) - 1:
            return last
        try:
            return loads(texts[-1])
        except orjson.JSONDecodeError:
            return None

    @property
    def alerts_waiting(self) -> int:
        """How many alerts the batches run since the last commit raised (before the id check)."""
        return len(self._pending)

    def commit(self, stop: threading.Event) -> list[Alert]:
        """Deliver the new alerts of the batches run since the last commit, then store their last
        checkpoint, the delivered ids and the changed windows, and commit; return those alerts."""
        return self._commit(stop) if self._uncommitted else []

    def finish(self, stop: threading.Event) -> list[Alert]:
        """Close every open window (the end of a ``--once`` run, as at the end of a scan), deliver
        what that raised (with anything not committed yet) and commit."""
        self._pending.extend(self.engine.finish())
        return self._commit(stop, closing=True)

    def close(self) -> None:
        """Drop the run's event ids (and their temporary file)."""
        if self.engine.seen is not None:
            self.engine.seen.close()

    def _commit(self, stop: threading.Event, *, closing: bool = False) -> list[Alert]:
        fresh = self._new(self._pending)
        if fresh:
            self.sinks.deliver([self._record(a) for a in fresh], stop)
        state = self.state
        for alert in fresh:
            state.put(ALERTS_NS, f"{self.source}\x1f{alert.id}", 1)
        if self._pending_checkpoint is not None:
            state.put(CHECKPOINT_NS, self.source, self._pending_checkpoint)
        self._store_windows(everything=closing)
        self.sinks.store_marks(state)
        state.commit()
        self._pending, self._pending_checkpoint, self._uncommitted = [], None, False
        self.status.alerts += len(fresh)
        self.status.last_commit = time.time()
        return fresh

    def _new(self, alerts: list[Alert]) -> list[Alert]:
        """The alerts whose id was never delivered for this source, by this run or an earlier one,
        each once (two tenants may raise alerts of one id: same rule, group and window)."""
        fresh = []
        for alert in alerts:
            if alert.id in self.delivered or self.state.get(ALERTS_NS, f"{self.source}\x1f{alert.id}") is not None:
                continue
            self.delivered.add(alert.id)
            fresh.append(alert)
        return fresh

    def _record(self, alert: Alert) -> dict[str, Any]:
        record = alert.to_dict()
        record["source"] = self.source
        return record

    def _store_windows(self, everything: bool = False) -> None:
        """Put the open groups of each rule whose matches changed since the last commit (and of
        every correlation) in the state, one key per rule, so a commit costs what changed."""
        engine, state, prefix = self.engine, self.state, self.source + "\x1f"
        by_rule = engine.stats.by_rule
        changed = [(f"g:{rid}", a) for rid, a in engine.alerters.items()
                   if everything or by_rule.get(rid, 0) != self._matches_stored.get(rid, 0)]
        changed += [(f"c:{rid}", c) for rid, c in engine.correlators.items()]
        self._matches_stored = dict(by_rule)
        for name, alerter in changed:
            data = alerter.snapshot()
            if not any(data[k] for k in data if k != "newest"):
                if name in self._stored:
                    state.delete(WINDOWS_NS, prefix + name)
                    self._stored.discard(name)
                continue
            try:  # encoded once; a few thousand open groups make this the commit's biggest cost
                state.put(WINDOWS_NS, prefix + name, data)
            except TypeError:  # an event value in a group's fields that is not JSON: stored as text
                state.put(WINDOWS_NS, prefix + name, orjson.loads(dumps_line(data)))
            self._stored.add(name)

    def _restore_windows(self) -> None:
        prefix = self.source + "\x1f"
        for key, data in self.state.items(WINDOWS_NS):
            if not key.startswith(prefix):
                continue
            name = key[len(prefix):]
            kind, rid = name.split(":", 1)
            target = (self.engine.alerters if kind == "g" else self.engine.correlators).get(rid)
            if target is not None:  # a rule no longer loaded: its windows are dropped with it
                target.restore(data)
                self._stored.add(name)


def _event_time(event: Mapping[str, Any]) -> float | None:
    log_type = schemas.detect_log_type(event)
    return None if log_type is None else schemas.event_time(event, log_type)

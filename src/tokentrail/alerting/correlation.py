"""Correlations over signals in event-time order: Sigma event_count, value_count, temporal,
temporal_ordered, and EQL sequences.

A signal is a match of a step (a base rule's match, an inline EQL step's match, or an alert of a
referenced correlation) with the values of its group-by fields already read from the event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tokentrail.alerting.models import Alert, alert_id
from tokentrail.alerting.windows import WindowEnd, ended, note_window
from tokentrail.rules.model import Correlation, Rule

_CONDITIONS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}


@dataclass(frozen=True, slots=True)
class Signal:
    """A step's occurrence: which step, the group key, when, which events, and an optional value."""

    step: int
    key: tuple[str, ...]
    time: float
    event_ids: tuple[str, ...]
    value: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Window:
    start: float
    signals: list[Signal] = field(default_factory=list)


class CorrelationAlerter:
    """Evaluates one correlation rule. ``add`` returns alerts completed by a signal."""

    def __init__(self, rule: Rule) -> None:
        assert isinstance(rule.logic, Correlation)
        self.rule = rule
        self.corr: Correlation = rule.logic
        self.span = self.corr.timespan if self.corr.timespan is not None else float("inf")
        op, number = self.corr.condition or ("gte", 1)
        self.test = _CONDITIONS[op]
        self.number = number
        # gt/gte can fire the moment they hold; the others are judged when a window closes.
        self.eager = op in ("gt", "gte")
        self.windows: dict[tuple[str, ...], _Window] = {}
        # Judged-at-close windows by end time (end, start, key), and the newest signal time: a
        # window is judged once a signal at or past its end shows it closed (see GroupingAlerter).
        self.ends: list[WindowEnd] = []
        self.newest = float("-inf")
        self.sequences: dict[tuple[str, ...], list[_Partial | None]] = {}
        # A step repeated ``runs`` times is unrolled into that many consecutive slots.
        self.slots: list[list[int]] = []
        for step in self.corr.steps:
            start = sum(len(x) for x in self.slots)
            self.slots.append(list(range(start, start + max(1, step.runs))))
        self.n_slots = sum(len(x) for x in self.slots)

    # -- counting kinds -------------------------------------------------------------------
    def add(self, signal: Signal) -> list[Alert]:
        kind = self.corr.kind
        if kind in ("event_count", "value_count"):
            return self._count(signal)
        if kind == "temporal":
            return self._temporal(signal)
        return self._sequence(signal)

    def reset(self, key: tuple[str, ...]) -> None:
        """An ``until`` condition met: drop partial sequences of this group."""
        self.sequences.pop(key, None)

    def flush(self) -> list[Alert]:
        out: list[Alert] = []
        if self.corr.kind in ("event_count", "value_count") and not self.eager:
            for key, window in self.windows.items():
                out.extend(self._judge(key, window))
        self.windows.clear()
        self.ends.clear()
        self.sequences.clear()
        return out

    def snapshot(self) -> dict[str, Any]:
        """Open windows and partial sequences as plain JSON-ready data (see GroupingAlerter)."""
        return {
            "newest": None if self.newest == float("-inf") else self.newest,
            "ends": [[end, start, list(key)] for end, start, key in self.ends],
            "windows": [[list(key), w.start, [_signal_data(s) for s in w.signals]] for key, w in self.windows.items()],
            "sequences": [[list(key), [None if p is None else [p.start, [_signal_data(s) for s in p.signals]]
                                       for p in stages]] for key, stages in self.sequences.items()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Reopen what a ``snapshot`` held."""
        newest = data.get("newest")
        self.newest = float("-inf") if newest is None else float(newest)
        self.ends = [(end, start, tuple(key)) for end, start, key in data.get("ends", ())]
        self.windows = {tuple(key): _Window(start, [_signal_of(s) for s in signals])
                        for key, start, signals in data.get("windows", ())}
        self.sequences = {tuple(key): [None if p is None else _Partial(p[0], [_signal_of(s) for s in p[1]])
                                       for p in stages] for key, stages in data.get("sequences", ())}

    def _size(self, window: _Window) -> int:
        if self.corr.kind == "value_count":
            return len({s.value for s in window.signals if s.value is not None})
        return len(window.signals)

    def _count(self, signal: Signal) -> list[Alert]:
        out: list[Alert] = []
        window = self.windows.get(signal.key)
        if self.eager:
            # Sliding window: keep only signals within the span before this one.
            if window is None:
                window = self.windows[signal.key] = _Window(signal.time, [])
            window.signals.append(signal)
            cutoff = signal.time - self.span
            while window.signals and window.signals[0].time < cutoff:
                window.signals.pop(0)
            window.start = window.signals[0].time
            if self.test(self._size(window), self.number):
                out.append(self._alert(signal.key, window.start, window.signals))
                del self.windows[signal.key]
            return out
        if signal.time > self.newest:
            self.newest = signal.time
            out.extend(self._judge_ended(signal.time))
            window = self.windows.get(signal.key)
        if window is not None and signal.time >= window.start + self.span:
            del self.windows[signal.key]
            out.extend(self._judge(signal.key, window))
            window = None
        if window is None:
            window = self.windows[signal.key] = _Window(signal.time)
            if self.span != float("inf"):
                note_window(self.ends, signal.time, self.span, signal.key)
        window.signals.append(signal)
        return out

    def _judge_ended(self, now: float) -> list[Alert]:
        out: list[Alert] = []
        for start, key in ended(self.ends, now):
            window = self.windows.get(key)
            if window is not None and window.start == start:
                del self.windows[key]
                out.extend(self._judge(key, window))
        return out

    def _judge(self, key: tuple[str, ...], window: _Window) -> list[Alert]:
        if self.test(self._size(window), self.number):
            return [self._alert(key, window.start, window.signals)]
        return []

    def _temporal(self, signal: Signal) -> list[Alert]:
        window = self.windows.setdefault(signal.key, _Window(signal.time))
        window.signals.append(signal)
        cutoff = signal.time - self.span
        window.signals = [s for s in window.signals if s.time >= cutoff]
        # Each step needs ``runs`` signals (Panther's MinMatchCount); the newest ones are kept.
        by_step: dict[int, list[Signal]] = {}
        for s in window.signals:
            by_step.setdefault(s.step, []).append(s)
        needs = [max(1, step.runs) for step in self.corr.steps]
        if all(len(by_step.get(i, ())) >= n for i, n in enumerate(needs)):
            chosen = sorted((s for i, n in enumerate(needs) for s in by_step[i][-n:]), key=lambda s: s.time)
            del self.windows[signal.key]
            return [self._alert(signal.key, chosen[0].time, chosen)]
        return []

    # -- ordered kinds ----------------------------------------------------------------------
    def _sequence(self, signal: Signal) -> list[Alert]:
        """Steps in order: ``stages[i]`` is the newest partial that has filled the slots < i.

        Later slots are tried first, so one event never fills two slots of one partial.
        """
        stages = self.sequences.setdefault(signal.key, [None] * self.n_slots)
        for slot in reversed(self.slots[signal.step]):
            if slot == 0:
                partial = _Partial(signal.time, [signal])
            else:
                prev = stages[slot]
                if prev is None or signal.time - prev.start > self.span:
                    continue
                stages[slot] = None
                partial = _Partial(prev.start, [*prev.signals, signal])
            if slot + 1 == self.n_slots:
                self.sequences.pop(signal.key, None)
                return [self._alert(signal.key, partial.start, partial.signals)]
            stages[slot + 1] = partial
            return []
        return []

    def _alert(self, key: tuple[str, ...], start: float, signals: list[Signal]) -> Alert:
        event_ids = tuple(dict.fromkeys(e for s in signals for e in s.event_ids))
        times = [s.time for s in signals]
        fields: dict[str, Any] = {}
        for s in signals:
            fields.update(s.fields)
        return Alert(
            id=alert_id(self.rule.id, key, start),
            rule_id=self.rule.id,
            title=self.rule.title,
            severity=self.rule.severity,
            group_key=key,
            window_start=start,
            count=len(signals),
            event_ids=event_ids,
            first_time=min(times),
            last_time=max(times),
            fields=fields,
            techniques=self.rule.techniques,
        )


@dataclass
class _Partial:
    start: float
    signals: list[Signal]



def _signal_data(s: Signal) -> list[Any]:
    return [s.step, list(s.key), s.time, list(s.event_ids), s.value, s.fields]


def _signal_of(data: list[Any]) -> Signal:
    step, key, time, event_ids, value, fields = data
    return Signal(step, tuple(key), time, tuple(event_ids), value, dict(fields))

"""Turn one rule's matches into alerts: group-by keys, event-time windows, thresholds."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from typing import Any

from tokentrail.alerting.aggregates import QueryProgram, QueryState
from tokentrail.alerting.models import Alert, Match, alert_id
from tokentrail.alerting.windows import WindowEnd, ended, note_window
from tokentrail.rules.aggregates import READ_PREFIX
from tokentrail.rules.model import Rule


class _Group:
    """An open group: what its first match read (title, severity and output fields) and, of the
    rest, only what an alert reports — so memory grows with event ids, not with whole events."""

    __slots__ = ("distinct", "end", "event_ids", "first", "first_time", "last_time", "parts", "query", "start")

    def __init__(self, start: float, end: float, first: Mapping[str, Any] | None,
                 parts: tuple[Any, ...] | None = None, query: QueryState | None = None, counts: bool = True) -> None:
        self.start = start
        self.end = end  # start + window (inf without one): a match at or past it opens the next group
        # The first match's extras, or None while they are only ``parts`` for ``_extras``: built
        # when an alert or a snapshot reads them, as most groups close without alerting.
        self.first = first
        self.parts = parts
        self.event_ids: list[str] = []
        self.distinct: set[str] = set() if counts else _NOTHING_COUNTED
        self.first_time: float | None = None
        self.last_time: float | None = None
        self.query = query  # the aggregates of a rule with an AggregateQuery

    def extras(self) -> Mapping[str, Any]:
        """The first match's extras."""
        if self.first is None:
            self.first = _extras(*self.parts)  # type: ignore[misc]
        return self.first

    def add(self, t: float | None, event_id: str, distinct: str | None, fields: Mapping[str, Any]) -> None:
        """Take one match: its time, event id, distinct value (None: the rule counts none) and
        the fields a query's aggregates read."""
        self.event_ids.append(event_id)
        if distinct is not None:
            self.distinct.add(distinct)
        query = self.query
        if query is not None:
            query.program.fold(query, t, fields)  # QueryState.add, one call fewer a match
        if t is not None:
            if self.first_time is None or t < self.first_time:
                self.first_time = t
            if self.last_time is None or t > self.last_time:
                self.last_time = t


# The distinct values of a group whose rule counts none: shared, never added to.
_NOTHING_COUNTED: set[str] = frozenset()  # type: ignore[assignment]
_INF = float("inf")


_NO_FIELDS: Mapping[str, Any] = {}


def _extras(key: tuple[str, ...], distinct: str | None, fields: Any,
            decode: Callable[[Any], Mapping[str, Any]] | None) -> dict[str, Any]:
    """The extras ``add_values`` would keep from a group's first match, built from its parts."""
    extras: dict[str, Any] = {"group_key": key}
    if distinct is not None:
        extras["distinct"] = distinct
    if fields is not None:
        extras["fields"] = fields if decode is None else decode(fields)
    return extras


class GroupingAlerter:
    """Collects the matches of one rule into alerts according to ``rule.grouping``.

    Each match carries in ``extras`` its ``group_key`` (tuple of strings), and optionally
    ``distinct`` (value of the distinct field), ``title``, ``severity`` and ``fields``. A group
    opens at its first match and spans ``window`` seconds of event time; it becomes an alert when
    it closes holding ``threshold`` matches (and ``distinct_threshold`` distinct values of the
    distinct field, if the rule names one). Without a window or threshold every match is its own
    alert, raised at once.

    A windowed group is final once its window has closed in event time: when a match of this rule
    at or past the window's end arrives, every group whose window ended by then is closed and
    returned, so an alert leaves as soon as nothing can change it. With ``aligned`` the windows
    are the ``window``-long periods since the epoch a match falls in (ES|QL ``DATE_TRUNC``). With
    a ``query`` (ES|QL ``STATS``) the group alerts when the query's condition over its aggregates
    holds at the close, in place of the thresholds; the alert shows the BY keys and the named
    aggregates. Event time is taken as
    non-decreasing per rule; a match older than the rule's newest one (a second, earlier file)
    joins the open group of its key, or opens one that the next newer match closes.
    """

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        g = rule.grouping
        self.window = g.window
        self.threshold = max(1, g.threshold)
        self.distinct = g.distinct_field is not None
        self.distinct_threshold = max(1, g.distinct_threshold) if self.distinct else 0
        self.aligned = g.aligned and self.window is not None
        self.program = QueryProgram(g.query) if g.query is not None else None
        self.immediate = self.window is None and self.threshold == 1 and not self.distinct and not g.group_by \
            and self.program is None
        self.groups: dict[tuple[str, ...], _Group] = {}
        # Windows by end time (end, start, key); an entry whose group has gone is skipped.
        self.ends: list[WindowEnd] = []
        self.newest = float("-inf")  # the newest match time of this rule so far

    def add(self, match: Match) -> list[Alert]:
        """Take one match; return alerts that this match closed (or raised at once)."""
        return self.add_values(match.time, match.event_id, match.extras)

    def add_values(self, time: float | None, event_id: str, extras: Mapping[str, Any]) -> list[Alert]:
        """``add`` for a match given by its parts (the engine need not build a Match)."""
        fields = extras.get("fields") or _NO_FIELDS
        if self.immediate:
            group = _Group(time or 0.0, _INF, extras, counts=False)
            group.add(time, event_id, None, fields)
            return [self._alert((event_id,), time, group)]
        key = tuple(extras.get("group_key", ()))
        if self.program is not None and self.program.keys:
            key += self.program.key_of(fields)
        out: list[Alert] = []
        group = self._group_for(key, time, out)
        if group.first is None and group.parts is None:
            group.first = extras
        group.add(time, event_id, str(extras.get("distinct")) if self.distinct else None, fields)
        return out

    def add_many(self, times: Sequence[float | None], event_ids: Sequence[str], keys: Sequence[tuple[str, ...]],
                 distinct: Sequence[str] | None = None, fields: Sequence[Any] | None = None,
                 decode: Callable[[Any], Mapping[str, Any]] | None = None) -> list[Alert]:
        """``add_values`` for a run of matches given as parallel columns, in their order: the
        same alerts in the same order as one call per match with extras ``{"group_key": keys[i],
        "distinct": distinct[i], "fields": fields[i]}`` (``distinct`` given when the rule counts
        distinct values; no ``"fields"`` where ``fields[i]`` is None). With ``decode``,
        ``fields[i]`` is what it turns into the fields, called only where they are kept (a
        group's first match, once an alert or a snapshot reads it) or read (a query's
        aggregates); equal fields decode alike, so a call decodes each text once."""
        if fields is None:
            fields = [None] * len(times)
        if self.immediate:
            out: list[Alert] = []
            for time, event_id, key, held in zip(times, event_ids, keys, fields, strict=True):
                group = _Group(time or 0.0, _INF, _extras(key, None, held, decode), counts=False)
                group.add(time, event_id, None, _NO_FIELDS)
                out.append(self._alert((event_id,), time, group))
            return out
        if self.distinct and distinct is None:
            raise ValueError(f"rule {self.rule.id} counts distinct values: add_many needs them")
        # The loops below zip without ``strict`` (``distinct`` may be absent): check the lengths once.
        columns = (event_ids, keys, fields) if distinct is None else (event_ids, keys, fields, distinct)
        if any(len(column) != len(times) for column in columns):
            raise ValueError(f"rule {self.rule.id}: add_many's columns differ in length")
        if self.window is not None:
            if self.program is None:
                return self._add_counted(times, event_ids, keys, distinct, fields, decode)
            if decode is not None:
                return self._add_queried(times, event_ids, keys, distinct, fields, decode)
        return self._add_each(times, event_ids, keys, distinct, fields, decode)

    def _add_each(self, times: Sequence[float | None], event_ids: Sequence[str], keys: Sequence[tuple[str, ...]],
                  distinct: Sequence[str] | None, fields: Sequence[Any],
                  decode: Callable[[Any], Mapping[str, Any]] | None) -> list[Alert]:
        """``add_many`` match by match, through the steps ``add_values`` takes: for a rule
        without a window, or a query's fields given decoded."""
        counted = distinct if self.distinct else None
        out: list[Alert] = []
        program = self.program
        computed = program is not None and bool(program.keys)
        for i, time in enumerate(times):
            held = fields[i]
            read: Mapping[str, Any] = _NO_FIELDS
            if program is not None and held is not None:
                read = held if decode is None else decode(held)
                held = read
            key = keys[i]
            if computed:
                key = key + program.key_of(read)  # type: ignore[union-attr]
            group = self._group_for(key, time, out)
            if group.parts is None and group.first is None:
                group.parts = (keys[i], None if distinct is None else distinct[i], held, None if read is held else decode)
            group.add(time, event_ids[i], None if counted is None else str(counted[i]), read)
        return out

    # The two loops below are ``_add_each`` for a windowed rule without and with a query, the
    # steps of ``_group_for`` and ``_Group.add`` written out: a call each per match cost as much
    # as the match's own work. Windows close (``_pass``) and groups open (``_open``) by call.

    def _add_counted(self, times: Sequence[float | None], event_ids: Sequence[str], keys: Sequence[tuple[str, ...]],
                     distinct: Sequence[str] | None, fields: Sequence[Any],
                     decode: Callable[[Any], Mapping[str, Any]] | None) -> list[Alert]:
        """``add_many`` of a windowed rule without a query: counts and distinct values."""
        out: list[Alert] = []
        get = self.groups.get
        counts = self.distinct
        given = repeat(None) if distinct is None else distinct
        newest = self.newest
        next_end = self.ends[0][0] if self.ends else _INF  # the heap's first end, kept in step with it
        try:
            for t, event_id, key, held, value in zip(times, event_ids, keys, fields, given, strict=False):
                at = 0.0 if t is None else t
                if at > newest:
                    newest = at
                    if next_end <= at:
                        next_end = self._pass(at, out)
                group = get(key)
                if group is None or at >= group.end:
                    group = self._open(key, group, at, (key, value, held, decode), None, out)
                    if group.end < next_end:
                        next_end = group.end
                group.event_ids.append(event_id)
                if counts:
                    group.distinct.add(value if value.__class__ is str else str(value))
                if t is not None:
                    if group.first_time is None or t < group.first_time:
                        group.first_time = t
                    if group.last_time is None or t > group.last_time:
                        group.last_time = t
        finally:
            self.newest = newest
        return out

    def _add_queried(self, times: Sequence[float | None], event_ids: Sequence[str], keys: Sequence[tuple[str, ...]],
                     distinct: Sequence[str] | None, fields: Sequence[Any],
                     decode: Callable[[Any], Mapping[str, Any]]) -> list[Alert]:
        """``add_many`` of a windowed rule with a query, whose fields are given to decode. A
        query reads every match's fields, and most texts of a run are equal (an actor's matches
        repeat its address and agent): each is decoded, and what the fold takes from it
        prepared (and its computed keys made), once a call."""
        out: list[Alert] = []
        get = self.groups.get
        program = self.program
        assert program is not None
        apply, prepare = program.apply, program.prepare
        key_of = program.key_of if program.keys else None
        given = repeat(None) if distinct is None else distinct
        # held text -> (its fields, their fold's preparation, their computed keys)
        seen: dict[Any, tuple[Mapping[str, Any], tuple[Any, ...], tuple[str, ...]]] = {}
        newest = self.newest
        next_end = self.ends[0][0] if self.ends else _INF  # the heap's first end, kept in step with it
        try:
            for t, event_id, given_key, held, value in zip(times, event_ids, keys, fields, given, strict=False):
                at = 0.0 if t is None else t
                if at > newest:
                    newest = at
                    if next_end <= at:
                        next_end = self._pass(at, out)
                try:
                    known = seen.get(held)
                except TypeError:  # fields that are not a text (a mapping to decode): read alone
                    read = decode(held)
                    known = (read, prepare(read), () if key_of is None else key_of(read))
                if known is None:
                    read = _NO_FIELDS if held is None else decode(held)
                    known = seen[held] = (read, prepare(read), () if key_of is None else key_of(read))
                read, prepared, computed = known
                key = given_key + computed if computed else given_key
                group = get(key)
                if group is None or at >= group.end:
                    group = self._open(key, group, at, (given_key, value, read, None) if held is not None else
                                       (given_key, value, None, decode), program.new_state(), out)
                    if group.end < next_end:
                        next_end = group.end
                group.event_ids.append(event_id)
                apply(group.query, t, prepared)
                if t is not None:
                    if group.first_time is None or t < group.first_time:
                        group.first_time = t
                    if group.last_time is None or t > group.last_time:
                        group.last_time = t
        finally:
            self.newest = newest
        return out

    def _pass(self, now: float, out: list[Alert]) -> float:
        """Close every group whose window ended at or before ``now`` (their alerts appended to
        ``out``); the first window end left."""
        get = self.groups.get
        for start, key in ended(self.ends, now):
            group = get(key)
            if group is not None and group.start == start and (alert := self._close(key, group)):
                out.append(alert)
        return self.ends[0][0] if self.ends else _INF

    def _open(self, key: tuple[str, ...], group: _Group | None, at: float, parts: tuple[Any, ...],
              query: QueryState | None, out: list[Alert]) -> _Group:
        """A new group of ``key`` from a match at ``at`` (its first match's ``parts``), after
        closing ``group``, the key's group the match is past, if one is open."""
        if group is not None and (alert := self._close(key, group)):
            out.append(alert)
        window = self.window
        assert window is not None
        start = math.floor(at / window) * window if self.aligned else at
        group = self.groups[key] = _Group(start, start + window, None, parts, query, self.distinct)
        note_window(self.ends, start, window, key)
        return group

    def _group_for(self, key: tuple[str, ...], time: float | None, out: list[Alert]) -> _Group:
        """The group a match at ``time`` of ``key`` joins: first every window that ended by then
        is closed (their alerts appended to ``out``), and a group whose window the match is past;
        a new group (no first match yet: its caller sets ``first`` or ``parts``) when none is open."""
        t = time if time is not None else 0.0
        window = self.window
        if window is not None and t > self.newest:
            self.newest = t
            if self.ends and self.ends[0][0] <= t:
                self._pass(t, out)
        group = self.groups.get(key)
        if window is not None and (group is None or t >= group.end):
            return self._open(key, group, t, None, None if self.program is None else self.program.new_state(), out)
        if group is None:  # no window: the key's one group
            group = self.groups[key] = _Group(t, _INF, None, None,
                                              None if self.program is None else self.program.new_state(),
                                              self.distinct)
        return group

    def flush(self) -> list[Alert]:
        """Close every open group (end of input)."""
        out = [a for key, group in self.groups.items() if (a := self._close(key, group, remove=False))]
        self.groups.clear()
        self.ends.clear()
        return out

    def snapshot(self) -> dict[str, Any]:
        """The open groups as plain JSON-ready data, for a live run to store with its checkpoint."""
        return {
            "newest": None if self.newest == float("-inf") else self.newest,
            "ends": [[end, start, list(key)] for end, start, key in self.ends],
            "groups": [[list(key), g.start, dict(g.extras()), g.event_ids, sorted(g.distinct), g.first_time,
                        g.last_time, None if g.query is None else g.query.data()] for key, g in self.groups.items()],
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Reopen the groups a ``snapshot`` held (a live run restarting from its checkpoint)."""
        newest = data.get("newest")
        self.newest = float("-inf") if newest is None else float(newest)
        self.ends = [(end, start, tuple(key)) for end, start, key in data.get("ends", ())]
        self.groups = {}
        for key, start, first, event_ids, distinct, first_time, last_time, *rest in data.get("groups", ()):
            group = self.groups[tuple(key)] = _Group(start, _INF if self.window is None else start + self.window,
                                                     first, counts=self.distinct)
            group.event_ids, group.first_time, group.last_time = list(event_ids), first_time, last_time
            if self.distinct:
                group.distinct = set(distinct)
            if self.program is not None:
                group.query = self.program.new_state()
                if rest and rest[0] is not None:
                    group.query.restore(rest[0])

    def _close(self, key: tuple[str, ...], group: _Group, *, remove: bool = True) -> Alert | None:
        if remove:
            del self.groups[key]
        if group.query is not None:
            if not self.program.holds(group.query):  # type: ignore[union-attr]
                return None
        elif len(group.event_ids) < self.threshold or len(group.distinct) < self.distinct_threshold:
            return None
        return self._alert(key, group.start if self.window is not None else None, group)

    def _alert(self, key: tuple[str, ...], start: float | None, group: _Group) -> Alert:
        extras = group.extras()
        fields = extras.get("fields", {})
        if group.query is not None:
            fields = {k: v for k, v in fields.items() if not k.startswith(READ_PREFIX)}
            computed = self.program.query.keys if self.program is not None else ()
            fields |= {k.name: v for k, v in zip(computed, key[len(key) - len(computed):], strict=True)}
            fields |= group.query.shown()
        return Alert(
            id=alert_id(self.rule.id, key, start),
            rule_id=self.rule.id,
            title=str(extras.get("title") or self.rule.title),
            severity=str(extras.get("severity") or self.rule.severity),
            group_key=key,
            window_start=start,
            count=len(group.event_ids),
            event_ids=tuple(dict.fromkeys(group.event_ids)),
            first_time=group.first_time,
            last_time=group.last_time,
            fields=fields,
            techniques=self.rule.techniques,
        )


class NewTermsFilter:
    """Elastic ``new_terms``: pass a match only if its combination of values was not seen in the
    ``history`` seconds before it.

    Elastic answers that from the index, which already holds the history. A scan only knows what
    it has read, so the first ``history`` seconds of data a rule sees (since the state store was
    created) are its learning period: terms are recorded, not alerted on. What was seen lives in
    the state store, so a later run over newer data remembers earlier runs.
    """

    def __init__(self, rule: Rule, state) -> None:
        self.ns = f"new_terms:{rule.id}"
        self.history = rule.grouping.history or 0.0
        self.state = state
        self.since: float | None = state.get(self.ns, "\x00since")

    def is_new(self, match: Match) -> bool:
        terms = match.extras.get("terms")
        if not terms:
            return False
        t = match.time or 0.0
        if self.since is None or t < self.since:
            self.since = t
            self.state.put(self.ns, "\x00since", t)
        key = "\x1f".join(terms)
        last = self.state.get(self.ns, key)
        self.state.put(self.ns, key, max(t, last if last is not None else t))
        learning = t < self.since + self.history
        unseen = last is None or t - last > self.history
        return unseen and not learning

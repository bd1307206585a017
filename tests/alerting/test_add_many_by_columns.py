"""``GroupingAlerter.add_many`` over runs in time order, as the batch engine hands them, gives
what one ``add_values`` per match gives: the same alerts (every field) in the same order, and
the same open groups, window ends and newest time after every call, over several calls in a
row and the flush; now and then a run goes back (a second, earlier file) or has no times."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_add_many import FAILS, SPREAD, WHO

from tokentrail.alerting.grouping import GroupingAlerter
from tokentrail.rules.aggregates import read_label
from tokentrail.rules.ir import Const
from tokentrail.rules.model import Grouping, Rule

groupings = st.builds(
    lambda window, threshold, distinct, aligned, query, keyed: Grouping(
        group_by=("user",) if keyed else (), window=window, threshold=threshold,
        distinct_field="ip" if distinct and query is None else None, distinct_threshold=2 if distinct else 1,
        aligned=aligned and window is not None, query=query),
    st.sampled_from([None, 0.5, 5.0, 7.0, 60.0]), st.sampled_from([1, 2, 3]), st.booleans(), st.booleans(),
    st.sampled_from([None, None, FAILS, SPREAD, WHO]), st.booleans())

# A step from the previous match's time: mostly forward (often by nothing), rarely back or no
# time at all (as 0.0: in order only while nothing came later).
_STEPS = [0.0, 0.0, 0.5, 1.0, 2.5, 5.0, 7.0, 60.0, 13.25]
steps = st.one_of(st.integers(0, 60).map(lambda n: -30.0 if n == 0 else None if n == 1 else _STEPS[n % len(_STEPS)]),
                  st.floats(0, 20, allow_nan=False))
rows = st.tuples(
    steps,
    st.sampled_from(["alice", "bob", "carol"]),
    st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
    st.one_of(st.none(), st.fixed_dictionaries({}, optional={
        "kind": st.one_of(st.none(), st.sampled_from(["fail", "ok"])), "ip": st.sampled_from(["10.0.0.1", "10.0.0.9"]),
        "n": st.one_of(st.none(), st.integers(-3, 3))})))
# Calls: each where it starts from (a step back: an earlier file), its rows, and where the
# by-columns side cuts it into add_many calls.
calls = st.lists(st.tuples(st.sampled_from([0.0, 0.0, 0.0, -40.0]), st.lists(rows, max_size=30),
                           st.lists(st.integers(0, 30), max_size=3)), max_size=4)


def _rule(grouping: Grouping) -> Rule:
    return Rule(id="r1", title="t", format="elastic", logic=Const(True), grouping=grouping)


def _runs(grouping: Grouping, plan: list) -> list[list[tuple]]:
    """Each call's matches as (time, event id, key, ip, fields) cut into its add_many runs."""
    clock, n, out = 0.0, 0, []
    for back, call, cuts in plan:
        clock = max(0.0, clock + back)
        matches = []
        for step, user, ip, fields in call:
            time = None
            if step is not None:
                clock = max(0.0, clock + step)
                time = clock
            held = None if fields is None else {read_label(k): v for k, v in fields.items()}
            matches.append((time, f"e{n}", (user,) if grouping.group_by else (), ip, held))
            n += 1
        bounds = [0, *sorted(c % (len(matches) + 1) for c in cuts), len(matches)]
        out += [matches[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    return out


def _by_one(alerter: GroupingAlerter, grouping: Grouping, run: list[tuple]) -> list:
    out = []
    for time, event_id, key, ip, fields in run:
        extras: dict = {"group_key": key}
        if grouping.distinct_field:
            extras["distinct"] = ip
        if fields is not None:
            extras["fields"] = fields
        out += alerter.add_values(time, event_id, extras)
    return out


def _by_columns(alerter: GroupingAlerter, grouping: Grouping, run: list[tuple], encoded: bool | str) -> list:
    """``run`` through ``add_many``: its fields as JSON text (``encoded``), as they are, or
    (``"mapping"``) as mappings still to decode (not texts a call could decode once)."""
    times, ids, keys, ips, fields = (list(c) for c in zip(*run, strict=True)) if run else ([], [], [], [], [])
    if encoded is True:  # as the batch engine hands them: JSON text the alerter decodes where it needs it
        fields = [None if f is None else json.dumps(f) for f in fields]
    decode = json.loads if encoded is True else dict if encoded == "mapping" else None
    return alerter.add_many(times, ids, keys, ips if grouping.distinct_field else None, fields, decode)


def _same_run(grouping: Grouping, plan: list, encoded: bool | str) -> None:
    one, many = GroupingAlerter(_rule(grouping)), GroupingAlerter(_rule(grouping))
    for run in _runs(grouping, plan):
        assert _by_columns(many, grouping, run, encoded) == _by_one(one, grouping, run)
        assert many.snapshot() == one.snapshot()
    assert many.flush() == one.flush()


@settings(max_examples=400, deadline=None)
@given(groupings, calls, st.booleans())
@example(  # an open group at a window's end, the next call's first match at the very same time
    Grouping(group_by=("user",), window=5.0, threshold=1),
    [(0.0, [(10.0, "alice", "10.0.0.1", None), (-30.0, "bob", "10.0.0.1", None)], []),
     (0.0, [(5.0, "bob", "10.0.0.1", None), (0.0, "alice", "10.0.0.1", None)], [])], False)
@example(  # a window that ended before the newest time stays open through a run at that time
    Grouping(group_by=("user",), window=5.0, threshold=1),
    [(0.0, [(10.0, "alice", "10.0.0.1", None), (-30.0, "bob", "10.0.0.1", None)], []),
     (0.0, [(10.0, "carol", "10.0.0.1", None), (0.0, "carol", "10.0.0.1", None)], [])], False)
def test_runs_by_columns_alert_as_their_matches_one_by_one(grouping, plan, encoded):
    _same_run(grouping, plan, encoded)


@settings(max_examples=100, deadline=None)
@given(groupings, calls)
def test_fields_to_decode_that_are_no_texts_alert_as_their_matches_one_by_one(grouping, plan):
    _same_run(grouping, plan, "mapping")


WINDOWED = Grouping(group_by=("user",), window=60.0, threshold=2, distinct_field="ip", distinct_threshold=2)


def test_closes_inside_a_run_leave_in_the_order_of_the_matches_that_close_them():
    alerter = GroupingAlerter(_rule(WINDOWED))
    run = [(0.0, "a", ("bob",), "1", None), (10.0, "b", ("alice",), "1", None), (20.0, "c", ("bob",), "2", None),
           (30.0, "d", ("alice",), "2", None), (61.0, "e", ("carol",), "1", None),
           (75.0, "f", ("carol",), "2", None), (130.0, "g", ("carol",), "3", None)]
    closed = _by_columns(alerter, WINDOWED, run, encoded=False)
    # bob's window (0-60) ends first, then alice's (10-70): both close at t=75; carol's at 130.
    assert [(a.group_key, a.event_ids) for a in closed] == [(("bob",), ("a", "c")), (("alice",), ("b", "d")),
                                                            (("carol",), ("e", "f"))]
    assert list(alerter.groups) == [("carol",)] and alerter.newest == 130.0


def test_equal_times_of_another_type_keep_the_first_of_them_as_one_by_one():
    grouping = Grouping(group_by=("user",), window=60.0, threshold=1)
    alerter, one = GroupingAlerter(_rule(grouping)), GroupingAlerter(_rule(grouping))
    run = [(1.0, "a", ("bob",), "1", None), (5, "b", ("bob",), "1", None), (5.0, "c", ("bob",), "1", None)]
    _by_columns(alerter, grouping, run, encoded=False)
    _by_one(one, grouping, run)
    assert json.dumps(alerter.snapshot()) == json.dumps(one.snapshot())
    assert type(alerter.newest) is int and type(alerter.groups[("bob",)].last_time) is int


def test_columns_of_unequal_length_are_refused_not_cut_short():
    for grouping in (WINDOWED, Grouping(group_by=("user",), window=60.0, threshold=1, distinct_field="ip",
                                        distinct_threshold=2)):
        alerter = GroupingAlerter(_rule(grouping))
        with pytest.raises(ValueError, match="differ in length"):
            alerter.add_many([1.0, 2.0], ["a", "b"], [("bob",)], ["1", "2"])
        with pytest.raises(ValueError, match="differ in length"):
            alerter.add_many([1.0, 2.0], ["a", "b"], [("bob",), ("bob",)], ["1"])
        assert alerter.groups == {}

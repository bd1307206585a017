"""``GroupingAlerter.add_many`` over a run of matches gives exactly the alerts, in the same
order, and the same open groups as ``add_values`` called once per match: windows, thresholds,
distinct counts, aligned windows, aggregate queries (row conditions, sub-groups, computed keys),
out-of-order and missing times, and runs cut anywhere."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tokentrail.alerting.grouping import GroupingAlerter
from tokentrail.rules.aggregates import (
    TIME,
    Aggregate,
    AggregateQuery,
    Both,
    Branch,
    Compare,
    ComputedKey,
    Num,
    Ref,
    read_label,
)
from tokentrail.rules.ir import Cmp, Const, Exists, Not
from tokentrail.rules.model import Grouping, Rule

FAILS = AggregateQuery(
    aggregates=(Aggregate("count", rows=Cmp("kind", "eq", ("fail",), cased=True)),
                Aggregate("min", (TIME,), rows=Not(Cmp("kind", "eq", ("fail",), cased=True))),
                Aggregate("max", (TIME,)), Aggregate("distinct", ("ip",)), Aggregate("sum", ("n",))),
    condition=Both("or", (Compare(">=", Ref(0), Num(2)), Compare(">=", Ref(3), Num(2)))),
    shown=(("fails", Ref(0)), ("first", Ref(1)), ("last", Ref(2)), ("ips", Ref(3)), ("n", Ref(4))),
    times=("first", "last"),
)
SPREAD = AggregateQuery(
    inner=(Aggregate("count"), Aggregate("count", rows=Cmp("kind", "eq", ("ok",), cased=True))),
    sub_keys=("ip",),
    aggregates=(Aggregate("count"), Aggregate("count", when=Compare(">", Ref(1), Num(0))), Aggregate("sum", of=Ref(0))),
    condition=Compare(">=", Ref(0), Num(2)),
    shown=(("ips", Ref(0)), ("oks", Ref(1)), ("total", Ref(2))),
)
WHO = AggregateQuery(
    aggregates=(Aggregate("count"),), condition=Compare(">=", Ref(0), Num(2)), shown=(("n", Ref(0)),),
    keys=(ComputedKey("who", (Branch(Exists("kind", non_null=True), "kind", fold="upper"),
                              Branch(Not(Exists("kind", non_null=True)), "ip"))),),
)

groupings = st.builds(
    lambda window, threshold, distinct, aligned, query, keyed: Grouping(
        group_by=("user",) if keyed else (), window=window, threshold=threshold,
        distinct_field="ip" if distinct and query is None else None, distinct_threshold=2 if distinct else 1,
        aligned=aligned and window is not None, query=query),
    st.sampled_from([None, 10.0, 60.0]), st.sampled_from([1, 2, 3]), st.booleans(), st.booleans(),
    st.sampled_from([None, FAILS, SPREAD, WHO]), st.booleans())

matches = st.lists(st.tuples(
    st.one_of(st.none(), st.integers(0, 200).map(float), st.floats(0, 200, allow_nan=False)),
    st.sampled_from(["alice", "bob", "carol"]),
    st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
    st.one_of(st.none(), st.fixed_dictionaries({}, optional={
        "kind": st.one_of(st.none(), st.sampled_from(["fail", "ok"])), "ip": st.sampled_from(["10.0.0.1", "10.0.0.9"]),
        "n": st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["2", "x"])), "user": st.just("u")}))),
    max_size=40)


def _columns(grouping: Grouping, rows: list[tuple]) -> tuple[list, list, list, list | None, list]:
    times = [t for t, *_ in rows]
    ids = [f"e{n}" for n in range(len(rows))]
    keys = [(user,) if grouping.group_by else () for _, user, _, _ in rows]
    distinct = [ip for _, _, ip, _ in rows] if grouping.distinct_field else None
    fields = [None if f is None else {read_label(k) if k != "user" else k: v for k, v in f.items()}
              for *_, f in rows]
    return times, ids, keys, distinct, fields


def _one_by_one(rule: Rule, cols: tuple) -> tuple[list, dict]:
    alerter = GroupingAlerter(rule)
    times, ids, keys, distinct, fields = cols
    out = []
    for n, (time, event_id, key) in enumerate(zip(times, ids, keys, strict=True)):
        extras: dict = {"group_key": key}
        if distinct is not None:
            extras["distinct"] = distinct[n]
        if fields[n] is not None:
            extras["fields"] = fields[n]
        out += alerter.add_values(time, event_id, extras)
    return out, alerter.snapshot()


def _in_runs(rule: Rule, cols: tuple, cuts: list[int], encoded: bool) -> tuple[list, dict]:
    alerter = GroupingAlerter(rule)
    times, ids, keys, distinct, fields = cols
    if encoded:  # the fields as JSON text, decoded by the alerter where it needs them
        fields = [None if f is None else json.dumps(f) for f in fields]
    bounds = [0, *sorted(c % (len(times) + 1) for c in cuts), len(times)]
    out = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        out += alerter.add_many(times[a:b], ids[a:b], keys[a:b], None if distinct is None else distinct[a:b],
                                fields[a:b], json.loads if encoded else None)
    return out, alerter.snapshot()


@settings(max_examples=300, deadline=None)
@given(groupings, matches, st.lists(st.integers(0, 40), max_size=4), st.booleans())
def test_a_run_alerts_as_its_matches_one_by_one(grouping, rows, cuts, encoded):
    rule = Rule(id="r1", title="t", format="elastic", logic=Const(True), grouping=grouping)
    cols = _columns(grouping, rows)
    expected, expected_open = _one_by_one(rule, cols)
    got, got_open = _in_runs(rule, cols, cuts, encoded)
    assert got == expected
    assert got_open == expected_open


def test_a_run_closes_windows_and_raises_what_one_by_one_would():
    rule = Rule(id="r1", title="t", format="sigma", logic=Const(True),
                grouping=Grouping(group_by=("user",), window=60, threshold=2, distinct_field="ip", distinct_threshold=2))
    times = [0.0, 10.0, 20.0, 70.0, None]
    alerter = GroupingAlerter(rule)
    closed = alerter.add_many(times, ["a", "b", "c", "d", "e"], [("alice",)] * 3 + [("bob",)] * 2,
                              ["1", "1", "2", "1", "1"], [{"x": 1}, None, None, None, None])
    # alice's window (0-60) closed at t=70 with two distinct addresses; bob's stays open.
    assert [(a.group_key, a.event_ids, a.fields) for a in closed] == [(("alice",), ("a", "b", "c"), {"x": 1})]
    assert list(alerter.groups) == [("bob",)]
    assert alerter.flush() == []  # bob: one distinct address, under the distinct threshold

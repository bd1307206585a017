"""Aggregate queries (ES|QL STATS) evaluated by alerting: ES|QL's null logic and arithmetic, row
conditions, sub-groups, computed keys, aligned windows, and a checkpoint mid-window."""

from __future__ import annotations

import json

import pytest

from tokentrail.alerting.aggregates import compile_condition, compile_value
from tokentrail.alerting.grouping import GroupingAlerter
from tokentrail.rules.aggregates import (
    TIME,
    Aggregate,
    AggregateQuery,
    Arith,
    Both,
    Branch,
    Compare,
    ComputedKey,
    DateDiff,
    IsNull,
    Negate,
    Num,
    Ref,
    read_label,
)
from tokentrail.rules.ir import Cmp, Const, Exists, Not
from tokentrail.rules.model import Grouping, Rule


def alerter(query: AggregateQuery, window: float = 600, group_by=("user",), aligned=False) -> GroupingAlerter:
    rule = Rule(id="r1", title="t", format="elastic", logic=Const(True),
                grouping=Grouping(group_by=group_by, window=window, aligned=aligned, query=query))
    return GroupingAlerter(rule)


def feed(a: GroupingAlerter, rows: list[tuple[float, str, dict]]) -> list:
    out = []
    for n, (t, user, fields) in enumerate(rows):
        extras = {"group_key": (user,) if user else (), "fields": {"user": user, **{read_label(k): v for k, v in fields.items()}}}
        out += a.add_values(t, f"e{n}", extras)
    return out + a.flush()


@pytest.mark.parametrize(("cond", "env", "expected"), [
    (Compare(">", Ref(0), Num(1)), [None], None),
    (Negate(Compare(">", Ref(0), Num(1))), [None], None),
    (Both("or", (Compare(">", Ref(0), Num(1)), Compare("<", Ref(1), Num(1)))), [None, 0], True),
    (Both("or", (Compare(">", Ref(0), Num(1)), Compare("<", Ref(1), Num(1)))), [None, 5], None),
    (Both("and", (Compare(">", Ref(0), Num(1)), Compare("<", Ref(1), Num(1)))), [None, 5], False),
    (Both("and", (Compare(">", Ref(0), Num(1)), Compare("<", Ref(1), Num(1)))), [2, 0], True),
    (IsNull(Ref(0)), [None], True),
    (Compare(">", Ref(0), Num(3)), ["10"], True),  # MAX of text holding numbers compares as numbers
    (Compare("==", Ref(0), Num(1)), ["alice"], None),
])
def test_three_valued_logic(cond, env, expected):
    assert compile_condition(cond)(env) is expected


@pytest.mark.parametrize(("value", "expected"), [
    (Arith("/", Num(7), Num(2)), 3),
    (Arith("/", Num(-7), Num(2)), -3),  # integer division truncates toward zero, as ES|QL's does
    (Arith("%", Num(-7), Num(2)), -1),
    (Arith("/", Num(7.0), Num(2)), 3.5),
    (Arith("/", Num(7), Num(0)), None),
    (Arith("*", Ref(0), Num(2)), None),
    (DateDiff(60, Num(0), Num(119.9)), 1),
    (DateDiff(60, Num(119.9), Num(0)), -1),
])
def test_arithmetic(value, expected):
    assert compile_value(value)([None]) == expected


BURST = AggregateQuery(
    aggregates=(Aggregate("count", rows=Cmp("kind", "eq", ("fail",), cased=True)),
                Aggregate("count", rows=Cmp("kind", "eq", ("ok",), cased=True)),
                Aggregate("distinct", ("ip",)), Aggregate("min", (TIME,)), Aggregate("max", ("ip",))),
    condition=Both("and", (Compare(">=", Ref(0), Num(3)), Compare(">=", Ref(1), Num(1)),
                           Compare(">=", Arith("/", Arith("*", Ref(0), Num(1.0)), Arith("+", Ref(0), Ref(1))), Num(0.7)))),
    shown=(("fails", Ref(0)), ("oks", Ref(1)), ("ips", Ref(2)), ("first", Ref(3)), ("top", Ref(4))),
    times=("first",),
)


def test_counts_of_different_rows_and_what_the_alert_shows():
    rows = [(0, "alice", {"kind": "fail", "ip": "10.0.0.2"}), (10, "alice", {"kind": "fail", "ip": None}),
            (20, "alice", {"kind": "fail", "ip": "10.0.0.9"}), (30, "alice", {"kind": "ok", "ip": "10.0.0.2"}),
            (0, "bob", {"kind": "fail"}), (1, "bob", {"kind": "fail"}), (2, "bob", {"kind": "fail"}),
            (3, "bob", {"kind": "ok"}), (4, "bob", {"kind": "ok"})]  # bob: 3 of 5 failed, under 0.7
    (alert,) = feed(alerter(BURST), rows)
    assert alert.group_key == ("alice",) and alert.count == 4
    assert alert.fields == {"user": "alice", "fails": 3, "oks": 1, "ips": 2, "first": "1970-01-01T00:00:00.000Z",
                            "top": "10.0.0.9"}  # a null address is not a distinct value
    json.dumps(alert.to_dict())  # what the alert shows is plain data


def test_the_condition_is_judged_when_the_window_closes():
    def run(rows):
        a = alerter(BURST, window=60)
        seen = [x for n, (t, f) in enumerate(rows)
                for x in a.add_values(t, f"e{n}", {"group_key": ("alice",), "fields": {read_label("kind"): f}})]
        closed = a.add_values(100, "late", {"group_key": ("carol",), "fields": {}})
        return seen, [(x.group_key, x.count) for x in closed]

    three_of_four = [(0, "fail"), (1, "fail"), (2, "fail"), (3, "ok")]
    assert run(three_of_four) == ([], [(("alice",), 4)])
    # 3 of 4 failed would have held at t=3; a later success makes it 3 of 5, under 0.7: no alert.
    assert run([*three_of_four, (40, "ok")]) == ([], [])


SPRAY = AggregateQuery(
    inner=(Aggregate("count"), Aggregate("min", (TIME,))),
    sub_keys=("target",),
    aggregates=(Aggregate("count"), Aggregate("sum", of=Ref(0)), Aggregate("max", of=Ref(0)),
                Aggregate("count", when=Compare("<=", Ref(0), Num(2))), Aggregate("min", of=Ref(1)),
                Aggregate("distinct", ("target",))),
    condition=Both("and", (Compare(">=", Ref(0), Num(3)), Compare("<=", Ref(2), Num(2)))),
    shown=(("users", Ref(0)), ("total", Ref(1)), ("most", Ref(2)), ("few", Ref(3)), ("first", Ref(4)), ("d", Ref(5))),
    times=("first",),
)


def test_a_second_stats_aggregates_sub_groups():
    rows = [(t, "1.2.3.4", {"target": u}) for t, u in ((0, "a"), (5, "b"), (6, "b"), (9, "c"))]
    rows += [(t, "5.6.7.8", {"target": u}) for t, u in ((0, "a"), (1, "a"), (2, "a"), (3, "b"), (4, "c"))]
    (alert,) = feed(alerter(SPRAY, group_by=("ip",)), rows)
    assert alert.group_key == ("1.2.3.4",)
    shown = {k: v for k, v in alert.fields.items() if k != "user"}
    assert shown == {"users": 3, "total": 4, "most": 2, "few": 3, "first": "1970-01-01T00:00:00.000Z", "d": 3}


def test_computed_keys_extend_the_group_key():
    who = ComputedKey("who", (Branch(Exists("login", non_null=True), "login", fold="lower"),
                              Branch(Not(Exists("login", non_null=True)), "email")))
    q = AggregateQuery(aggregates=(Aggregate("count"),), condition=Compare(">=", Ref(0), Num(2)), keys=(who,))
    rows = [(0, "", {"login": "Alice"}), (1, "", {"login": "ALICE"}), (2, "", {"email": "bob@x"}),
            (3, "", {"email": "carol@x"}), (4, "", {"login": None, "email": "carol@x"})]
    alerts = feed(alerter(q, group_by=()), rows)
    assert sorted((a.group_key, a.count, a.fields["who"]) for a in alerts) == [
        (("alice",), 2, "alice"), (("carol@x",), 2, "carol@x")]


def test_aligned_windows_are_buckets_since_the_epoch():
    q = AggregateQuery(aggregates=(Aggregate("count"),), condition=Compare(">=", Ref(0), Num(2)))
    rows = [(890, "alice", {}), (899, "alice", {}), (901, "alice", {}), (1795, "alice", {})]
    alerts = feed(alerter(q, window=900, aligned=True), rows)
    # 890 and 899 fall in [0, 900); 901 and 1795 in [900, 1800), though 894 seconds apart.
    assert [(a.window_start, a.count) for a in alerts] == [(0, 2), (900, 2)]
    unaligned = feed(alerter(q, window=900), rows)
    assert [(a.window_start, a.count) for a in unaligned] == [(890, 3)]


def test_a_checkpoint_mid_window_gives_the_same_alerts():
    rows = [(0, "1.2.3.4", {"target": "a"}), (1, "1.2.3.4", {"target": "b"}), (2, "9.9.9.9", {"target": "a"})]
    later = [(3, "1.2.3.4", {"target": "c"}), (4, "1.2.3.4", {"target": "c"})]
    whole = feed(alerter(SPRAY, group_by=("ip",)), rows + later)
    first = alerter(SPRAY, group_by=("ip",))
    for n, (t, user, fields) in enumerate(rows):
        first.add_values(t, f"e{n}", {"group_key": (user,), "fields": {"user": user, **{read_label(k): v for k, v in fields.items()}}})
    resumed = alerter(SPRAY, group_by=("ip",))
    resumed.restore(json.loads(json.dumps(first.snapshot())))
    out = []
    for n, (t, user, fields) in enumerate(later, start=len(rows)):
        out += resumed.add_values(t, f"e{n}", {"group_key": (user,), "fields": {"user": user, **{read_label(k): v for k, v in fields.items()}}})
    out += resumed.flush()
    assert [(a.id, a.event_ids, a.fields) for a in out] == [(a.id, a.event_ids, a.fields) for a in whole]
    assert whole and whole[0].fields["users"] == 3

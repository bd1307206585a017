"""Alerts leave when final: a window is closed by the first later match (of any group key) at or
past its end, not only by the next match of its own key or the end of input."""

from tokentrail.alerting.correlation import CorrelationAlerter, Signal
from tokentrail.alerting.grouping import GroupingAlerter
from tokentrail.alerting.models import Match
from tokentrail.rules.ir import Const
from tokentrail.rules.model import Correlation, CorrelationStep, Grouping, Rule


def match(t, key):
    return Match("r1", {}, "okta", t, f"e{t}", extras={"group_key": key})


def test_a_group_leaves_when_another_keys_match_passes_its_window():
    rule = Rule(id="r1", title="t", format="sigma", logic=Const(True),
                grouping=Grouping(group_by=("user",), window=60, threshold=2))
    alerter = GroupingAlerter(rule)
    assert alerter.add(match(0, ("alice",))) == [] and alerter.add(match(10, ("alice",))) == []
    assert alerter.add(match(59, ("bob",))) == []  # alice's window (0-60) is still open
    closed = alerter.add(match(60, ("bob",)))
    assert [(a.group_key, a.count) for a in closed] == [(("alice",), 2)]
    assert list(alerter.groups) == [("bob",)]  # alice's group is gone: memory follows open windows
    assert [a.group_key for a in alerter.flush()] == [("bob",)]


def test_an_older_match_joins_its_open_group_as_before():
    rule = Rule(id="r1", title="t", format="sigma", logic=Const(True),
                grouping=Grouping(group_by=("user",), window=60, threshold=3))
    alerter = GroupingAlerter(rule)
    for t, user in ((0, "alice"), (30, "bob"), (20, "alice"), (40, "alice")):
        assert alerter.add(match(t, (user,))) == []
    assert [(a.group_key, a.count) for a in alerter.add(match(100, ("carol",)))] == [(("alice",), 3)]


def test_a_count_correlation_judged_at_close_leaves_when_its_window_has_passed():
    corr = Correlation(kind="event_count", steps=(CorrelationStep("s0", rule_ref="r0"),), timespan=60,
                       condition=("lt", 3))
    alerter = CorrelationAlerter(Rule(id="c1", title="few", format="sigma", logic=corr))
    assert alerter.add(Signal(0, ("alice",), 0.0, ("e0",))) == []
    assert alerter.add(Signal(0, ("bob",), 30.0, ("e1",))) == []
    out = alerter.add(Signal(0, ("bob",), 61.0, ("e2",)))  # alice's window ended at 60: 1 < 3
    assert [(a.group_key, a.count) for a in out] == [(("alice",), 1)]
    assert [a.group_key for a in alerter.flush()] == [("bob",)]

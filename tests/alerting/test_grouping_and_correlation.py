"""Alerting semantics: groups, windows, thresholds, distinct counts, new terms, correlations."""

from tokentrail.alerting.correlation import CorrelationAlerter, Signal
from tokentrail.alerting.grouping import GroupingAlerter, NewTermsFilter
from tokentrail.alerting.models import Match, alert_id
from tokentrail.rules.ir import Const
from tokentrail.rules.model import Correlation, CorrelationStep, Grouping, Rule
from tokentrail.state import StateStore


def rule(grouping=Grouping(), logic=Const(True), **meta):
    return Rule(id="r1", title="Rule one", format="sigma", logic=logic, grouping=grouping, metadata=meta)


def match(t, key=("alice",), eid=None, **extras):
    return Match("r1", {}, "okta", t, eid or f"e{t}", extras={"group_key": key, **extras})


def run(alerter, matches):
    out = []
    for m in matches:
        out.extend(alerter.add(m))
    return out + alerter.flush()


def test_without_grouping_every_match_alerts_at_once():
    alerter = GroupingAlerter(rule())
    assert len(alerter.add(match(1))) == 1
    assert alerter.add(match(1))[0].id == alerter.add(match(1))[0].id  # deterministic


def test_window_groups_matches_and_threshold_filters_small_groups():
    g = Grouping(group_by=("user",), window=60, threshold=3)
    alerts = run(GroupingAlerter(rule(g)), [
        match(0), match(10), match(20), match(30),          # alice: 4 in one window
        match(5, ("bob",)), match(6, ("bob",)),             # bob: 2, under threshold
        match(100), match(110),                             # alice: new window, only 2
    ])
    assert [(a.group_key, a.count) for a in alerts] == [(("alice",), 4)]
    assert alerts[0].event_ids == ("e0", "e10", "e20", "e30")
    assert alerts[0].window_start == 0 and alerts[0].first_time == 0 and alerts[0].last_time == 30
    assert alerts[0].id == alert_id("r1", ("alice",), 0)


def test_distinct_threshold_needs_both_the_count_and_the_distinct_values():
    g = Grouping(group_by=("user",), window=600, threshold=4, distinct_field="ip", distinct_threshold=3)
    ms = [match(i, distinct=ip) for i, ip in enumerate(["a", "a", "b", "a"])]
    assert run(GroupingAlerter(rule(g)), ms) == []  # 4 matches but only 2 addresses
    three = [match(0, distinct="a"), match(1, distinct="b"), match(2, distinct="c")]
    assert run(GroupingAlerter(rule(g)), three) == []  # 3 addresses but only 3 matches
    alerts = run(GroupingAlerter(rule(g)), [*three, match(3, distinct="a")])
    assert [a.count for a in alerts] == [4]


def test_dynamic_title_and_severity_come_from_the_first_match():
    g = Grouping(window=3600)
    alerts = run(GroupingAlerter(rule(g)), [match(1, title="Token revoked for bob", severity="high")])
    assert alerts[0].title == "Token revoked for bob" and alerts[0].severity == "high"


def test_new_terms_learn_for_one_history_window_then_alert_on_unseen_terms(tmp_path):
    path = tmp_path / "state.db"
    day = 86400
    r = rule(Grouping(new_terms=("user", "country"), history=day))
    first = NewTermsFilter(r, StateStore(path))
    assert not first.is_new(match(0, terms=("alice", "NO")))        # learning period
    assert not first.is_new(match(3600, terms=("alice", "BR")))     # still learning
    assert not first.is_new(match(7200, terms=("alice", "NO")))
    assert not first.is_new(match(day + 10, terms=("alice", "NO")))  # seen within history
    assert first.is_new(match(day + 20, terms=("alice", "US")))
    assert not first.is_new(match(day + 30, terms=("alice", "US")))
    second = NewTermsFilter(r, StateStore(path))  # a later run over newer data remembers
    assert not second.is_new(match(day + 3600, terms=("alice", "BR")))
    assert second.is_new(match(3 * day, terms=("alice", "BR")))     # last seen beyond the history


def corr_rule(kind, steps=2, **kw):
    corr = Correlation(kind=kind, steps=tuple(CorrelationStep(f"s{i}", rule_ref=f"r{i}") for i in range(steps)), **kw)
    return Rule(id="c1", title="corr", format="sigma", logic=corr)


def feed(alerter, signals):
    out = []
    for s in signals:
        out.extend(alerter.add(s))
    return out + alerter.flush()


def sig(step, t, key=("u",), value=None):
    return Signal(step, key, t, (f"e{step}-{t}",), value)


def test_event_count_sliding_window():
    a = CorrelationAlerter(corr_rule("event_count", 1, timespan=60, condition=("gte", 3)))
    assert feed(a, [sig(0, 0), sig(0, 50), sig(0, 100)]) == []  # never 3 within 60s
    a = CorrelationAlerter(corr_rule("event_count", 1, timespan=60, condition=("gte", 3)))
    alerts = feed(a, [sig(0, 0), sig(0, 50), sig(0, 70), sig(0, 80)])
    assert len(alerts) == 1 and alerts[0].event_ids == ("e0-50", "e0-70", "e0-80")


def test_event_count_lt_is_judged_when_the_window_closes():
    a = CorrelationAlerter(corr_rule("event_count", 1, timespan=60, condition=("lt", 2)))
    alerts = feed(a, [sig(0, 0), sig(0, 10), sig(0, 100)])
    assert [al.count for al in alerts] == [1]  # the second window held one signal


def test_value_count_counts_distinct_values():
    a = CorrelationAlerter(corr_rule("value_count", 1, timespan=300, condition=("gte", 3)))
    assert feed(a, [sig(0, i, value=v) for i, v in enumerate("aab")]) == []
    a = CorrelationAlerter(corr_rule("value_count", 1, timespan=300, condition=("gte", 3)))
    assert len(feed(a, [sig(0, i, value=v) for i, v in enumerate("aabc")])) == 1


def test_temporal_any_order_within_timespan():
    a = CorrelationAlerter(corr_rule("temporal", 2, timespan=60))
    assert len(feed(a, [sig(1, 0), sig(0, 30)])) == 1
    a = CorrelationAlerter(corr_rule("temporal", 2, timespan=60))
    assert feed(a, [sig(1, 0), sig(0, 100)]) == []
    a = CorrelationAlerter(corr_rule("temporal", 2, timespan=60))
    assert feed(a, [sig(1, 0, ("x",)), sig(0, 1, ("y",))]) == []  # different groups


def test_ordered_sequence_requires_order_and_span():
    a = CorrelationAlerter(corr_rule("temporal_ordered", 2, timespan=60))
    assert feed(a, [sig(1, 0), sig(0, 10)]) == []
    a = CorrelationAlerter(corr_rule("temporal_ordered", 2, timespan=60))
    assert len(feed(a, [sig(0, 0), sig(1, 10)])) == 1
    a = CorrelationAlerter(corr_rule("sequence", 2, timespan=60))
    assert feed(a, [sig(0, 0), sig(1, 61)]) == []


def test_sequence_runs_and_until():
    steps = (CorrelationStep("fail", expr=Const(True), runs=3), CorrelationStep("ok", expr=Const(True)))
    r = Rule(id="c2", title="seq", format="elastic", logic=Correlation("sequence", steps, timespan=300))
    a = CorrelationAlerter(r)
    assert feed(a, [sig(0, 0), sig(0, 1), sig(1, 2)]) == []  # only two failures
    a = CorrelationAlerter(r)
    alerts = feed(a, [sig(0, 0), sig(0, 1), sig(0, 2), sig(1, 3)])
    assert len(alerts) == 1 and alerts[0].count == 4
    a = CorrelationAlerter(r)
    a.add(sig(0, 0))
    a.add(sig(0, 1))
    a.reset(("u",))
    assert feed(a, [sig(0, 2), sig(1, 3)]) == []

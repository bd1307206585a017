"""ES|QL STATS beyond thresholds: each construct lowers to the AggregateQuery alerting evaluates,
exactly (the query's tree), and what the simple thresholds already express stays a threshold."""

from __future__ import annotations

from tokentrail.formats.elastic.esql import esql_to_plan
from tokentrail.rules.aggregates import (
    TIME,
    Aggregate,
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
from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, Not
from tokentrail.rules.model import OutputField


def plan(tail: str, lookback: float = 3600.0, source: str = "FROM logs-okta*"):
    return esql_to_plan(f"{source}\n{tail}", lookback=lookback)


def query(tail: str, **kw):
    p = plan(tail, **kw)
    assert p.grouping.query is not None, "expected an aggregate query"
    return p.grouping.query


def test_the_simple_form_stays_a_threshold():
    p = plan("| STATS n = COUNT(*), c = COUNT_DISTINCT(ip) BY user | WHERE n >= 5 AND c > 2")
    assert p.grouping.query is None and (p.grouping.threshold, p.grouping.distinct_threshold) == (5, 3)


def test_or_over_aggregates():
    q = query("| STATS n = COUNT(*), c = COUNT_DISTINCT(ip) BY user | WHERE n > 5 OR c > 2")
    assert q.aggregates == (Aggregate("count"), Aggregate("distinct", ("ip",)))
    assert q.condition == Both("or", (Compare(">", Ref(0), Num(5)), Compare(">", Ref(1), Num(2))))


def test_two_distinct_counts_and_an_upper_bound():
    q = query("| STATS a = COUNT_DISTINCT(ip), b = COUNT_DISTINCT(agent) BY user | WHERE a >= 2 AND b < 4")
    assert q.aggregates == (Aggregate("distinct", ("ip",)), Aggregate("distinct", ("agent",)))
    assert q.condition == Both("and", (Compare(">=", Ref(0), Num(2)), Compare("<", Ref(1), Num(4))))


def test_a_comparison_of_two_aggregates_of_time():
    q = query("| STATS lo = MIN(@timestamp), hi = MAX(@timestamp) BY user | WHERE hi > lo")
    assert q.aggregates == (Aggregate("min", (TIME,)), Aggregate("max", (TIME,)))
    assert q.condition == Compare(">", Ref(1), Ref(0))
    assert q.times == ("lo", "hi")


def test_eval_arithmetic_and_date_diff_on_aggregates():
    q = query("| STATS n = COUNT(*), u = COUNT_DISTINCT(user), lo = MIN(@timestamp), hi = MAX(@timestamp) BY ip "
              '| EVAL per_user = n * 1.0 / u, span = DATE_DIFF("minutes", lo, hi), neg = -n '
              "| WHERE per_user <= 2.5 AND span >= 5 AND neg < 0")
    per_user = Arith("/", Arith("*", Ref(0), Num(1.0)), Ref(1))
    span = DateDiff(60, Ref(2), Ref(3))
    assert q.condition == Both("and", (Compare("<=", per_user, Num(2.5)), Compare(">=", span, Num(5)),
                                       Compare("<", Arith("-", Num(0), Ref(0)), Num(0))))
    assert dict(q.shown)["per_user"] == per_user and dict(q.shown)["span"] == span


def test_counts_of_different_rows_carry_their_row_conditions():
    q = query('| STATS bad = SUM(CASE(outcome == "FAILURE", 1, 0)), good = SUM(CASE(outcome == "SUCCESS", 1, 0)) '
              "BY user | WHERE bad >= 3 AND good >= 1")
    assert q.aggregates == (Aggregate("count", rows=Cmp("outcome", "eq", ("FAILURE",), cased=True)),
                            Aggregate("count", rows=Cmp("outcome", "eq", ("SUCCESS",), cased=True)))
    assert q.fields() == ("outcome",)


def test_an_eval_flag_summed_and_a_time_of_some_rows():
    q = query('| EVAL start = event.action == "user.session.start", has = CASE(dt IS NOT NULL, 1, 0) '
              "| STATS s = SUM(CASE(start, 1, 0)), first = MIN(CASE(start, @timestamp, null)), d = SUM(has) "
              "BY user | WHERE s >= 1 AND first IS NOT NULL AND d < 1")
    started = Cmp("event.action", "eq", ("user.session.start",), cased=True)
    assert q.aggregates == (Aggregate("count", rows=started), Aggregate("min", (TIME,), rows=started),
                            Aggregate("count", rows=Exists("dt", non_null=True)))
    assert q.condition.items[1] == Negate(IsNull(Ref(1)))
    assert q.times == ("first",)


def test_sum_min_max_avg_of_a_field_and_in_over_an_aggregate():
    q = query("| STATS t = SUM(bytes), a = AVG(bytes), m = MAX(bytes) BY user | WHERE t > 100 AND m IN (1, 2)")
    assert q.aggregates == (Aggregate("sum", ("bytes",)), Aggregate("avg", ("bytes",)), Aggregate("max", ("bytes",)))
    assert q.condition.items[1] == Both("or", (Compare("==", Ref(2), Num(1)), Compare("==", Ref(2), Num(2))))


def test_a_second_stats_aggregates_the_first_groups():
    q = query("| STATS tries = COUNT(*), first = MIN(@timestamp) BY ip, user "
              "| STATS users = COUNT(*), total = SUM(tries), most = MAX(tries), "
              "few = SUM(CASE(tries <= 2, 1, 0)), seen = MIN(first) BY ip "
              "| EVAL share = few * 100.0 / users | WHERE users >= 5 AND most <= 2 AND share >= 80")
    assert q.sub_keys == ("user",)
    assert q.inner == (Aggregate("count"), Aggregate("min", (TIME,)))
    assert q.aggregates == (Aggregate("count"), Aggregate("sum", of=Ref(0)), Aggregate("max", of=Ref(0)),
                            Aggregate("count", when=Compare("<=", Ref(0), Num(2))), Aggregate("min", of=Ref(1)))
    assert q.times == ("seen",)
    p = plan("| STATS n = COUNT(*) BY ip, user | STATS users = COUNT(*) BY ip | WHERE users >= 5")
    assert p.grouping.group_by == ("ip",)
    assert OutputField(read_label("user"), "user") in p.output_fields


def test_distinct_of_a_first_level_key_after_a_second_stats():
    q = query("| STATS n = COUNT(*) BY a, b | STATS d = COUNT_DISTINCT(b) BY a | WHERE d >= 3")
    assert q.aggregates == (Aggregate("distinct", ("b",)),) and q.sub_keys == ("b",)


def test_by_a_computed_value_is_a_computed_key():
    p = plan("| EVAL who = COALESCE(okta.actor.alternate_id, user.name) | WHERE who IS NOT NULL "
             "| STATS n = COUNT(*), ips = COUNT_DISTINCT(source.ip) BY who | WHERE n > 3 OR ips > 1")
    q = p.grouping.query
    first, second = Exists("okta.actor.alternate_id", non_null=True), Exists("user.name", non_null=True)
    assert q.keys == (ComputedKey("who", (Branch(first, "okta.actor.alternate_id"),
                                          Branch(All((Not(first), second)), "user.name"),
                                          Branch(All((Not(first), Not(second))), text=None))),)
    assert p.grouping.group_by == ()
    assert set(q.fields()) >= {"okta.actor.alternate_id", "user.name", "source.ip"}
    low = query("| STATS n = COUNT(*), c = COUNT_DISTINCT(ip) BY TO_LOWER(user) | WHERE n > 3 OR c > 1")
    assert low.keys[0].branches == (Branch(Const(True), "user", fold="lower"),)


def test_a_condition_on_a_computed_key_alone_still_filters_events():
    p = plan('| EVAL who = TO_LOWER(user) | STATS n = COUNT(*), c = COUNT_DISTINCT(ip) BY who '
             '| WHERE who != "system" AND (n > 3 OR c > 1)')
    assert p.expr == All((Exists("user", non_null=True), Not(Cmp("user", "eq", ("system",), cased=False))))


def test_date_trunc_buckets_are_aligned_windows():
    p = plan("| EVAL b = DATE_TRUNC(15 minutes, @timestamp) | STATS n = COUNT(*), u = COUNT_DISTINCT(user) BY b "
             "| EVAL per = n * 1.0 / u | WHERE per <= 5.0", lookback=3600)
    assert (p.grouping.window, p.grouping.aligned, p.grouping.group_by) == (900, True, ())
    longer = plan("| STATS n = COUNT(*), u = COUNT_DISTINCT(user) BY DATE_TRUNC(1 hour, @timestamp) "
                  "| WHERE n > 5 OR u > 5", lookback=600)
    assert (longer.grouping.window, longer.grouping.aligned) == (600, False)


def test_row_conditions_on_ecs_constant_fields_hold_on_native_events():
    q = query('| STATS ok = SUM(CASE(data_stream.dataset == "okta.system" AND outcome == "SUCCESS", 1, 0)), '
              'n = COUNT(*) BY user | WHERE ok > 0 AND n > 1')
    rows = q.aggregates[0].rows
    success = Cmp("outcome", "eq", ("SUCCESS",), cased=True)
    dataset = Exists("data_stream.dataset", non_null=True)
    # Carried (an ECS document): tested as written; absent (a native Okta event): it is okta.system.
    assert rows == Any((All((Cmp("data_stream.dataset", "eq", ("okta.system",), cased=True), success)),
                        All((Not(dataset), success))))


def test_an_aggregate_only_shown_does_not_stop_the_rule():
    q = query('| STATS v = VALUES(ip), x = MEDIAN(bytes), n = COUNT(*), c = COUNT_DISTINCT(ip) BY user '
              '| EVAL s = CONCAT(user, "!") | WHERE n > 3 OR c > 1')
    assert [name for name, _ in q.shown] == ["n", "c"]

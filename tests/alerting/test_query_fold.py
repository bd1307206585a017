"""A query's generated ``fold`` (and ``apply`` of what ``prepare`` took from the fields) keeps
exactly the aggregates ``_Acc.add`` keeps, folding each match's values one aggregate at a time:
row conditions shared by several aggregates or remembered per value (texts, flags, nulls — and
1 beside True), MIN/MAX of event times (floats, integers, NaN, none) and of fields (numbers,
text, flags), with and without sub-groups."""

from __future__ import annotations

import json
import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tokentrail.alerting.aggregates import QueryProgram, _Acc, _number, _text
from tokentrail.rules.aggregates import TIME, Aggregate, AggregateQuery, Compare, Num, Ref, read_label
from tokentrail.rules.ir import All, Cmp, Exists, Not

IS_FAIL = Cmp("kind", "eq", ("fail",), cased=True)
FLAGGED = Cmp("flag", "eq", (True,))
QUERY = AggregateQuery(
    aggregates=(Aggregate("count", rows=IS_FAIL), Aggregate("min", (TIME,), rows=All((Exists("kind", non_null=True),
                                                                                      Not(IS_FAIL)))),
                Aggregate("max", (TIME,), rows=IS_FAIL), Aggregate("min", (TIME,)), Aggregate("max", (TIME,)),
                Aggregate("count", rows=FLAGGED), Aggregate("max", ("n",), rows=FLAGGED), Aggregate("min", ("n",)),
                Aggregate("sum", ("n",), rows=Not(FLAGGED)), Aggregate("distinct", ("kind", "flag")),
                Aggregate("avg", ("n",))),
    condition=Compare(">=", Ref(0), Num(1)),
    shown=(("fails", Ref(0)),),
)
BY_KIND = AggregateQuery(  # a second STATS: the aggregates fold per sub-group (kind)
    inner=(Aggregate("count"), Aggregate("count", rows=FLAGGED), Aggregate("min", (TIME,), rows=FLAGGED),
           Aggregate("max", ("n",)), Aggregate("avg", ("n",), rows=FLAGGED)),
    sub_keys=("kind",),
    aggregates=(Aggregate("count"),),
    condition=Compare(">=", Ref(0), Num(2)),
    shown=(("kinds", Ref(0)),),
)

values = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(["fail", "ok", "1", "x"]),
                   st.floats(-2, 2, allow_nan=False))
times = st.one_of(st.none(), st.floats(0, 100), st.integers(0, 100), st.just(math.nan))
rows = st.lists(st.tuples(times, st.fixed_dictionaries({}, optional={"kind": values, "flag": values, "n": values})),
                max_size=30)


def _by_steps(program: QueryProgram, matches: list) -> list:
    """The aggregates (of each sub-group, with sub-keys) as folded one step at a time through
    ``_Acc.add``, as ``QueryState.data`` shows them."""
    whole: list = []
    subgroups: dict[tuple, list] = {}
    for time, fields in matches:
        row = {slot: fields.get(label) for slot, label in program.reads}
        fresh = [_Acc(seen=set() if a.kind == "distinct" else None) for a in program.level]
        if program.sub_slots:
            accs = subgroups.setdefault(tuple(_text(row[slot]) for slot in program.sub_slots), fresh)
        else:
            accs = whole = whole or fresh
        for acc, (kind, test, read) in zip(accs, program.steps, strict=True):
            if test is not None and not test(row):
                continue
            if kind == "count":
                acc.add("count", None)
            elif kind == "distinct":
                found = [row[slot] for slot in read]
                if None not in found:
                    acc.add("distinct", tuple(_text(v) for v in found))
            else:
                acc.add(kind, _number(kind, time if read is None else row[read]))
    if not program.sub_slots and not whole:
        whole = [_Acc(seen=set() if a.kind == "distinct" else None) for a in program.level]
    return [[a.data() for a in whole], [[list(k), [a.data() for a in accs]] for k, accs in subgroups.items()]]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([QUERY, BY_KIND]), rows)
@example(QUERY, [(1.0, {"flag": 1, "n": 2}), (2.0, {"flag": True, "n": 1})])  # 1 and True: each tested
@example(QUERY, [(5.0, {}), (math.nan, {}), (3.0, {}), (7, {})])  # NaN and an integer among float times
@example(BY_KIND, [(1.0, {"kind": "ok", "flag": True}), (math.nan, {"kind": "ok", "flag": True})])
def test_fold_keeps_what_the_aggregates_keep_step_by_step(query, matches):
    program = QueryProgram(query)
    labelled = [(t, {read_label(k): v for k, v in f.items()}) for t, f in matches]
    state = program.new_state()
    for time, fields in labelled:
        state.add(time, fields)
    expected = _by_steps(QueryProgram(query), labelled)
    assert repr(state.data()) == repr(expected)  # repr: NaN is not equal to itself
    prepared = program.new_state()  # fold in two steps, as add_many takes them
    for time, fields in labelled:
        program.apply(prepared, time, program.prepare(fields))
    assert repr(prepared.data()) == repr(expected)
    assert repr(_values(program, state)) == repr(_values_by_steps(program, expected))


def _values(program: QueryProgram, state) -> list:
    """Each aggregate's value as the state reads it, of the group (or of each sub-group)."""
    return [program.values_of(state.accs) if state.accs else [],
            [program.values_of(accs) for accs in state.subgroups.values()]]


def _values_by_steps(program: QueryProgram, data: list) -> list:
    """Each aggregate's value as ``_Acc.value`` reads it from ``data``."""
    whole, subgroups = data

    def read(accs: list) -> list:
        return [_Acc.of(acc).value(kind) for kind, acc in zip(program.kinds, accs, strict=True)]
    return [read(whole) if whole else [], [read(accs) for _, accs in subgroups]]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([QUERY, BY_KIND]), rows, st.integers(0, 30))
@example(QUERY, [(1.0, {"kind": "fail", "n": 2}), (2.0, {"kind": "ok", "n": "x"})], 1)
def test_a_state_restored_from_its_data_folds_on_as_if_never_stopped(query, matches, cut):
    program = QueryProgram(query)
    labelled = [(t, {read_label(k): v for k, v in f.items()}) for t, f in matches]
    whole, first = program.new_state(), program.new_state()
    for time, fields in labelled:
        whole.add(time, fields)
    for time, fields in labelled[:cut]:
        first.add(time, fields)
    restarted = program.new_state()
    restarted.restore(json_round_trip(first.data()))
    for time, fields in labelled[cut:]:
        restarted.add(time, fields)
    assert repr(restarted.data()) == repr(whole.data())
    assert repr(restarted.values()) == repr(whole.values())


def json_round_trip(data: list) -> list:
    """``data`` written as JSON and read back (tuples become lists; NaN kept, as Python's json does)."""
    return json.loads(json.dumps(data))

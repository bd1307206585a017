"""A query's condition and shown values compiled once (``compile_condition``/``compile_value``)
give what walking the tree at each close gives (``truth``/``evaluate`` below, the definition the
compiled forms replaced) over every tree: ES|QL's three-valued logic, null arithmetic, text
MIN/MAX compared as numbers, integer division and DATE_DIFF; and a second STATS's aggregates
over sub-groups compiled into one function give what folding each over the sub-groups gives."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tokentrail.alerting.aggregates import (
    QueryProgram,
    _Acc,
    _arith,
    _combine,
    _compare,
    _date_diff,
    _number,
    compile_condition,
    compile_value,
)
from tokentrail.rules.aggregates import (
    Aggregate,
    AggregateQuery,
    Arith,
    Both,
    Compare,
    DateDiff,
    IsNull,
    Negate,
    Num,
    Ref,
    read_label,
)


def evaluate(value, env):
    """A value over the aggregates ``env``, the tree walked at each call."""
    if isinstance(value, Ref):
        return env[value.index]
    if isinstance(value, Num):
        return value.value
    if isinstance(value, DateDiff):
        return _date_diff(evaluate(value.start, env), evaluate(value.end, env), value.unit)
    return _arith(value.op, evaluate(value.left, env), evaluate(value.right, env))


def truth(cond, env):
    """Three-valued truth of ``cond`` over ``env``, the tree walked at each call."""
    if isinstance(cond, Compare):
        return _compare(cond.op, evaluate(cond.left, env), evaluate(cond.right, env))
    if isinstance(cond, IsNull):
        return evaluate(cond.value, env) is None
    if isinstance(cond, Negate):
        inner = truth(cond.item, env)
        return None if inner is None else not inner
    return _combine(cond.op, [truth(item, env) for item in cond.items])

WIDTH = 3  # aggregates in the environment

leaves = st.one_of(st.builds(Ref, st.integers(0, WIDTH - 1)),
                   st.builds(Num, st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False))))
values = st.recursive(leaves, lambda inner: st.one_of(
    st.builds(Arith, st.sampled_from(["+", "-", "*", "/", "%"]), inner, inner),
    st.builds(DateDiff, st.sampled_from([1, 60]), inner, inner)), max_leaves=6)
comparisons = st.one_of(st.builds(Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), values, values),
                        st.builds(IsNull, values))
conditions = st.recursive(comparisons, lambda inner: st.one_of(
    st.builds(Negate, inner), st.builds(Both, st.sampled_from(["and", "or"]), st.lists(inner, min_size=1, max_size=3)
                                        .map(tuple))), max_leaves=6)
aggregate_values = st.one_of(st.none(), st.integers(-3, 3), st.floats(-3, 3, allow_nan=False),
                             st.sampled_from(["2", "alice", "-1.5"]))
envs = st.lists(aggregate_values, min_size=WIDTH, max_size=WIDTH)


def _outcome(function, *args):
    """What a call returns, or the type of what it raises (both forms must raise alike)."""
    try:
        return repr(function(*args))
    except (ArithmeticError, ValueError) as error:
        return type(error).__name__


@settings(max_examples=400, deadline=None)
@given(conditions, envs)
@example(Both("or", (Compare(">", Ref(0), Num(1)), Compare("<", Ref(1), Num(1)))), [None, 5, 0])
@example(Compare(">", Ref(0), Num(3)), ["10", None, None])
def test_a_compiled_condition_is_its_truth(cond, env):
    assert _outcome(compile_condition(cond), env) == _outcome(truth, cond, env)


@settings(max_examples=400, deadline=None)
@given(values, envs)
@example(Arith("/", Num(-7), Num(2)), [None, None, None])
@example(DateDiff(60, Ref(0), Ref(1)), [0.0, math.inf, None])
def test_a_compiled_value_is_its_evaluation(value, env):
    assert _outcome(compile_value(value), env) == _outcome(evaluate, value, env)


def over_subgroups(query, subgroups):
    """A second STATS's aggregates (``query.aggregates``) over sub-groups (sub-key -> each
    inner aggregate's value), each folded over them in turn, the trees walked for each."""
    inner = list(subgroups.items())
    out = []
    for a in query.aggregates:
        if a.kind == "count":
            out.append(len(inner) if a.when is None else sum(1 for _, env in inner if truth(a.when, env) is True))
        elif a.kind == "distinct":
            out.append(len({tuple(key[query.sub_keys.index(f)] for f in a.fields) for key, _ in inner}))
        else:
            acc = _Acc()
            for _, env in inner:
                acc.add(a.kind, _number(a.kind, evaluate(a.of, env)))
            out.append(acc.value(a.kind))
    return out


# Three inner aggregates per sub-group (a sub-group's env: a count, a sum, a MIN that may be text).
INNER = (Aggregate("count"), Aggregate("sum", ("n",)), Aggregate("min", ("n",)))
outer_aggregates = st.lists(st.one_of(
    st.builds(Aggregate, st.just("count"), when=st.one_of(st.none(), conditions)),
    st.builds(Aggregate, st.just("distinct"), st.sampled_from([("kind",), ("flag",), ("kind", "flag")])),
    st.builds(Aggregate, st.sampled_from(["sum", "avg", "min", "max"]), of=values)), min_size=1, max_size=4)
sub_rows = st.lists(st.fixed_dictionaries({"kind": st.sampled_from(["a", "b", "c"]), "flag": st.booleans()},
                                          optional={"n": st.one_of(st.none(), st.integers(-3, 3),
                                                                   st.floats(-3, 3, allow_nan=False),
                                                                   st.sampled_from(["2", "x"]))}), max_size=12)


@settings(max_examples=300, deadline=None)
@given(outer_aggregates, sub_rows)
@example([Aggregate("avg", of=Ref(1)), Aggregate("min", of=Ref(2))],
         [{"kind": "a", "flag": True, "n": "x"}, {"kind": "b", "flag": False, "n": 2}])
@example([Aggregate("sum", of=Ref(2))], [{"kind": "a", "flag": False, "n": "2"}])  # a sum over a MIN of text
@example([Aggregate("avg", of=Ref(2)), Aggregate("max", of=Ref(2))],
         [{"kind": "a", "flag": False, "n": "x"}, {"kind": "b", "flag": True, "n": 1}])
def test_aggregates_over_subgroups_compiled_are_their_fold(aggregates, rows):
    query = AggregateQuery(aggregates=tuple(aggregates), condition=Compare(">=", Ref(0), Num(1)),
                           sub_keys=("kind", "flag"), inner=INNER)
    program = QueryProgram(query)
    state = program.new_state()
    for n, row in enumerate(rows):
        state.add(float(n), {read_label(k): v for k, v in row.items()})
    envs = {key: program.values_of(accs) for key, accs in state.subgroups.items()}
    assert _outcome(state.values) == _outcome(over_subgroups, query, envs)


@settings(max_examples=300, deadline=None)
@given(st.lists(outer_aggregates, min_size=WIDTH, max_size=WIDTH).map(lambda lists: [a[0] for a in lists]),
       conditions, sub_rows, st.booleans())
@example([Aggregate("min", of=Ref(2)), Aggregate("count"), Aggregate("max", of=Arith("%", Ref(1), Num(2)))],
         Compare(">=", Ref(1), Num(1)), [{"kind": "a", "flag": True, "n": math.inf}], True)
@example([Aggregate("distinct", ("kind",)), Aggregate("count"), Aggregate("min", of=Ref(2))],
         Compare(">=", Ref(1), Num(2)), [{"kind": "a", "flag": True}, {"kind": "b", "flag": True}], True)
def test_holds_is_the_condition_of_the_values(aggregates, cond, rows, sub):
    """``holds`` (one generated function: over sub-groups only what the condition reads of what
    cannot raise) is the condition over every aggregate's value being true, raised errors alike."""
    if sub:
        query = AggregateQuery(aggregates=tuple(aggregates), condition=cond, sub_keys=("kind", "flag"), inner=INNER)
    else:
        query = AggregateQuery(aggregates=INNER, condition=cond)
    program = QueryProgram(query)
    state = program.new_state()
    for n, row in enumerate(rows):
        state.add(float(n), {read_label(k): v for k, v in row.items()})
    if sub:
        envs = {key: program.values_of(accs) for key, accs in state.subgroups.items()}
        expected = _outcome(lambda: truth(cond, over_subgroups(query, envs)) is True)
    else:
        expected = _outcome(lambda: truth(cond, program.values_of(state.accs)) is True)
    assert _outcome(state.holds) == expected

"""compile_batch is an optimisation of compile_expr: on any expressions and events they agree."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tokentrail.compile.batch import compile_batch
from tokentrail.compile.python import compile_expr
from tokentrail.rules.ir import All, Any, Cmp, Exists, Not

# "b" and "b.c", "x.y.z" and "x.w": fields sharing a path prefix share its reads.
FIELDS = ["a", "b", "b.c", "t.type", "x.y.z", "x.w", "ip"]
WORDS = ["Token", "token", "user", "10.1.2.3", "2001:db8::9", "/api/v1/x", "", "TRUE", "5"]

scalars = st.one_of(st.sampled_from(WORDS), st.integers(-3, 7), st.booleans(), st.none())
# 1 and True (0 and False) are equal in Python but not in the IR.
leaf_values = st.lists(st.sampled_from(["token", "TOKEN", "user", "/api", "5", "true", "tok", True, False, 1, 0]),
                       min_size=1, max_size=3).map(tuple)


@st.composite
def cmps(draw):
    field = draw(st.sampled_from(FIELDS))
    op = draw(st.sampled_from(["eq", "contains", "startswith", "endswith", "regex", "glob", "cidr"]))
    if op == "cidr":
        values = tuple(draw(st.lists(st.sampled_from(["10.0.0.0/8", "2001:db8::/32", "192.168.0.0/16"]),
                                     min_size=1, max_size=2)))
    elif op == "regex":
        values = (draw(st.sampled_from(["^tok", "(?i)USER", "api/v1", "^$"])),)
    elif op == "glob":
        values = (draw(st.sampled_from(["tok*", "*ER", "?ser", "/api/*"])),)
    else:
        values = draw(leaf_values)
    return Cmp(field, op, values, cased=draw(st.booleans()))


exprs = st.recursive(
    st.one_of(cmps(), st.sampled_from(FIELDS).map(Exists)),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: All(tuple(xs))),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: Any(tuple(xs))),
        inner.map(Not),
    ),
    max_leaves=6,
)

values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["type", "c", "y", "z", "w", "y.z"]), inner, max_size=3),
    ),
    max_leaves=5,
)
# Nested objects, arrays, nulls, booleans, and literal dotted keys at every level.
events = st.dictionaries(st.sampled_from(["a", "b", "t", "x", "ip", "b.c", "x.y", "t.type", "x.y.z"]), values,
                         max_size=5)


@settings(max_examples=400, deadline=None)
@given(st.lists(exprs, min_size=1, max_size=4), st.lists(events, min_size=1, max_size=4))
def test_batch_agrees_with_single_compilation(expr_list, event_list):
    batch = compile_batch(expr_list)
    singles = [compile_expr(e) for e in expr_list]
    for event in event_list:
        expected = [i for i, f in enumerate(singles) if f(event)]
        assert (batch(event) or []) == expected, batch.source

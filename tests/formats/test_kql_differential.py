"""Differential test: compiled IR from ``kql_to_ir`` agrees with a naive evaluator written here
directly over the KQL parse tree, on random queries and random events."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lark import Tree

from tokentrail.compile.python import compile_expr
from tokentrail.engine import StreamingEngine
from tokentrail.engine.plan import UNKNOWN
from tokentrail.formats.elastic.kql import kql_to_ir, parse_kql
from tokentrail.rules.model import Rule

KEYWORD_FIELDS = ("a", "b", "c.d")
TEXT_FIELD = "message"
FIELDS = (*KEYWORD_FIELDS, TEXT_FIELD)
WORDS = ("x", "X", "y", "xy", "x_1", "12", "7", "true")
PATTERNS = ("x*", "*y", "x*y", "*", "1*")

# -- the naive reference: written from the KQL semantics, not from the lowering -------------------


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _values(event: dict, field: str) -> list:
    node = event
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return []
        node = node[part]
    return list(node) if isinstance(node, list) else [node]


def _all_values(obj) -> list:
    if isinstance(obj, dict):
        return [v for x in obj.values() for v in _all_values(x)]
    if isinstance(obj, list):
        return [v for x in obj for v in _all_values(x)]
    return [obj]


def _unescape(raw: str) -> list[tuple[str, bool]]:
    out, i = [], 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            out.append((raw[i + 1], True))
            i += 2
        else:
            out.append((raw[i], False))
            i += 1
    return out


def _value_pieces(node: Tree) -> list[tuple[str, bool]]:
    if node.data == "phrase":
        return [(c, True) for c, _ in _unescape(str(node.children[0])[1:-1])]
    pieces: list[tuple[str, bool]] = []
    for n, token in enumerate(node.children):
        if n:
            pieces.append((" ", False))
        pieces.extend(_unescape(str(token)))
    return pieces


def _pattern(pieces) -> re.Pattern:
    return re.compile("".join(".*" if c == "*" and not esc else re.escape(c) for c, esc in pieces), re.S)


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9_]+", text.lower())


def _keyword_match(pieces, value) -> bool:
    text = _text(value)
    return text is not None and _pattern(pieces).fullmatch(text) is not None


def _text_match(pieces, value, phrase: bool) -> bool:
    text = _text(value)
    if text is None:
        return False
    have = _words(text)
    if phrase:
        want = _words("".join(c for c, _ in pieces))
        return bool(want) and any(have[i:i + len(want)] == want for i in range(len(have)))
    raw_words = re.findall(r"(?:[A-Za-z0-9_]|\*)+", "".join(c if (c != "*" or not e) else " " for c, e in pieces))
    return any(re.fullmatch(w.lower().replace("*", "[a-z0-9_]*"), h) for w in raw_words for h in have)


def _eval_value(node: Tree, field: str, event: dict) -> bool:
    kind = node.data
    if kind == "value_or":
        return any(_eval_value(c, field, event) for c in node.children)
    if kind == "value_and":
        return all(_eval_value(c, field, event) for c in node.children)
    if kind == "value_negation":
        return not _eval_value(node.children[0], field, event)
    pieces = _value_pieces(node)
    values = _values(event, field)
    if kind == "terms" and pieces == [("*", False)]:
        return any(v is not None for v in values)
    if field == TEXT_FIELD:
        return any(_text_match(pieces, v, kind == "phrase") for v in values)
    return any(_keyword_match(pieces, v) for v in values)


def _as_number(x):
    if isinstance(x, bool):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _eval(node: Tree, event: dict) -> bool:
    kind = node.data
    if kind == "start":
        return True if not node.children else _eval(node.children[0], event)
    if kind == "or_query":
        return any(_eval(c, event) for c in node.children)
    if kind == "and_query":
        return all(_eval(c, event) for c in node.children)
    if kind == "negation":
        return not _eval(node.children[0], event)
    if kind == "match":
        return _eval_value(node.children[1], str(node.children[0].children[0]), event)
    if kind == "range":
        field, op, bound = str(node.children[0].children[0]), str(node.children[1]), node.children[2]
        limit = float(str(bound.children[0]))
        checks = {"<": limit.__gt__, "<=": limit.__ge__, ">": limit.__lt__, ">=": limit.__le__}
        return any(n is not None and checks[op](n) for n in map(_as_number, _values(event, field)))
    if kind == "free_text":
        pieces = _value_pieces(node.children[0])
        if pieces == [("*", False)]:
            return True  # a lone ``*`` matches every document
        return any(_keyword_match(pieces, v) for v in _all_values(event) if v is not None)
    raise AssertionError(f"reference evaluator does not know {kind}")


# -- random queries and events --------------------------------------------------------------------


def _value_text():
    word = st.sampled_from(WORDS + PATTERNS)
    unquoted = st.lists(word, min_size=1, max_size=2).map(" ".join)
    quoted = st.lists(st.sampled_from(WORDS), min_size=1, max_size=2).map(lambda ws: '"' + " ".join(ws) + '"')
    return st.one_of(unquoted, quoted)


def _value_expr():
    return st.recursive(
        _value_text(),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda v: f"(not {v})"),
        ),
        max_leaves=3,
    )


def _atom():
    field = st.sampled_from(FIELDS)
    match = st.tuples(field, _value_expr()).map(lambda t: f"{t[0]}:{t[1]}")
    ranged = st.tuples(st.sampled_from(KEYWORD_FIELDS), st.sampled_from(["<", "<=", ">", ">="]),
                       st.sampled_from(["0", "7", "12", "1.5"])).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    free = st.sampled_from(WORDS + PATTERNS)
    return st.one_of(match, match, ranged, free)


queries = st.recursive(
    _atom(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["and", "or", "AND", "Or"]), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        inner.map(lambda q: f"not {q}"),
        inner.map(lambda q: f"({q})"),
    ),
    max_leaves=5,
)

scalars = st.one_of(st.sampled_from(WORDS), st.sampled_from(["x y", "X-y", "xy 12", "y x"]),
                    st.integers(-2, 15), st.booleans(), st.none())
leaf = st.one_of(scalars, st.lists(scalars, max_size=3))
events = st.fixed_dictionaries({}, optional={
    "a": leaf, "b": leaf, "c": st.fixed_dictionaries({}, optional={"d": leaf}), "message": leaf,
})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries, st.lists(events, min_size=1, max_size=4))
# Issue 8, item 10: a field exists when it has at least one non-null value, as in Elasticsearch.
@example("a:*", [{"a": ["x", None]}])
@example("not c.d:*", [{"c": {"d": [None, "x"]}}, {"c": {"d": [None]}}])
def test_lowered_ir_agrees_with_naive_evaluator(query, sample_events):
    tree = parse_kql(query)
    expr = kql_to_ir(query)
    predicate = compile_expr(expr)
    # The streaming engine (anchor index + batch-compiled buckets) must agree as well.
    matched: list = []
    engine = StreamingEngine([Rule(id="q", title="q", format="elastic", logic=expr, log_types=(UNKNOWN,))],
                             on_match=matched.append)
    for event in sample_events:
        expected = _eval(tree, event)
        assert predicate(event) == expected, (query, event)
        matched.clear()
        engine.process(event)
        assert bool(matched) == expected, (query, event)

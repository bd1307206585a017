"""Rendering rules for people: conditions, stages and indicators."""

from tokentrail.rules.describe import Indicator, indicators, logic_stages, render
from tokentrail.rules.ir import All, Any, Cmp, Exists, Not
from tokentrail.rules.model import Correlation, CorrelationStep, Rule

EXPR = All((
    Cmp("eventType", "eq", ("system.api_token.create",)),
    Any((Cmp("actor.alternateId", "endswith", ("@x.io", "@y.io")), Exists("debugContext"))),
    Not(Cmp("outcome.result", "eq", ("FAILURE",), cased=True)),
))


def test_render_reads_like_a_condition():
    assert render(EXPR) == (
        "eventType: system.api_token.create and (actor.alternateId|endswith: [@x.io, @y.io] or "
        "debugContext|exists) and not outcome.result|cased: FAILURE")


def test_indicators_mark_negation():
    assert indicators(EXPR) == [
        Indicator("eventType", "eq", ("system.api_token.create",)),
        Indicator("actor.alternateId", "endswith", ("@x.io", "@y.io")),
        Indicator("debugContext", "exists", ()),
        Indicator("outcome.result", "eq", ("FAILURE",), negated=True),
    ]


def test_correlation_stages():
    corr = Correlation("event_count", (CorrelationStep("fail", rule_ref="refresh_fail", by=("user",)),),
                       timespan=600, condition=("gte", 5))
    rule = Rule(id="c", title="c", format="sigma", logic=corr)
    assert logic_stages(rule) == [("correlation", "event_count gte 5 within 600s"),
                                  ("fail", "rule refresh_fail by user")]

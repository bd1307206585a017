"""Every bundled rule to every SQL dialect: a query each dialect's parser reads, or a reason."""

from __future__ import annotations

import pytest
import sqlglot

from tokentrail import api
from tokentrail.compile.dialects import DIALECTS
from tokentrail.content import RULES_DIR
from tokentrail.convert.sql import SqlSchema, to_sql
from tokentrail.rules.ir import Cmp, Keywords
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import Correlation, CorrelationStep, PythonLogic, Rule

PACK = api.load_rules([RULES_DIR], context=LoadContext(allow_python=True)).rules


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_bundled_rule_converts_or_says_why(dialect):
    statuses = set()
    for rule in PACK:
        conv = to_sql(rule, dialect, others=PACK)
        statuses.add(conv.status)
        assert conv.target == f"sql:{dialect}" and conv.rule_id == rule.id
        if conv.status == "not_convertible":
            assert conv.query == "" and conv.caveats, rule.id
            if isinstance(rule.logic, PythonLogic):
                assert conv.caveats == ("Python logic cannot be converted",)
        else:
            # sqlglot's own reader of the dialect takes the text back.
            assert sqlglot.parse_one(conv.query, read="databricks" if dialect == "databricks" else dialect)
    assert {"exact", "not_convertible"} <= statuses


def test_reasons_for_what_sql_cannot_say():
    keywords = Rule(id="k", title="k", format="sigma", logic=Keywords(("token",)), log_types=("okta",))
    assert "keyword" in to_sql(keywords, "duckdb").caveats[0]
    seq = Rule(id="s", title="s", format="elastic", log_types=("okta",), logic=Correlation(
        "sequence", (CorrelationStep("a", expr=Cmp("eventType", "eq", ("x",))),
                     CorrelationStep("b", expr=Cmp("eventType", "eq", ("y",)))), timespan=60))
    assert to_sql(seq, "spark").status == "not_convertible"
    ref = Rule(id="c", title="c", format="sigma", log_types=("okta",), logic=Correlation(
        "event_count", (CorrelationStep("a", rule_ref="missing"),), timespan=60, condition=("gte", 3)))
    assert "'missing'" in to_sql(ref, "trino").caveats[0]
    with pytest.raises(ValueError, match="unknown SQL dialect"):
        to_sql(keywords, "oracle")


def test_correlation_counts_become_group_by_having():
    base = Rule(id="b", title="b", format="sigma", log_types=("okta",),
                logic=Cmp("eventType", "eq", ("user.session.start",)))
    corr = Rule(id="c", title="c", format="sigma", log_types=("okta",), logic=Correlation(
        "value_count", (CorrelationStep("b", rule_ref="b", by=("actor.alternateId",)),), timespan=300,
        condition=("gte", 3), value_field="client.ipAddress"))
    conv = to_sql(corr, "duckdb", SqlSchema(table="okta_logs"), others=[base])
    assert conv.status == "caveats"  # fixed time buckets
    assert "GROUP BY" in conv.query and 'COUNT(DISTINCT client."ipAddress") >= 3' in conv.query
    assert "FROM okta_logs" in conv.query

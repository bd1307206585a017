"""Fuzz targets, one per rule front-end (issue 14, item 11): random Sigma documents, KQL and EQL
queries and Panther YAML files must load or fail with TokenTrail's own errors only — never with
another exception, and never with a front-end error that stands for one (``... loader failed:``,
``... cannot run:``). Each runs a bounded number of examples so the suite stays fast; crashes
found are fixed and kept as explicit ``@example``s."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tokentrail.compile.batch import compile_batch
from tokentrail.compile.python import compile_expr
from tokentrail.engine.plan import build_plan
from tokentrail.errors import TokenTrailError
from tokentrail.formats.elastic.eql import eql_to_logic
from tokentrail.formats.elastic.kql import kql_to_ir
from tokentrail.rules.loader import LoadContext, LoadResult, RuleFormat, load_rules
from tokentrail.rules.model import Correlation, PythonLogic

# A longer hunt: TOKENTRAIL_FUZZ_EXAMPLES=20000 pytest tests/fuzz
FUZZ = settings(max_examples=int(os.environ.get("TOKENTRAIL_FUZZ_EXAMPLES", "200")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Messages the loaders and the plan give when they caught an exception that is not ours.
CRASH_MARKS = ("loader failed:", "cannot run:", "cross-file step failed:", "cannot be resolved:")

# -- shared helpers --------------------------------------------------------------------------------


def assert_no_crash(errors) -> None:
    for error in errors:
        assert isinstance(error, TokenTrailError), repr(error)
        assert not any(mark in str(error) for mark in CRASH_MARKS), str(error)


def load_text(name: str, text: str, formats: list[RuleFormat] | None = None) -> LoadResult:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_text(text, encoding="utf-8")
        result = load_rules([path], formats=formats)
        assert isinstance(result, LoadResult)
        assert_no_crash(result.errors)
        assert_no_crash(build_plan(result.rules).errors)
        return result


def assert_compiles(logic) -> None:
    exprs = [s.expr for s in logic.steps if s.expr is not None] if isinstance(logic, Correlation) else [logic]
    for expr in exprs:
        try:
            compile_expr(expr)({"a": "x", "b": ["1", None], "c": {"d": 2}})
            compile_batch([expr])({"a": "x"})
        except TokenTrailError:
            pass  # e.g. a regex neither engine runs: reported, which is fine


# -- values the generators draw from ---------------------------------------------------------------

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["*", "?", "\\", "%x%", "(?=a)a+", "[", "{x}"]))
yaml_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner,
                                                 max_size=4)), max_leaves=12)

# -- Sigma ------------------------------------------------------------------------------------------

MODIFIERS = ["contains", "startswith", "endswith", "all", "re", "i", "m", "s", "cidr", "base64",
             "base64offset", "windash", "exists", "cased", "gt", "lte", "neq", "fieldref", "expand",
             "utf16le", "wide", "minute", "bogus"]
field_keys = st.builds(lambda f, mods: "|".join([f, *mods]),
                       st.sampled_from(["eventType", "actor.id", "a.b{}.c", "", "x" * 3]),
                       st.lists(st.sampled_from(MODIFIERS), max_size=3))
selections = st.one_of(
    st.dictionaries(field_keys, yaml_values, max_size=3),
    st.lists(st.dictionaries(field_keys, yaml_values, max_size=2), max_size=2),
    st.lists(scalars, max_size=3), scalars)
condition_words = st.sampled_from(["sel", "other", "and", "or", "not", "(", ")", "1 of", "all of", "them",
                                   "sel*", "|", "count()", ">", "5", "near"])
conditions = st.one_of(st.lists(condition_words, min_size=1, max_size=8).map(" ".join),
                       st.lists(st.just("sel"), max_size=2), scalars)
detections = st.builds(lambda sel, other, cond: {"sel": sel, "other": other, "condition": cond},
                       selections, selections, conditions)
logsources = st.one_of(st.fixed_dictionaries({}, optional={"product": st.sampled_from(["okta", "auth0", 1]),
                                                            "service": scalars}), scalars)
correlations = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["event_count", "value_count", "temporal", "temporal_ordered", "bogus"]),
    "rules": st.one_of(st.just(["r1"]), st.just("r1"), yaml_values),
    "group-by": st.one_of(st.just(["actor.id"]), yaml_values),
    "timespan": st.one_of(st.sampled_from(["5m", "1h", "0s", "x"]), scalars),
    "condition": st.one_of(st.just({"gte": 2}), st.just({"field": "a", "gt": 1}), yaml_values),
    "aliases": yaml_values,
})
sigma_docs = st.one_of(
    st.fixed_dictionaries({"title": st.one_of(st.text(max_size=8), scalars), "id": st.just("r1"),
                           "logsource": logsources, "detection": st.one_of(detections, yaml_values)},
                          optional={"level": scalars, "tags": yaml_values, "tests": yaml_values,
                                    "fields": yaml_values, "related": yaml_values}),
    st.fixed_dictionaries({"title": st.just("c"), "correlation": st.one_of(correlations, yaml_values)}),
    st.fixed_dictionaries({"title": st.just("f"), "logsource": logsources,
                           "filter": st.fixed_dictionaries({"rules": yaml_values, "sel": selections,
                                                            "condition": conditions})}),
    st.fixed_dictionaries({"action": st.sampled_from(["global", "reset", "repeat", "x"])},
                          optional={"detection": detections}),
)


def sigma_text(docs: list) -> str:
    return "\n---\n".join(yaml.safe_dump(d, allow_unicode=True) for d in docs) + "\n"


@FUZZ
@given(st.lists(sigma_docs, min_size=1, max_size=3))
@example([{"title": "c", "correlation": {"type": "event_count", "rules": [12], "timespan": "5m",
                                         "condition": {"gte": 2}}}])
@example([{"title": "t", "id": "r1", "logsource": {"product": "okta"},
           "detection": {"sel": {"eventType": {"x": None}}, "other": None, "condition": "sel"}}])
def test_sigma_documents(docs):
    result = load_text("rule.yml", sigma_text(docs))
    for rule in result.rules:
        if rule.logic is not None and not isinstance(rule.logic, PythonLogic):
            assert_compiles(rule.logic)


@FUZZ
@given(st.text(alphabet="title:logsource{}[]&*!|-?,>#'\" \n\tdetection:condition:selaor1", max_size=160))
@example("detection: &a [*a]\ntitle: x\n")
def test_sigma_raw_text(text):
    load_text("raw.yml", "title: t\nlogsource: {product: okta}\n" + text)


# -- KQL and EQL ------------------------------------------------------------------------------------

KQL_TOKENS = ["a", "b.c", "message", ":", "*", "x*", '"x y"', "(", ")", "and", "or", "not", "<", ">=",
              "5", "1.5", "\\", "{", "}", " ", "@", "y?", "true", "'"]
EQL_TOKENS = ["any", "where", "sequence", "by", "with", "maxspan=5m", "[", "]", "a", "b.c", "==", "!=",
              ":", "~", "like", "regex", "in", "(", ")", ",", '"x"', '"(?=a)a+"', "1", "null", "and",
              "or", "not", "true", "startsWith(", "length(", "cidrMatch(", "until", "runs=2", "?", "|",
              "*", "`a b`", "add(", "concat(", "-"]


def token_text(tokens: list[str]):
    return st.lists(st.sampled_from(tokens), max_size=14).map(" ".join)


@FUZZ
@given(st.one_of(token_text(KQL_TOKENS), st.text(max_size=40)))
@example("(" * 500 + "a:1" + ")" * 500)
@example("not " * 300 + "a:1")
def test_kql_queries(query):
    try:
        expr = kql_to_ir(query)
    except TokenTrailError:
        return
    assert_compiles(expr)


@FUZZ
@given(st.one_of(token_text(EQL_TOKENS).map(lambda q: "any where " + q), token_text(EQL_TOKENS),
                 st.text(max_size=40)))
@example("any where " + "(" * 500 + "a == 1" + ")" * 500)
@example("any where " + "not " * 300 + "a == 1")
def test_eql_queries(query):
    try:
        logic = eql_to_logic(query)
    except TokenTrailError:
        return
    assert_compiles(logic)


# -- Panther ----------------------------------------------------------------------------------------

PANTHER_KEYS = ["RuleID", "DisplayName", "Enabled", "Filename", "LogTypes", "Severity", "Tests",
                "DedupPeriodMinutes", "Threshold", "Detection", "Description", "Tags", "Reports",
                "SummaryAttributes", "InlineFilters", "OutputIds", "Reference", "Runbook",
                "ScheduledQueries", "DataModelID", "Mappings", "Status", "AlertTitle", "GlobalID"]
panther_values = st.one_of(
    yaml_values, st.sampled_from(["rule.py", "Okta.SystemLog", "High", "x.py"]),
    st.lists(st.sampled_from(["Okta.SystemLog", "Auth0.Events", "GitHub.Audit", 3]), max_size=2),
    st.lists(st.fixed_dictionaries({}, optional={
        "Name": scalars, "ExpectedResult": scalars, "Log": yaml_values, "Mocks": yaml_values}), max_size=2),
    st.lists(st.fixed_dictionaries({}, optional={"KeyPath": scalars, "Condition": st.sampled_from(
        ["Equals", "Contains", "IsNull", "bogus"]), "Value": scalars, "Key": scalars}), max_size=2))
panther_docs = st.builds(
    lambda kind, rest: {"AnalysisType": kind, **rest},
    st.sampled_from(["rule", "scheduled_rule", "correlation_rule", "datamodel", "global", "policy",
                     "pack", "bogus", 5]),
    st.dictionaries(st.sampled_from(PANTHER_KEYS), panther_values, max_size=8))

RULE_PY = "def rule(event):\n    return event.get('eventType') == 'x'\n"


@FUZZ
@given(panther_docs)
@example({"AnalysisType": "rule", "RuleID": "r", "Filename": "rule.py", "Detection": [{"x": 1}]})
def test_panther_yaml(doc):
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "rule.py").write_text(RULE_PY)
        path = Path(folder) / "item.yml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        result = load_rules([path], context=LoadContext())
        assert_no_crash(result.errors)
        assert_no_crash(build_plan(result.rules).errors)


# -- Elastic (Kibana NDJSON export) -----------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
kibana_rules = st.fixed_dictionaries(
    {"rule_id": st.just("k1"), "name": st.one_of(st.just("k"), json_values)},
    optional={
        "type": st.one_of(st.sampled_from(["query", "eql", "threshold", "new_terms", "esql", "machine_learning",
                                           "bogus"]), json_values),
        "language": st.one_of(st.sampled_from(["kuery", "eql", "lucene", "esql"]), json_values),
        "query": st.one_of(token_text(KQL_TOKENS), token_text(EQL_TOKENS).map(lambda q: "any where " + q),
                           json_values),
        "index": st.one_of(st.just(["logs-okta*"]), json_values),
        "threshold": st.one_of(st.just({"field": ["user.name"], "value": 5}), json_values),
        "new_terms_fields": json_values, "history_window_start": json_values,
        "severity": json_values, "risk_score": json_values, "threat": json_values, "tags": json_values,
        "from": st.one_of(st.sampled_from(["now-6m", "now-1h", "x"]), json_values), "interval": json_values,
        "alert_suppression": json_values, "enabled": json_values, "filters": json_values,
    })


@FUZZ
@given(st.lists(kibana_rules, min_size=1, max_size=2))
def test_elastic_ndjson(rules):
    import json

    load_text("export.ndjson", "".join(json.dumps(r) + "\n" for r in rules))

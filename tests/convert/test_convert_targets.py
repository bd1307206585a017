"""What each target writes, and what it reports it cannot write."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest

from tokentrail import convert, load_rules
from tokentrail.convert import Conversion, portability
from tokentrail.convert.registry import LIFTED_CAVEAT
from tokentrail.errors import ConfigError
from tokentrail.rules.ir import All, Any, Cmp, Exists, FieldRef, Keywords, Not
from tokentrail.rules.model import Grouping, LogSource, PythonLogic, Rule

PACK = load_rules().rules


def _pack_rule(file: str, kind: str) -> Rule:
    return next(r for r in PACK if r.path.endswith(file) and type(r.logic).__name__ == kind)


def okta(expr, **kw) -> Rule:
    return Rule(id="t-okta", title="t", format="sigma", logic=expr, logsource=LogSource(product="okta"), **kw)


def test_event_count_correlation_becomes_stats_where_and_is_reported_where_unsupported():
    rule = _pack_rule("auth0_refresh_failure_burst.yml", "Correlation")
    splunk = convert(rule, "splunk", rules=PACK)
    assert splunk.status == "caveats" and "fixed time buckets" in splunk.caveats[-1]
    assert 'data.type="fertft"' in splunk.query
    assert "| stats count as event_count by _time data.client_id data.ip" in splunk.query
    assert "event_count >= 10" in splunk.query and "span=5m" in splunk.query
    esql = convert(rule, "esql", rules=PACK)
    assert "stats event_count=count() by timebucket, auth0.logs.data.client_id, source.ip" in esql.query
    assert "| where event_count >= 10" in esql.query
    # The Kusto backend has no correlations: TokenTrail writes the summarize itself.
    kusto = convert(rule, "kusto", rules=PACK)
    assert kusto.query.splitlines()[-2:] == [
        "| summarize event_count = count() by bin(TimeGenerated, 5m), data_client_id_s, data_ip_s",
        "| where event_count >= 10"]
    assert kusto.query.startswith('Auth0AM_CL\n| where data_type_s =~ "fertft"')
    lucene = convert(rule, "lucene", rules=PACK)
    assert lucene.status == "not_convertible" and "event_count correlation" in lucene.caveats[0]
    alone = convert(rule, "splunk")  # without the rule it names
    assert alone.status == "not_convertible" and "auth0_failed_refresh_exchange" in alone.caveats[0]


def test_eql_sequence_becomes_an_eql_sequence_and_is_reported_elsewhere():
    rule = _pack_rule("okta_proxy_session_then_api_token.toml", "Correlation")
    eql = convert(rule, "eql")
    assert eql.status == "exact", eql.caveats
    lines = [line.strip() for line in eql.query.splitlines()]
    assert lines[0] == "sequence by okta.actor.id with maxspan=30m"
    assert [line.startswith("[any where") for line in lines[1:]] == [True, True]
    assert "user.session.start" in lines[1] and "system.api_token.create" in lines[2]
    assert "runs" not in eql.query  # the backend's own ordered-sequence query appends 'by  with runs=2'
    sigma = convert(rule, "sigma")
    assert "type: temporal_ordered" in sigma.query and sigma.query.count("detection:") == 2
    for target in ("splunk", "esql", "kusto"):
        c = convert(rule, target)
        assert c.status == "not_convertible" and "temporal_ordered" in c.caveats[0]


def test_elastic_threshold_with_cardinality_keeps_the_distinct_count_and_says_what_is_dropped():
    rule = _pack_rule("okta_oauth_token_grants_many_ips.toml", "All")
    c = convert(rule, "splunk")
    assert "| stats dc(client.ipAddress) as value_count by _time actor.id" in c.query
    assert "value_count >= 4" in c.query
    assert any("at least 10 events is dropped" in x for x in c.caveats)
    kusto = convert(rule, "kusto")
    assert "| summarize value_count = dcount(client_ipAddress_s) by bin(TimeGenerated, 1h), actor_id_s" in kusto.query
    assert any("dcount() estimates" in x for x in kusto.caveats)


def test_cased_match_is_a_caveat_where_the_target_has_no_case_sensitive_search():
    rule = okta(All((Cmp("eventType", "eq", ("user.session.start",)),
                     Cmp("outcome.result", "eq", ("SUCCESS",), cased=True))))
    splunk = convert(rule, "splunk")
    assert splunk.status == "caveats"
    assert splunk.caveats == ("outcome.result: the case-sensitive match becomes case-insensitive (the target "
                              "has no case-sensitive string match)",)
    eql = convert(rule, "eql")
    assert eql.status == "exact" and 'okta.outcome.result == "SUCCESS"' in eql.query
    assert 'event.action:"user.session.start"' in eql.query


def test_kusto_writes_globs_as_anchored_regexes_on_the_sentinel_table_columns():
    rule = okta(Cmp("actor.alternateId", "glob", ("adm?n*@example.com",)))
    c = convert(rule, "kusto")
    assert c.status == "exact", c.caveats
    assert c.query.startswith("Okta_CL\n| where ")
    assert 'actor_alternateId_s matches regex "(?i)^adm(?s:.)n(?s:.*)@example\\\\.com$"' in c.query


def test_splunk_writes_okta_target_fields_in_array_notation():
    c = convert(okta(Cmp("target.alternateId", "eq", ("svc-app",))), "splunk")
    assert c.query == '"target{}.alternateId"="svc-app"'
    kusto = convert(okta(Cmp("target.alternateId", "eq", ("svc-app",))), "kusto")
    assert kusto.status == "not_convertible" and "target_s" in kusto.caveats[0]


def test_schema_overrides_the_targets_field_names():
    rule = okta(Cmp("eventType", "eq", ("system.api_token.create",)))
    assert convert(rule, "splunk", schema="ecs").query.endswith('event.action="system.api_token.create"')
    assert "eventType:system.api_token.create" in convert(rule, "lucene", schema="native").query
    sigma_ecs = convert(rule, "sigma", schema="ecs").query
    assert "event.action: system.api_token.create" in sigma_ecs


@pytest.mark.parametrize(("target", "expr", "reason"), [
    ("lucene", FieldRef("actor.id", "target.id"), "compare two fields"),
    ("esql", Keywords(("evil",)), "full-text"),
    ("kusto", Keywords(("evil",)), "full-text"),
    ("okta", Not(Cmp("eventType", "eq", ("x",))), "no negation"),
    ("okta", Cmp("eventType", "regex", ("x",)), "'regex'"),
    ("auth0", Cmp("data.ip", "cidr", ("10.0.0.0/8",)), "'cidr'"),
])
def test_what_a_target_cannot_say_is_reported(target, expr, reason):
    rule = okta(expr) if target != "auth0" else Rule(id="a", title="a", format="sigma", logic=expr,
                                                     logsource=LogSource(product="auth0"))
    c = convert(rule, target)
    assert c.status == "not_convertible" and reason in c.caveats[0], c.caveats


def test_okta_filter_and_auth0_search():
    rule = okta(All((Cmp("eventType", "eq", ("a", "b")), Cmp("actor.alternateId", "startswith", ("adm",)),
                     Any((Cmp("displayMessage", "contains", ('say "hi"',)), Exists("client.ipAddress"))))))
    assert convert(rule, "okta").query == ('(eventType eq "a" or eventType eq "b") and actor.alternateId sw "adm" '
                                           'and (displayMessage co "say \\"hi\\"" or client.ipAddress pr)')
    auth0 = Rule(id="a", title="a", format="sigma", logsource=LogSource(product="auth0"),
                 logic=All((Cmp("data.type", "eq", ("s",)), Not(Exists("data.user_id")),
                            Cmp("data.details.count", "ge", (3,)))))
    assert convert(auth0, "auth0").query == 'type: "s" AND NOT _exists_:user_id AND details.count:[3 TO *]'


def test_python_rules_sql_and_unknown_targets():
    rule = Rule(id="py", title="py", format="panther", logic=PythonLogic("x.py", load=lambda: None))
    c = convert(rule, "splunk")
    assert (c.status, c.caveats) == ("not_convertible", ("Python logic cannot be converted",))
    stopped = replace(rule, logic=PythonLogic("x.py", load=lambda: None, not_lifted="a for loop (line 3)"))
    assert convert(stopped, "esql").caveats == ("Python logic cannot be converted: a for loop (line 3)",)
    lifted = replace(rule, log_types=("okta",), logic=PythonLogic(
        "x.py", load=lambda: None, lifted=Cmp("eventType", "eq", ("user.session.start",), cased=True)))
    for target in ("splunk", "sql:duckdb"):
        c = convert(lifted, target)
        assert c.status == "caveats" and c.caveats[0] == LIFTED_CAVEAT and "user.session.start" in c.query, c
    sql = convert(okta(Cmp("eventType", "eq", ("x",))), "sql:duckdb")
    if importlib.util.find_spec("tokentrail.convert.sql") is None:
        assert (sql.status, sql.caveats) == ("not_convertible", ("SQL targets not installed",))
    else:
        assert sql.target == "sql:duckdb" and sql.caveats != ("SQL targets not installed",)
    with pytest.raises(ConfigError, match="unknown conversion target"):
        convert(rule, "qradar")
    with pytest.raises(ConfigError, match="unknown schema"):
        convert(rule, "splunk", schema="ocsf")


def test_new_terms_is_a_caveat_not_a_silent_loss():
    rule = okta(Cmp("eventType", "eq", ("x",)), grouping=Grouping(new_terms=("client.ipAddress",)))
    c = convert(rule, "sigma")
    assert c.status == "caveats" and "new_terms on client.ipAddress" in c.caveats[0]


def test_portability_is_the_mean_score_over_targets_that_apply():
    def conv(target, status, caveats=()):
        return Conversion("r", target, "" if status == "not_convertible" else "q", status, caveats)

    mixed = [conv("sigma", "exact"), conv("splunk", "caveats", ("a", "b")), conv("kusto", "not_convertible", ("no",)),
             conv("sql:duckdb", "not_convertible", ("SQL targets not installed",)),
             conv("okta", "not_convertible", ("not applicable: for auth0 logs",))]
    assert portability(mixed) == 60  # (1 + 0.8 + 0) / 3
    assert portability([conv("splunk", "caveats", tuple("abcdefgh"))]) == 50  # never below a half
    assert portability([conv("okta", "not_convertible", ("not applicable: x",))]) is None


@pytest.mark.parametrize(("file", "kind", "expected"), [
    ("okta_proxy_session_then_api_token.toml", "Correlation", ("temporal_ordered", 1800.0, None)),
    ("okta_oauth_token_grants_many_ips.toml", "All", ("value_count", 3600.0, ("gte", 4.0))),
    ("auth0_refresh_failure_burst.yml", "Correlation", ("event_count", 300.0, ("gte", 10.0))),
])
def test_correlations_written_as_sigma_load_back_as_correlations(tmp_path, file, kind, expected):
    from tokentrail.rules.model import Correlation

    rule = _pack_rule(file, kind)
    c = convert(rule, "sigma", rules=PACK)
    assert c.status != "not_convertible", c.caveats
    path = tmp_path / "back.yml"
    path.write_text(c.query, encoding="utf-8")
    loaded = load_rules([path])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    (corr,) = [r for r in loaded.rules if isinstance(r.logic, Correlation)]
    logic = corr.logic
    assert (logic.kind, logic.timespan, logic.condition if expected[2] else None) == expected
    events = [r for r in loaded.rules if not isinstance(r.logic, Correlation)]
    assert len(events) == len(logic.steps) and all(s.by for s in logic.steps)


def test_a_plain_threshold_becomes_an_event_count_per_group():
    rule = okta(Cmp("eventType", "eq", ("user.authentication.auth_via_mfa",)),
                grouping=Grouping(group_by=("actor.id",), window=600.0, threshold=5))
    splunk = convert(rule, "splunk")
    assert "| bin _time span=10m" in splunk.query
    assert "| stats count as event_count by _time actor.id" in splunk.query
    assert "event_count >= 5" in splunk.query
    sigma = convert(rule, "sigma").query
    assert "type: event_count" in sigma and "gte: 5" in sigma and "timespan: 10m" in sigma


def test_convert_is_the_packages_function_and_its_modules_stay_importable():
    import tokentrail
    from tokentrail.convert import registry

    rule = okta(Cmp("eventType", "eq", ("system.api_token.create",)))
    assert callable(tokentrail.convert)
    assert tokentrail.convert(rule, "splunk") == registry.convert(rule, "splunk")


def test_kusto_compares_booleans_with_double_equals_and_splunk_keywords_are_terms():
    rule = okta(All((Cmp("securityContext.isProxy", "eq", (True,)), Keywords(("evil",), cased=True))))
    kusto = convert(okta(Cmp("securityContext.isProxy", "eq", (True,))), "kusto")
    assert kusto.query == "Okta_CL\n| where securityContext_isProxy_b == true"  # the backend writes =~ true
    splunk = convert(rule, "splunk")
    assert splunk.query == 'securityContext.isProxy=true "evil"'
    assert len(splunk.caveats) == 2 and "whole terms" in splunk.caveats[0] and "case-sensitive" in splunk.caveats[1]


@pytest.mark.parametrize(("product", "field", "splunk", "ecs"), [
    ("okta", "eventtype", "eventType", "event.action"),                      # SigmaHQ's lower case
    ("okta", "target.alternateid", '"target{}.alternateId"', "okta.target.alternate_id"),
    ("auth0", "type", "data.type", "auth0.logs.data.type"),                  # without the envelope
    ("auth0", "details.accessedSecrets{}", '"data.details.accessedSecrets{}"',
     "auth0.logs.data.details.accessedSecrets"),
])
def test_fields_are_spelled_as_the_log_type_spells_them(product, field, splunk, ecs):
    rule = Rule(id="f", title="f", format="sigma", logic=Cmp(field, "eq", ("v",)),
                logsource=LogSource(product=product))
    assert convert(rule, "splunk").query == f'{splunk}="v"'
    assert convert(rule, "lucene").query.endswith(f"{ecs}:v")

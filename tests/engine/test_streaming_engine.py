"""The streaming engine end to end on in-memory events: routing, anchors, alerting, errors."""

import time

from tokentrail.engine import StreamingEngine, scan_events
from tokentrail.engine.plan import build_plan
from tokentrail.rules.ir import All, Any, Cmp, Const
from tokentrail.rules.model import (
    Correlation,
    CorrelationStep,
    Grouping,
    LogSource,
    OutputField,
    PythonLogic,
    Rule,
)

OKTA = LogSource(product="okta")


def okta(i, event_type="user.session.start", user="alice@example.com", ip="198.51.100.7", t=0):
    return {
        "uuid": f"okta-{i}",
        "published": f"2024-05-01T10:{t // 60:02d}:{t % 60:02d}.000Z",
        "eventType": event_type,
        "actor": {"id": "00u1", "type": "User", "alternateId": user},
        "client": {"ipAddress": ip},
        "outcome": {"result": "SUCCESS"},
        "target": [{"type": "Token", "displayName": "ci"}],
    }


def auth0(i, typ="mgmt_api_read"):
    return {"log_id": f"a0-{i}", "data": {"date": "2024-05-01T10:00:00.000Z", "type": typ,
                                           "description": "Get client by ID", "client_id": "c1"}}


def rule(rid, expr, **kw):
    kw.setdefault("logsource", OKTA)
    return Rule(id=rid, title=rid, format="sigma", logic=expr, **kw)


TOKEN_CREATE = Cmp("eventType", "eq", ("system.api_token.create",))


def test_rules_are_routed_by_logsource_and_indexed_by_anchor():
    rules = [rule("okta-create", TOKEN_CREATE),
             rule("auth0-read", Cmp("data.type", "eq", ("mgmt_api_read",)), logsource=LogSource(product="auth0"))]
    plan = build_plan(rules)
    okta_index = plan.indexes["okta"]
    assert okta_index.candidates(okta(1, "user.session.start")) == []
    assert [u.rule.id for u in okta_index.candidates(okta(1, "SYSTEM.API_TOKEN.CREATE"))] == ["okta-create"]
    result = scan_events(rules, [okta(1), okta(2, "system.api_token.create"), auth0(3), auth0(4, "s")])
    assert sorted((a.rule_id, a.event_ids) for a in result.alerts) == [
        ("auth0-read", ("a0-3",)), ("okta-create", ("okta-2",))]


def test_auth0_management_api_records_run_rules_written_for_log_stream_fields():
    r = rule("read", Cmp("data.type", "eq", ("mgmt_api_read",)), logsource=LogSource(product="auth0"))
    api_record = {"log_id": "x1", "date": "2024-05-01T10:00:00Z", "type": "mgmt_api_read",
                  "description": "Get client by ID", "client_id": "c1", "ip": "1.2.3.4"}
    assert [a.event_ids for a in scan_events([r], [api_record]).alerts] == [("x1",)]


def test_unanchored_rules_see_every_event_of_their_log_type():
    r = rule("ip", Cmp("client.ipAddress", "cidr", ("198.51.100.0/24",)))
    assert len(scan_events([r], [okta(i) for i in range(5)]).alerts) == 5


def test_any_of_anchors_on_the_shared_field():
    expr = Any((TOKEN_CREATE, Cmp("eventType", "eq", ("system.api_token.revoke",))))
    plan = build_plan([rule("either", expr)])
    assert set(plan.indexes["okta"].anchored["eventType"]) == {"system.api_token.create", "system.api_token.revoke"}


def test_group_by_window_threshold_and_output_fields():
    r = rule("burst", Cmp("eventType", "eq", ("user.session.start",)),
             grouping=Grouping(group_by=("actor.alternateId",), window=300, threshold=3),
             output_fields=(OutputField("IP", "client.ipAddress"),))
    events = [okta(i, t=i * 10) for i in range(4)] + [okta(9, user="bob@example.com", t=5)]
    result = scan_events([r], events)
    assert [(a.group_key, a.count, a.fields) for a in result.alerts] == [
        (("alice@example.com",), 4, {"IP": "198.51.100.7"})]
    again = scan_events([r], events)
    assert [a.id for a in again.alerts] == [a.id for a in result.alerts]


def test_correlation_over_a_referenced_rule_suppresses_the_base_alerts():
    base = rule("fail", Cmp("eventType", "eq", ("app.oauth2.as.token.grant.refresh_token",)), name="refresh_fail")
    corr = Rule(id="burst", title="burst", format="sigma", logsource=OKTA, logic=Correlation(
        "event_count", (CorrelationStep("refresh_fail", rule_ref="refresh_fail", by=("actor.alternateId",)),),
        timespan=600, condition=("gte", 3)))
    events = [okta(i, "app.oauth2.as.token.grant.refresh_token", t=i) for i in range(3)]
    result = scan_events([base, corr], events)
    assert [a.rule_id for a in result.alerts] == ["burst"]
    assert result.alerts[0].group_key == ("alice@example.com",)
    assert len(result.matches) == 3


def test_sequence_with_inline_steps_by_user():
    steps = (CorrelationStep("create", expr=TOKEN_CREATE, by=("actor.alternateId",)),
             CorrelationStep("use", expr=Cmp("eventType", "eq", ("user.session.start",)), by=("actor.alternateId",)))
    corr = rule("seq", Correlation("sequence", steps, timespan=60))
    events = [okta(1, "user.session.start", t=0), okta(2, "system.api_token.create", t=1),
              okta(3, "user.session.start", user="bob@example.com", t=2), okta(4, "user.session.start", t=3)]
    alerts = scan_events([corr], events).alerts
    assert [a.event_ids for a in alerts] == [("okta-2", "okta-4")]


class _Raises:
    def matches(self, event):
        if event["uuid"] == "okta-1":
            raise KeyError("boom")
        return True

    def describe(self, event):
        return {"title": f"seen {event['uuid']}", "dedup": event["actor"]["alternateId"], "severity": "high"}


class _Slow:
    calls = 0

    def matches(self, event):
        _Slow.calls += 1
        time.sleep(0.05)
        return True

    def describe(self, event):
        return {}


def test_python_rule_errors_are_recorded_and_the_scan_goes_on():
    r = Rule(id="py", title="py", format="panther", logic=PythonLogic("x.py", load=_Raises),
             grouping=Grouping(window=3600))
    result = scan_events([r], [okta(1), okta(2), okta(3)])
    assert [(e.rule_id, e.event_id) for e in result.rule_errors] == [("py", "okta-1")]
    assert "KeyError" in result.rule_errors[0].summary
    assert [(a.title, a.severity, a.count) for a in result.alerts] == [("seen okta-2", "high", 2)]


def test_python_rule_over_its_time_limit_is_disabled():
    r = Rule(id="slow", title="slow", format="panther", logic=PythonLogic("s.py", load=_Slow))
    engine = StreamingEngine([r], python_time_limit=0.01)
    engine.run([okta(i) for i in range(5)])
    assert _Slow.calls == 1
    assert engine.rule_errors[0].disabled and "limit" in engine.rule_errors[0].summary


def test_a_rule_that_cannot_compile_is_reported_and_others_run():
    bad = rule("bad", Cmp("eventType", "regex", (r"(unclosed",)))
    good = rule("good", TOKEN_CREATE)
    result = scan_events([bad, good], [okta(1, "system.api_token.create")])
    assert [a.rule_id for a in result.alerts] == ["good"]
    assert "regex" in str(result.load_errors[0])


def test_rules_without_a_product_see_unrecognised_events():
    r = Rule(id="any", title="any", format="sigma", logic=All((Cmp("action", "eq", ("x",)), Const(True))))
    assert len(scan_events([r], [{"action": "x"}]).alerts) == 1


def test_sigmahq_lower_case_okta_names_resolve_when_rules_compile():
    r = rule("lower", All((Cmp("eventtype", "eq", ("system.api_token.create",)),
                           Cmp("actor.alternateid", "endswith", ("@example.com",)))))
    assert [a.event_ids for a in scan_events([r], [okta(1), okta(2, "system.api_token.create")]).alerts] == [
        ("okta-2",)]


def test_okta_events_are_read_with_exact_key_names():
    from tokentrail import schemas

    okta_type = schemas.get_log_type("okta")
    assert okta_type.case_insensitive_fields and not okta_type.case_insensitive_events
    r = rule("unknown-path", Cmp("debugContext.debugData.newThing", "eq", ("x",)))
    event = okta(1)
    event["debugContext"] = {"debugData": {"NEWTHING": "x"}}
    assert scan_events([r], [event]).alerts == []
    event["debugContext"] = {"debugData": {"newThing": "x"}}
    assert len(scan_events([r], [event]).alerts) == 1


def test_a_broken_correlation_neither_runs_nor_silences_its_base_rule():
    base = rule("fail", Cmp("eventType", "eq", ("user.session.start",)), name="base")
    corr = Rule(id="broken", title="broken", format="sigma", logsource=OKTA, logic=Correlation(
        "event_count", (CorrelationStep("a", rule_ref="base"), CorrelationStep("b", rule_ref="nope")),
        timespan=600, condition=("gte", 1)))
    result = scan_events([base, corr], [okta(1), okta(2)])
    assert "unknown rule 'nope'" in str(result.load_errors[0])
    assert sorted(a.rule_id for a in result.alerts) == ["fail", "fail"]

"""The field check: fields a rule reads that its log types do not have, with the nearest name."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tokentrail import load_rules
from tokentrail.engine.plan import log_types_of
from tokentrail.errors import ConfigError
from tokentrail.rules.ir import Cmp
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import Correlation, CorrelationStep, Rule
from tokentrail.schemas import registry
from tokentrail.schemas.fieldcheck import UnknownField, check_rule, check_rules, rule_fields
from tokentrail.schemas.fieldlists import FIELDS_DIR, field_lists, load_field_lists


def _sigma(product: str, detection: str, *, extra: str = "", service: str = "") -> str:
    service_line = f"\n  service: {service}" if service else ""
    return (f"title: t\nid: 11111111-2222-4333-8444-555555555555\nstatus: test\nlevel: low\n"
            f"logsource:\n  product: {product}{service_line}\n"
            f"detection:\n{textwrap.indent(textwrap.dedent(detection), '  ')}{extra}")


def _elastic(query: str, *, threshold_field: str = "okta.actor.id", index: str = '"logs-okta*"') -> str:
    return textwrap.dedent(f"""\
        [metadata]
        creation_date = "2025/01/20"
        maturity = "production"
        updated_date = "2025/01/20"

        [rule]
        author = ["test"]
        description = "d"
        index = [{index}]
        language = "kuery"
        license = "Apache-2.0"
        name = "n"
        risk_score = 21
        rule_id = "99999999-2222-4333-8444-555555555555"
        severity = "low"
        type = "threshold"
        version = 1
        query = '''
        {query}
        '''

        [rule.threshold]
        field = ["{threshold_field}"]
        value = 2
        """)


def _check(tmp_path: Path, text: str, name: str = "rule.yml") -> list[UnknownField]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    loaded = load_rules([path], context=LoadContext(allow_python=True))
    assert not loaded.errors, [str(e) for e in loaded.errors]
    assert loaded.runnable, "the test rule must load and be runnable"
    return check_rules(loaded.runnable, log_types_of)


def test_misspelt_okta_field_is_reported_with_the_nearest_name_file_and_line(tmp_path):
    found = _check(tmp_path, _sigma("okta", """\
        selection:
          eventTyp: system.api_token.create
          outcome.result: SUCCESS
        condition: selection
        """))
    assert len(found) == 1
    problem = found[0]
    assert (problem.field, problem.suggestion, problem.labels) == ("eventTyp", "eventType", ("Okta",))
    assert problem.rule_id == "11111111-2222-4333-8444-555555555555"
    assert problem.file == str(tmp_path / "rule.yml")
    assert problem.line == 9  # the line of the rule file that names the field
    assert str(problem).endswith("eventTyp: no such Okta field; did you mean eventType?")
    assert str(problem).startswith(f"{tmp_path / 'rule.yml'}:9: ")


def test_sigmahq_lower_case_spellings_and_array_markers_are_known(tmp_path):
    assert _check(tmp_path, _sigma("okta", """\
        selection:
          eventtype: user.session.start
          displaymessage|contains: token
          target{}.alternateId: admin
          securitycontext.isproxy: 'true'
        condition: selection
        """)) == []


def test_open_object_sub_fields_are_known(tmp_path):
    assert _check(tmp_path, _sigma("okta", """\
        selection:
          eventType: user.session.start
          debugContext.debugData.someKeyOktaAddsNextYear|contains: x
          actor.detailEntry.methodTypeUsed: Push
        condition: selection
        """), "okta.yml") == []
    assert _check(tmp_path, _sigma("auth0", """\
        selection:
          data.type: sapi
          data.details.request.body.allowlist|contains: '10.'
        condition: selection
        """), "auth0.yml") == []


def test_a_field_outside_an_open_object_is_reported_with_the_object_inserted(tmp_path):
    found = _check(tmp_path, _sigma("auth0", """\
        selection:
          data.type: sapi
          data.request.body.allowlist|contains: '10.'
        condition: selection
        """))
    assert [(f.field, f.suggestion, f.labels) for f in found] == [
        ("data.request.body.allowlist", "data.details.request.body.allowlist", ("Auth0",))]


def test_auth0_record_fields_without_the_envelope_are_known_and_misspellings_suggest(tmp_path):
    assert _check(tmp_path, _sigma("auth0", """\
        selection:
          type: seacft
          client_id: abc
          details.code: x
        condition: selection
        """), "bare.yml") == []
    found = _check(tmp_path, _sigma("auth0", """\
        selection:
          data.type: seacft
          data.client_idd: abc
        condition: selection
        """), "typo.yml")
    assert [(f.field, f.suggestion) for f in found] == [("data.client_idd", "data.client_id")]


def test_ecs_rule_on_ecs_and_integration_fields_is_clean_and_a_typo_is_reported(tmp_path):
    clean = _elastic("event.dataset:okta.system and event.action:user.session.start and "
                     "okta.outcome.result:SUCCESS and source.ip:* and user.name:* and related.ip:*")
    assert _check(tmp_path, clean, "clean.toml") == []
    typo = _elastic("event.dataset:okta.system and okta.actor.alternat_id:admin*",
                    threshold_field="okta.actor.idd")
    found = _check(tmp_path, typo, "typo.toml")
    assert [(f.field, f.suggestion, f.labels) for f in found] == [
        ("okta.actor.alternat_id", "okta.actor.alternate_id", ("Okta ECS",)),
        ("okta.actor.idd", "okta.actor.id", ("Okta ECS",)),  # the threshold's group-by field
    ]


def test_ecs_rule_on_a_generic_index_is_checked_only_where_its_dataset_can_be(tmp_path):
    other_vendor = _elastic("event.dataset:azure.activitylogs and azure.activitylogs.operation_name:x",
                            threshold_field="azure.tenant_id", index='"logs-*", "filebeat-*"')
    assert _check(tmp_path, other_vendor, "azure.toml") == []
    okta_only = _elastic("event.dataset:okta.system and okta.actr.id:x", index='"logs-*"')
    found = _check(tmp_path, okta_only, "okta.toml")
    assert [(f.field, f.suggestion, f.labels) for f in found] == [
        ("okta.actr.id", "okta.actor.id", ("Okta ECS",))]


def test_salesforce_columns_are_checked_per_required_event_type(tmp_path):
    pinned_login = _sigma("salesforce", """\
        selection:
          EVENT_TYPE: Login
          QUERY|contains: SELECT
        condition: selection
        """)
    found = _check(tmp_path, pinned_login, "login.yml")
    assert [(f.field, f.labels) for f in found] == [("QUERY", ("Salesforce",))]
    assert _check(tmp_path, pinned_login.replace("EVENT_TYPE: Login", "EVENT_TYPE: [API, RestApi]"),
                  "api.yml") == []
    # Not pinned to event types: any event type's columns are fields.
    assert _check(tmp_path, pinned_login.replace("EVENT_TYPE: Login", "EVENT_TYPE|contains: o"),
                  "any.yml") == []


def test_rtem_object_fields_are_known_and_checked(tmp_path):
    ok = _sigma("salesforce", """\
        selection:
          attributes.type: SessionHijackingEvent
          CurrentIp|cidr: 10.0.0.0/8
          Score|gt: 0.5
        condition: selection
        """, service="rtem")
    assert _check(tmp_path, ok, "ok.yml") == []
    found = _check(tmp_path, ok.replace("CurrentIp", "CurentIp"), "typo.yml")
    assert [(f.field, f.suggestion) for f in found] == [("CurentIp", "CurrentIp")]


def test_grouping_and_output_fields_are_checked(tmp_path):
    text = _sigma("okta", """\
        selection:
          eventType: user.session.start
        condition: selection
        """, extra="fields:\n  - client.ipAdress\n  - actor.alternateId\n")
    found = _check(tmp_path, text)
    assert [(f.field, f.suggestion) for f in found] == [("client.ipAdress", "client.ipAddress")]


def test_panther_standard_fields_are_known_on_native_log_types(tmp_path):
    assert _check(tmp_path, _sigma("okta", """\
        selection:
          p_log_type: Okta.SystemLog
          p_any_ip_addresses: 203.0.113.7
        condition: selection
        """)) == []


def test_rules_for_no_known_log_type_are_not_checked(tmp_path):
    assert _check(tmp_path, _sigma("windows", """\
        selection:
          EventID: 4624
        condition: selection
        """)) == []


def test_rule_fields_lists_logic_grouping_and_output_fields_once(tmp_path):
    path = tmp_path / "r.yml"
    path.write_text(_sigma("okta", """\
        selection:
          eventType: a
          actor.id: b
        condition: selection
        """, extra="fields:\n  - actor.id\n  - client.ipAddress\n"))
    rule = load_rules([path]).runnable[0]
    assert rule_fields(rule) == ("actor.id", "eventType", "client.ipAddress")


def test_bundled_pack_has_no_unknown_fields():
    loaded = load_rules(None)
    assert loaded.runnable
    assert [str(u) for u in check_rules(loaded.runnable, log_types_of)] == []


def test_every_log_type_has_a_field_list_with_its_event_type_field():
    lists = field_lists()
    for lt in registry().log_types:
        known = lists[lt.name]
        assert known.knows(lt.anchor_field), (lt.name, lt.anchor_field)
        for time_field in lt.time_fields[:1]:
            assert known.knows(time_field), (lt.name, time_field)
    okta = lists["okta"]
    for top in ("uuid", "published", "eventType", "version", "severity", "legacyEventType",
                "displayMessage", "actor", "client", "device", "outcome", "target", "transaction",
                "debugContext", "authenticationContext", "securityContext", "request"):
        assert okta.knows(top), top
    assert lists["auth0.api"].knows("details.anything") and not lists["auth0.api"].knows("data.type")
    assert lists["ecs.okta"].knows("okta.debug_context.debug_data.anything")
    assert not lists["ecs.okta"].knows("okta.no_such_group")


def test_a_malformed_field_list_names_its_file(tmp_path):
    for name in ("panther.yml", "ecs.yml"):
        (tmp_path / name).write_text((FIELDS_DIR / name).read_text())
    (tmp_path / "okta.yml").write_text("open: debugContext.debugData\n")
    with pytest.raises(ConfigError) as err:
        load_field_lists(registry(), tmp_path)
    assert "okta.yml" in str(err.value) and "open must be a list" in str(err.value)


def test_a_log_type_without_a_schema_is_skipped_not_a_crash():
    rule = Rule(id="r1", title="t", format="panther", logic=Cmp("actor.login", "eq", ("x",)),
                log_types=("GitHub.Audit",))
    assert check_rule(rule, ("GitHub.Audit",)) == []
    both = Rule(id="r2", title="t", format="sigma", logic=Cmp("eventTyp", "eq", ("x",)),
                log_types=("GitHub.Audit", "okta"))
    assert [f.field for f in check_rule(both, ("GitHub.Audit", "okta"))] == ["eventTyp"]


def test_correlation_group_by_and_value_fields_are_checked():
    step = CorrelationStep(name="s", expr=Cmp("eventType", "eq", ("user.session.start",)),
                           by=("actor.alternateid",))
    rule = Rule(id="c1", title="t", format="sigma",
                logic=Correlation(kind="value_count", steps=(step,), value_field="client.ipAdres"),
                log_types=("okta",))
    assert [(f.field, f.suggestion) for f in check_rule(rule, ("okta",))] == [
        ("client.ipAdres", "client.ipAddress")]

"""Sigma correlation and filter documents, and the cross-file ``finalize`` step."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tokentrail.compile.python import compile_expr
from tokentrail.errors import RuleLoadError, UnsupportedFeature
from tokentrail.formats.sigma import SigmaFormat
from tokentrail.rules.ir import All, Cmp, Not
from tokentrail.rules.loader import LoadContext, LoadResult
from tokentrail.rules.model import Correlation, CorrelationStep, RuleTest


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load_all(*paths: Path):
    fmt = SigmaFormat()
    rules = [r for p in paths for r in fmt.load(p, LoadContext())]
    return fmt.finalize(rules)


BASE_RULES = """\
title: Failed login
id: 11111111-1111-4111-8111-111111111111
name: failed_login
logsource: {product: okta}
detection:
    sel: {eventType: user.session.start, outcome.result: FAILURE}
    condition: sel
---
title: Token created
id: 22222222-2222-4222-8222-222222222222
name: token_created
logsource: {product: okta}
detection:
    sel: {eventType: system.api_token.create}
    condition: sel
---
title: Auth0 secret read
name: secret_read
logsource: {product: auth0}
detection:
    sel: {data.type: mgmt_api_read}
    condition: sel
"""


def test_event_count(tmp_path):
    path = write(tmp_path, "c.yml", BASE_RULES + """\
---
title: Many failed logins
id: 33333333-3333-4333-8333-333333333333
level: high
correlation:
    type: event_count
    rules: failed_login
    group-by: [actor.alternateId]
    timespan: 10m
    condition: {gte: 10}
""")
    rules, errors = load_all(path)
    assert not errors
    corr = rules[-1]
    assert corr.severity == "high" and corr.id == "33333333-3333-4333-8333-333333333333"
    assert corr.logic == Correlation(
        kind="event_count",
        steps=(CorrelationStep(name="failed_login", rule_ref="failed_login", by=("actor.alternateId",)),),
        timespan=600.0, condition=("gte", 10.0), value_field=None, generate=False,
    )
    assert corr.metadata["correlation"]["type"] == "event_count"


def test_value_count_with_generate(tmp_path):
    path = write(tmp_path, "c.yml", BASE_RULES + """\
---
title: Password spray
correlation:
    type: value_count
    rules: [11111111-1111-4111-8111-111111111111]
    group-by: client.ipAddress
    timespan: 1h
    generate: true
    condition:
        gt: 20
        field: actor.alternateId
""")
    rules, errors = load_all(path)
    assert not errors
    logic = rules[-1].logic
    assert logic.kind == "value_count" and logic.value_field == "actor.alternateId"
    assert logic.condition == ("gt", 20.0) and logic.timespan == 3600.0 and logic.generate
    assert logic.steps[0].rule_ref == "11111111-1111-4111-8111-111111111111"
    assert logic.steps[0].by == ("client.ipAddress",)


@pytest.mark.parametrize("kind", ["temporal", "temporal_ordered"])
def test_temporal_with_aliases_resolved_per_step(tmp_path, kind):
    path = write(tmp_path, "c.yml", BASE_RULES + f"""\
---
title: Login then token then secret
correlation:
    type: {kind}
    rules: [failed_login, 22222222-2222-4222-8222-222222222222, secret_read]
    group-by: [user, ip]
    timespan: 2d
    aliases:
        user:
            failed_login: actor.alternateId
            token_created: actor.alternateId
            secret_read: data.user_name
        ip:
            failed_login: client.ipAddress
            22222222-2222-4222-8222-222222222222: client.ipAddress
            secret_read: data.ip
    condition: {{eq: 3}}
""")
    rules, errors = load_all(path)
    assert not errors
    logic = rules[-1].logic
    assert logic.kind == kind and logic.timespan == 2 * 86400.0 and logic.condition == ("eq", 3.0)
    assert [s.by for s in logic.steps] == [
        ("actor.alternateId", "client.ipAddress"),
        ("actor.alternateId", "client.ipAddress"),
        ("data.user_name", "data.ip"),
    ]


def test_temporal_default_condition(tmp_path):
    path = write(tmp_path, "c.yml", BASE_RULES + """\
---
title: both
correlation:
    type: temporal
    rules: [failed_login, token_created]
    group-by: [actor.id]
    timespan: 5m
""")
    rules, errors = load_all(path)
    assert not errors and rules[-1].logic.condition == ("gte", 2.0)


def test_chained_correlations_across_files(tmp_path):
    base = write(tmp_path, "base.yml", BASE_RULES)
    corr = write(tmp_path, "corr.yml", """\
title: many failures
name: many_failures
correlation:
    type: event_count
    rules: failed_login
    group-by: [user]
    aliases:
        user:
            failed_login: actor.alternateId
    timespan: 10m
    condition: {gte: 5}
---
title: failures then token
correlation:
    type: temporal_ordered
    rules: [many_failures, token_created]
    group-by: [user]
    aliases:
        user:
            many_failures: user
            22222222-2222-4222-8222-222222222222: actor.alternateId
    timespan: 1h
""")
    fmt = SigmaFormat()
    loaded = fmt.load(corr, LoadContext())
    # Loaded alone, the alias keyed by the id of a rule in another file is not resolved yet.
    assert loaded[1].logic.steps[1].by == ("user",)
    rules, errors = fmt.finalize(fmt.load(base, LoadContext()) + loaded)
    assert not errors
    first, second = rules[-2].logic, rules[-1].logic
    assert first.steps[0].by == ("actor.alternateId",)
    assert [s.rule_ref for s in second.steps] == ["many_failures", "token_created"]
    assert [s.by for s in second.steps] == [("user",), ("actor.alternateId",)]


@pytest.mark.parametrize(
    ("spec", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1w", 604800)]
)
def test_timespans(tmp_path, spec, seconds):
    path = write(tmp_path, "c.yml", BASE_RULES + f"""\
---
title: t
correlation: {{type: event_count, rules: failed_login, timespan: {spec}, condition: {{gte: 2}}}}
""")
    rules, _ = load_all(path)
    assert rules[-1].logic.timespan == seconds


def test_unresolved_reference_is_reported_and_dropped(tmp_path):
    path = write(tmp_path, "c.yml", BASE_RULES + """\
---
title: dangling
correlation:
    type: event_count
    rules: [no_such_rule]
    timespan: 1m
    condition: {gte: 2}
---
title: on top of dangling
name: top
correlation: {type: event_count, rules: dangling_ref, timespan: 1m, condition: {gte: 1}}
""")
    rules, errors = load_all(path)
    assert [r.title for r in rules] == ["Failed login", "Token created", "Auth0 secret read"]
    assert len(errors) == 2
    assert all(e.file == str(path) for e in errors)
    assert any("no_such_rule" in str(e) for e in errors)


def test_alias_without_field_for_step_is_an_error(tmp_path):
    path = write(tmp_path, "c.yml", BASE_RULES + """\
---
title: missing alias
correlation:
    type: temporal
    rules: [failed_login, token_created]
    group-by: [user]
    aliases:
        user:
            failed_login: actor.alternateId
    timespan: 1m
""")
    rules, errors = load_all(path)
    assert len(errors) == 1 and "user" in str(errors[0]) and "token_created" in str(errors[0])
    assert all(r.title != "missing alias" for r in rules)


def test_self_reference_is_an_error(tmp_path):
    path = write(tmp_path, "c.yml", """\
title: loop
name: loop
correlation: {type: event_count, rules: loop, timespan: 1m, condition: {gte: 1}}
""")
    rules, errors = load_all(path)
    assert not rules and len(errors) == 1


@pytest.mark.parametrize(
    ("correlation", "feature"),
    [
        ("{type: value_sum, rules: failed_login, timespan: 1m, condition: {gte: 1, field: n}}",
         "value_sum"),
        ("{type: temporal, rules: [failed_login, token_created], timespan: 1m, "
         "condition: 'failed_login and not token_created'}", "extended"),
    ],
)
def test_unsupported_correlations(tmp_path, correlation, feature):
    path = write(tmp_path, "c.yml", BASE_RULES + f"---\ntitle: x\ncorrelation: {correlation}\n")
    result = SigmaFormat().load(path, LoadContext())
    assert isinstance(result, LoadResult)
    assert [r.name for r in result.rules] == ["failed_login", "token_created", "secret_read"]
    (err,) = result.errors
    assert isinstance(err, UnsupportedFeature) and feature in str(err)
    assert err.file == str(path) and err.line == 25  # the correlation key


def test_bad_timespan_is_an_error(tmp_path):
    path = write(tmp_path, "c.yml", BASE_RULES + """\
---
title: x
correlation: {type: event_count, rules: failed_login, timespan: soon, condition: {gte: 1}}
""")
    result = SigmaFormat().load(path, LoadContext())
    assert isinstance(result, LoadResult) and len(result.rules) == 3
    (err,) = result.errors
    assert isinstance(err, RuleLoadError) and err.line is not None


# --- filters ------------------------------------------------------------------------------------

FILTER = """\
title: Ignore the automation account
id: f0000000-0000-4000-8000-000000000001
logsource: {{product: okta}}
filter:
    rules: {rules}
    svc:
        actor.alternateId|endswith: '@automation.corp'
    condition: not svc
"""


def test_filter_ands_into_referenced_rule_across_files(tmp_path):
    base = write(tmp_path, "base.yml", BASE_RULES)
    filt = write(tmp_path, "filter.yml", FILTER.format(rules="[failed_login]"))
    rules, errors = load_all(base, filt)
    assert not errors
    assert len(rules) == 3  # the filter itself is dropped
    failed = rules[0]
    assert failed.logic == All((
        Cmp("eventType", "eq", ("user.session.start",)),
        Cmp("outcome.result", "eq", ("FAILURE",)),
        Not(Cmp("actor.alternateId", "endswith", ("@automation.corp",))),
    ))
    assert failed.metadata["sigma_filters"] == ["f0000000-0000-4000-8000-000000000001"]
    m = compile_expr(failed.logic)
    event = {"eventType": "user.session.start", "outcome": {"result": "FAILURE"},
             "actor": {"alternateId": "alice@corp.com"}}
    assert m(event)
    assert not m({**event, "actor": {"alternateId": "bot@automation.corp"}})
    assert rules[1].logic == Cmp("eventType", "eq", ("system.api_token.create",))


def test_filter_by_id_and_any(tmp_path):
    base = write(tmp_path, "base.yml", BASE_RULES)
    by_id = write(tmp_path, "f1.yml", FILTER.format(rules="22222222-2222-4222-8222-222222222222"))
    rules, errors = load_all(base, by_id)
    assert not errors
    assert [r.metadata.get("sigma_filters") for r in rules] == [
        None, ["f0000000-0000-4000-8000-000000000001"], None]

    anyf = write(tmp_path, "f2.yml", FILTER.format(rules="any"))
    rules, errors = load_all(base, anyf)
    assert not errors
    # Both Okta rules are filtered; the Auth0 rule's log source does not match.
    assert [bool(r.metadata.get("sigma_filters")) for r in rules] == [True, True, False]
    assert all(isinstance(r.logic.items[-1], Not) for r in rules[:2])


def test_filter_errors(tmp_path):
    base = write(tmp_path, "base.yml", BASE_RULES)
    missing = write(tmp_path, "f1.yml", FILTER.format(rules="[nope]"))
    rules, errors = load_all(base, missing)
    assert len(errors) == 1 and "nope" in str(errors[0]) and errors[0].file == str(missing)
    assert len(rules) == 3

    wrong_source = write(tmp_path, "f2.yml", FILTER.format(rules="[secret_read]"))
    rules, errors = load_all(base, wrong_source)
    assert len(errors) == 1 and "log source" in str(errors[0])
    assert rules[2].logic == Cmp("data.type", "eq", ("mgmt_api_read",))


def test_filter_document_alone_is_not_runnable(tmp_path):
    filt = write(tmp_path, "filter.yml", FILTER.format(rules="[failed_login]"))
    (rule,) = SigmaFormat().load(filt, LoadContext())
    assert not rule.runnable
    assert rule.logic == Not(Cmp("actor.alternateId", "endswith", ("@automation.corp",)))


CORRELATION_WITH_TESTS = BASE_RULES + """\
---
title: Two failed logins
id: 33333333-3333-4333-8333-333333333333
correlation:
    type: event_count
    rules: failed_login
    group-by: [actor.alternateId]
    timespan: 10m
    condition: {gte: 2}
tests:
    - name: two failures
      expected: true
      events:
          - &fail {uuid: e1, published: "2025-01-01T00:00:00Z", eventType: user.session.start,
                   outcome: {result: FAILURE}, actor: {alternateId: a@x.io}}
          - {uuid: e2, published: "2025-01-01T00:01:00Z", eventType: user.session.start,
             outcome: {result: FAILURE}, actor: {alternateId: a@x.io}}
    - name: one failure
      expected: false
      event:
          events: [*fail]
    - name: one failure read twice
      expected: false
      event:
          events: [*fail, *fail]
"""


def test_correlation_tests_become_rule_tests(tmp_path):
    path = write(tmp_path, "c.yml", CORRELATION_WITH_TESTS)
    rules, errors = load_all(path)
    assert not errors
    corr = rules[-1]
    assert "tests" not in corr.metadata
    assert [(t.name, t.expected, len(t.event["events"])) for t in corr.tests] == [
        ("two failures", True, 2), ("one failure", False, 1), ("one failure read twice", False, 2)]
    assert corr.tests[0].event["events"][0]["actor"] == {"alternateId": "a@x.io"}


def test_correlation_tests_run_through_the_rule_set(tmp_path):
    from tokentrail.engine.testing import run_rule_tests

    rules, _ = load_all(write(tmp_path, "c.yml", CORRELATION_WITH_TESTS))
    results = run_rule_tests([rules[-1]], context_rules=rules)
    assert [(r.name, r.actual, r.passed) for r in results] == [
        ("two failures", True, True), ("one failure", False, True), ("one failure read twice", False, True)]


@pytest.mark.parametrize("tests", [
    "[{name: a, expected: true, events: {not: a list}}]",
    "[{name: a, expected: true, event: {uuid: e1}}]",
    "[{name: a, expected: true, events: [1, 2]}]",
    "[{name: a, expected: yes-ish, events: []}]",
    "{name: a}",
])
def test_malformed_correlation_tests_are_an_error_of_that_document(tmp_path, tests):
    path = write(tmp_path, "c.yml", BASE_RULES + f"""\
---
title: x
correlation: {{type: event_count, rules: failed_login, timespan: 1m, condition: {{gte: 2}}}}
tests: {tests}
""")
    result = SigmaFormat().load(path, LoadContext())
    assert isinstance(result, LoadResult) and len(result.rules) == 3
    (err,) = result.errors
    assert isinstance(err, RuleLoadError) and err.line == 26  # the tests key


def test_sidecar_tests_may_name_a_correlation(tmp_path):
    path = write(tmp_path, "c.yml", CORRELATION_WITH_TESTS.split("tests:\n")[0])
    write(tmp_path, "c.tests.yml", """\
- name: sidecar burst
  rule: 33333333-3333-4333-8333-333333333333
  expected: false
  events: [{eventType: user.session.start}]
""")
    rules = SigmaFormat().load(path, LoadContext())
    assert rules[-1].tests == (
        RuleTest("sidecar burst", False, {"events": [{"eventType": "user.session.start"}]}),)


def test_finalize_errors_carry_the_document_line(tmp_path):
    base = write(tmp_path, "base.yml", BASE_RULES)
    filt = write(tmp_path, "f.yml", "title: other\nlogsource: {product: okta}\n"
                 "detection: {sel: {a: 1}, condition: sel}\n---\n" + FILTER.format(rules="[nope]"))
    corr = write(tmp_path, "c.yml", BASE_RULES + """\
---
title: Dangling
correlation: {type: event_count, rules: not_loaded, timespan: 1m, condition: {gte: 2}}
""")
    _, errors = load_all(base, filt, corr)
    by_file = {e.file: e for e in errors}
    assert by_file[str(filt)].line == 5  # the filter document starts after the first one
    assert "not_loaded" in str(by_file[str(corr)]) and by_file[str(corr)].line == 24
    assert str(by_file[str(corr)]).startswith(f"{corr}:24: ")


def test_cyclic_correlation_error_carries_its_line(tmp_path):
    path = write(tmp_path, "c.yml", BASE_RULES + """\
---
title: Loop
name: loop
correlation: {type: event_count, rules: loop, timespan: 1m, condition: {gte: 2}}
""")
    _, errors = load_all(path)
    (err,) = errors
    assert "itself" in str(err) and err.line == 24


def test_event_count_alerts_through_the_loader_and_engine(tmp_path):
    from tokentrail.engine import scan_events
    from tokentrail.rules.loader import load_rules

    write(tmp_path, "base.yml", BASE_RULES)
    write(tmp_path, "corr.yml", """\
title: Many failed logins
id: 33333333-3333-4333-8333-333333333333
correlation:
    type: event_count
    rules: failed_login
    group-by: [actor.alternateId]
    timespan: 10m
    condition: {gte: 3}
""")
    result = load_rules([tmp_path], formats=[SigmaFormat()])
    assert not result.errors

    def failure(i: int, user: str) -> dict:
        return {"uuid": f"e{i}", "published": f"2025-01-01T00:0{i}:00.000Z",
                "eventType": "user.session.start", "outcome": {"result": "FAILURE"},
                "actor": {"alternateId": user}}

    events = [failure(0, "bob"), failure(1, "eve"), failure(2, "bob"), failure(3, "bob")]
    alerts = scan_events(result.rules, events).alerts
    assert [(a.rule_id, a.group_key) for a in alerts] == [
        ("33333333-3333-4333-8333-333333333333", ("bob",))]

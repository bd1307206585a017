"""Sigma rule documents: seed 000, metadata mapping, conditions, embedded tests, claims, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from seed_docs import seed_text
from tokentrail.compile.python import compile_expr
from tokentrail.errors import RuleLoadError
from tokentrail.formats.sigma import SigmaFormat
from tokentrail.rules.ir import All, Cmp, Not
from tokentrail.rules.ir import Any as AnyOf
from tokentrail.rules.loader import LoadContext, LoadResult, load_rules
from tokentrail.rules.model import LogSource, OutputField, RuleTest


def seed_000_yaml() -> str:
    """The YAML of seed 000, verbatim: the lines between "Rule body yaml" and "Stages and Predicates".
    In a clone without ../shared, ``seed_text`` skips the test with the reason printed."""
    lines = seed_text("000").splitlines()
    start = lines.index("Rule body yaml") + 1
    end = lines.index("Stages and Predicates")
    return "\n".join(lines[start:end]) + "\n"


def load_text(tmp_path: Path, text: str, name: str = "rule.yml", **ctx):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return SigmaFormat().load(path, LoadContext(**ctx))


def auth0_event(**changes):
    data = {
        "type": "mgmt_api_read",
        "description": "Get client by ID",
        "details": {
            "accessedSecrets": ["client_secret"],
            "response": {"body": {"client_id": "critical-client_id-1"}},
        },
    }
    data.update(changes)
    return {"log_id": "90020250711", "data": data}


# --- seed 000 -------------------------------------------------------------------------------

@pytest.fixture
def seed_rule(tmp_path):
    (rule,) = load_text(tmp_path, seed_000_yaml(), name="seed_000.yml")
    return rule


def test_seed_000_loads_with_metadata(seed_rule):
    r = seed_rule
    assert r.id == "2d7087d2-716d-11f0-ba3b-723487b9527c"
    assert r.title == "High risk event - risk of copying client credentials"
    assert r.format == "sigma" and r.status == "experimental" and r.severity == "medium"
    assert r.logsource == LogSource(product="auth0")
    assert r.techniques == ("T1528",) and r.tactics == ("credential-access",)
    assert r.tags == ("attack.credential-access", "attack.t1528")
    assert r.false_positives == ("Legitimate access by an administrator to read client settings.",)
    assert r.description.startswith("Detect potential risks of copying client credentials")
    for key in ("explanation", "splunk", "tenant_logs", "prevention", "comments", "author"):
        assert key in r.metadata, key
    assert r.metadata["author"] == "Okta"
    assert r.metadata["date"] == "2025-07-11" and r.metadata["modified"] == "2025-09-02"
    assert "stats count by client_id" in r.metadata["splunk"]
    assert len(r.metadata["prevention"]) == 3
    assert r.runnable


def test_seed_000_fields_kept_as_written(seed_rule):
    assert seed_rule.logic == All((
        Cmp("data.type", "eq", ("mgmt_api_read",)),
        Cmp("data.description", "eq", ("Get client by ID",)),
        Cmp("data.details.accessedSecrets{}", "eq", ("client_secret",)),
        Cmp("data.details.response.body.client_id", "eq",
            ("critical-client_id-1", "critical-client_id-etc")),
    ))


def test_seed_000_fires_on_auth0_event(seed_rule):
    assert compile_expr(seed_rule.logic)(auth0_event())


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "mgmt_api_update"},
        {"description": "Get clients"},
        {"details": {"accessedSecrets": ["client_id"],
                     "response": {"body": {"client_id": "critical-client_id-1"}}}},
        {"details": {"accessedSecrets": ["client_secret"],
                     "response": {"body": {"client_id": "ordinary-client"}}}},
    ],
)
def test_seed_000_quiet_when_one_field_differs(seed_rule, changes):
    assert not compile_expr(seed_rule.logic)(auth0_event(**changes))


def test_seed_000_through_the_loader(tmp_path):
    (tmp_path / "seed.yml").write_text(seed_000_yaml())
    result = load_rules([tmp_path], formats=[SigmaFormat()])
    assert not result.errors
    assert [r.id for r in result.rules] == ["2d7087d2-716d-11f0-ba3b-723487b9527c"]


# --- metadata ---------------------------------------------------------------------------------

FULL_RULE = """\
title: Okta API token created
id: not-a-uuid-1
name: okta_api_token_created
status: test
description: An API token was created.
references:
    - https://developer.okta.com/docs/reference/api/event-types/
author: TokenTrail
level: informational
tags:
    - attack.persistence
    - attack.credential_access
    - attack.t1550.001
    - attack.T1528
    - attack.g0016
    - cve.2021-1234
logsource:
    product: okta
    service: system_log
    category: audit
fields:
    - actor.alternateId
    - client.ipAddress
falsepositives:
    - Automation accounts
custom_key:
    nested: [1, 2]
detection:
    sel:
        eventType: system.api_token.create
    condition: sel
"""


def test_metadata_mapping(tmp_path):
    (r,) = load_text(tmp_path, FULL_RULE)
    assert r.id == "not-a-uuid-1" and r.name == "okta_api_token_created"
    assert r.status == "test" and r.severity == "info"
    assert r.techniques == ("T1550.001", "T1528")
    assert r.tactics == ("persistence", "credential-access")
    assert "cve.2021-1234" in r.tags and "attack.g0016" in r.tags
    assert r.logsource == LogSource(product="okta", service="system_log", category="audit")
    assert r.references == ("https://developer.okta.com/docs/reference/api/event-types/",)
    assert r.false_positives == ("Automation accounts",)
    assert r.output_fields == (OutputField("actor.alternateId", "actor.alternateId"),
                               OutputField("client.ipAddress", "client.ipAddress"))
    assert r.metadata["custom_key"] == {"nested": [1, 2]}
    assert r.metadata["author"] == "TokenTrail"
    assert r.path.endswith("rule.yml")


@pytest.mark.parametrize(("level", "severity"), [("low", "low"), ("high", "high"), ("critical", "critical")])
def test_levels(tmp_path, level, severity):
    (r,) = load_text(tmp_path, FULL_RULE.replace("level: informational", f"level: {level}"))
    assert r.severity == severity


def test_missing_id_gets_file_based_id(tmp_path):
    text = FULL_RULE.replace("id: not-a-uuid-1\n", "").replace("name: okta_api_token_created\n", "")
    (r,) = load_text(tmp_path, text, name="token.yml")
    assert r.id == "token" and r.name is None


# --- conditions -------------------------------------------------------------------------------

CONDITION_RULE = """\
title: c
logsource:
    product: okta
detection:
    sel_a:
        a: 1
    sel_b:
        b: 2
    other:
        c: 3
    condition: {condition}
"""


def lowered(tmp_path, condition: str):
    (r,) = load_text(tmp_path, CONDITION_RULE.format(condition=condition))
    return r.logic


def test_one_of_pattern(tmp_path):
    expr = lowered(tmp_path, "1 of sel_* and not other")
    assert expr == All((AnyOf((Cmp("a", "eq", (1,)), Cmp("b", "eq", (2,)))), Not(Cmp("c", "eq", (3,)))))
    m = compile_expr(expr)
    assert m({"b": 2})
    assert not m({"b": 2, "c": 3})
    assert not m({"c": 3})


def test_all_of_them(tmp_path):
    expr = lowered(tmp_path, "all of them")
    assert expr == All((Cmp("a", "eq", (1,)), Cmp("b", "eq", (2,)), Cmp("c", "eq", (3,))))


def test_all_of_pattern(tmp_path):
    m = compile_expr(lowered(tmp_path, "all of sel_*"))
    assert m({"a": 1, "b": "2"})
    assert not m({"a": 1})


def test_any_of_them(tmp_path):
    m = compile_expr(lowered(tmp_path, "1 of them"))
    assert m({"c": 3}) and not m({"d": 1})


def test_parentheses_and_precedence(tmp_path):
    m = compile_expr(lowered(tmp_path, "sel_a and (sel_b or other)"))
    assert m({"a": 1, "c": 3}) and not m({"b": 2, "c": 3})
    m = compile_expr(lowered(tmp_path, "sel_a and sel_b or other"))
    assert m({"c": 3}) and not m({"a": 1})


def test_list_of_conditions_is_or(tmp_path):
    expr = lowered(tmp_path, "\n        - sel_a and sel_b\n        - other")
    assert expr == AnyOf((All((Cmp("a", "eq", (1,)), Cmp("b", "eq", (2,)))), Cmp("c", "eq", (3,))))


def test_list_of_maps_is_or(tmp_path):
    (r,) = load_text(tmp_path, """\
        title: t
        logsource: {product: okta}
        detection:
            sel:
                - eventType: a
                  outcome.result: FAILURE
                - eventType: b
            condition: sel
    """)
    assert r.logic == AnyOf((All((Cmp("eventType", "eq", ("a",)), Cmp("outcome.result", "eq", ("FAILURE",)))),
                             Cmp("eventType", "eq", ("b",))))


def test_unknown_detection_in_condition_is_an_error(tmp_path):
    with pytest.raises(RuleLoadError) as err:
        lowered(tmp_path, "sel_a and missing")
    assert "missing" in str(err.value)
    assert err.value.line == 11  # the condition key


def test_pattern_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(RuleLoadError):
        lowered(tmp_path, "1 of nothing_*")


def test_deprecated_pipe_aggregation_is_an_error(tmp_path):
    with pytest.raises(RuleLoadError) as err:
        lowered(tmp_path, "sel_a | count() > 5")
    assert "correlation" in str(err.value)


# --- multi-document files and collection actions ----------------------------------------------

def test_multi_document_file_errors_name_document_line(tmp_path):
    text = """\
        title: good
        id: g1
        logsource: {product: okta}
        detection:
            sel: {a: 1}
            condition: sel
        ---
        title: bad
        id: b1
        level: extreme
        logsource: {product: okta}
        detection:
            sel: {a: 1}
            condition: sel
    """
    result = load_text(tmp_path, text)
    assert isinstance(result, LoadResult)
    assert [r.id for r in result.rules] == ["g1"]
    (err,) = result.errors
    assert isinstance(err, RuleLoadError)
    assert err.line == 10 and err.file == str(tmp_path / "rule.yml")
    assert "extreme" in str(err)


GOOD_DOC = """\
title: good {n}
id: g{n}
logsource: {{product: okta}}
detection:
    sel: {{eventType: e{n}}}
    condition: sel
"""


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("title: bad\nlogsource: {product: okta}\ndetection: {condition: nothing}\n", "detections"),
        ("- just\n- a list\n", "mapping"),
        ("action: teleport\n", "action"),
        ("title: bad\nlogsource: {product: okta}\ndetection:\n  sel: {a|hour: 1}\n"
         "  condition: sel\n", "hour"),
    ],
)
def test_one_bad_document_keeps_the_others(tmp_path, bad, message):
    text = "---\n".join([GOOD_DOC.format(n=1), bad, GOOD_DOC.format(n=2)])
    result = load_text(tmp_path, text)
    assert isinstance(result, LoadResult)
    assert [r.id for r in result.rules] == ["g1", "g2"]
    (err,) = result.errors
    assert message in str(err)
    assert err.file == str(tmp_path / "rule.yml")
    assert 8 <= err.line <= 12  # inside the second document (which starts on line 8)


def test_yaml_error_in_a_later_document_keeps_the_earlier_ones(tmp_path):
    result = load_text(tmp_path, GOOD_DOC.format(n=1) + "---\ntitle: x\ndetection:\n  sel: [a\n")
    assert [r.id for r in result.rules] == ["g1"]
    (err,) = result.errors
    assert "invalid YAML" in str(err) and err.line is not None and err.line > 7


def test_bad_documents_reach_load_rules_next_to_the_good_rules(tmp_path):
    bad = "title: bad\nlogsource: {product: okta}\ndetection: {condition: nothing}\n"
    (tmp_path / "pack.yml").write_text("---\n".join([GOOD_DOC.format(n=1), bad, bad]))
    result = load_rules([tmp_path], formats=[SigmaFormat()])
    assert [r.id for r in result.rules] == ["g1"]
    assert [e.line for e in result.errors] == [10, 14]  # each bad document's detection key


def test_a_single_bad_document_still_raises(tmp_path):
    with pytest.raises(RuleLoadError):
        load_text(tmp_path, "title: bad\nlogsource: {product: okta}\ndetection: {condition: nothing}\n")


def test_rules_keep_the_line_where_their_document_starts(tmp_path):
    rules = load_text(tmp_path, GOOD_DOC.format(n=1) + "---\n" + GOOD_DOC.format(n=2))
    assert [r.metadata["line"] for r in rules] == [1, 8]


def test_action_global_and_repeat(tmp_path):
    rules = load_text(tmp_path, """\
        action: global
        title: shared
        logsource: {product: okta}
        detection:
            condition: sel
        ---
        id: one
        detection:
            sel: {eventType: a}
        ---
        action: repeat
        id: two
        detection:
            sel: {eventType: b}
    """)
    assert [r.id for r in rules] == ["one", "two"]
    assert rules[0].title == "shared" and rules[1].logsource == LogSource(product="okta")
    assert rules[0].logic == Cmp("eventType", "eq", ("a",))
    assert rules[1].logic == Cmp("eventType", "eq", ("b",))


def test_invalid_yaml_reports_line(tmp_path):
    with pytest.raises(RuleLoadError) as err:
        load_text(tmp_path, "title: x\ndetection:\n  sel: [a\n  condition: sel\n")
    assert err.value.line is not None


def test_duplicate_key_is_an_error(tmp_path):
    with pytest.raises(RuleLoadError):
        load_text(tmp_path, "title: x\ntitle: y\nlogsource: {product: a}\ndetection: {s: {a: 1}, condition: s}\n")


# --- embedded and sidecar tests ---------------------------------------------------------------

TESTED_RULE = """\
title: t
id: tested
logsource: {product: okta}
detection:
    sel: {eventType: user.session.start}
    condition: sel
tests:
    - name: fires
      expected: true
      event: {eventType: user.session.start}
    - name: quiet
      expected: false
      event: {eventType: other}
"""


def test_embedded_tests(tmp_path):
    (r,) = load_text(tmp_path, TESTED_RULE)
    assert r.tests == (RuleTest("fires", True, {"eventType": "user.session.start"}),
                       RuleTest("quiet", False, {"eventType": "other"}))
    assert "tests" not in r.metadata
    m = compile_expr(r.logic)
    assert all(m(t.event) is t.expected for t in r.tests)


def test_sidecar_tests_list_and_mapping(tmp_path):
    (tmp_path / "rule.tests.yml").write_text(
        "- name: extra\n  expected: true\n  event: {eventType: USER.SESSION.START}\n")
    (r,) = load_text(tmp_path, TESTED_RULE)
    assert [t.name for t in r.tests] == ["fires", "quiet", "extra"]
    (tmp_path / "rule.tests.yml").write_text(
        "tests:\n  - name: mapped\n    expected: false\n    event: {x: 1}\n")
    (r,) = load_text(tmp_path, TESTED_RULE)
    assert r.tests[-1] == RuleTest("mapped", False, {"x": 1})


def test_sidecar_test_that_cannot_be_placed_is_one_error(tmp_path):
    two = TESTED_RULE.split("tests:")[0] + "---\n" + GOOD_DOC.format(n=1)
    (tmp_path / "rule.tests.yml").write_text(
        "- {name: placed, rule: tested, expected: true, event: {eventType: user.session.start}}\n"
        "- {name: stray, rule: missing, expected: true, event: {eventType: x}}\n"
        "- {name: unnamed, expected: true, event: {eventType: x}}\n")
    result = load_text(tmp_path, two)
    assert isinstance(result, LoadResult)
    assert [[t.name for t in r.tests] for r in result.rules] == [["placed"], []]
    assert ["missing" in str(e) for e in result.errors] == [True, False]
    assert "must name its rule" in str(result.errors[1])
    assert all(e.file == str(tmp_path / "rule.tests.yml") for e in result.errors)


def test_bad_embedded_test_is_an_error(tmp_path):
    with pytest.raises(RuleLoadError) as err:
        load_text(tmp_path, TESTED_RULE.replace("expected: false", "expected: maybe"))
    assert err.value.line == 7


# --- claims -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "head", "claimed"),
    [
        ("r.yml", "title: x\ndetection:\n  sel: {a: 1}\n", True),
        ("r.yaml", "title: x\ncorrelation:\n  type: event_count\n", True),
        ("r.yml", "title: x\nfilter:\n  rules: [a]\n", True),
        ("r.yml", "title: x\nlogsource:\n  product: okta\n", True),
        ("r.yml", "AnalysisType: rule\ndetection:\n  x: 1\n", False),
        ("r.toml", "detection = 1\n", False),
        ("r.tests.yml", "detection:\n", False),
        ("r.yml", "name: workflow\non: push\n", False),
    ],
)
def test_claims(name, head, claimed):
    assert SigmaFormat().claims(Path(name), head) is claimed


def test_name_is_the_id_when_id_is_missing(tmp_path):
    (r,) = load_text(tmp_path, FULL_RULE.replace("id: not-a-uuid-1\n", ""))
    assert r.id == "okta_api_token_created"


def test_seed_000_alerts_through_the_engine(tmp_path):
    from tokentrail.engine import scan_events

    (tmp_path / "seed.yml").write_text(seed_000_yaml())
    result = load_rules([tmp_path], formats=[SigmaFormat()])
    hit = auth0_event()
    hit["data"]["date"] = "2025-07-11T10:00:00.000Z"
    miss = {"log_id": "2", "data": {**hit["data"], "description": "Get clients"}}
    scan = scan_events(result.rules, [hit, miss])
    assert [a.rule_id for a in scan.alerts] == ["2d7087d2-716d-11f0-ba3b-723487b9527c"]

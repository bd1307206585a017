"""Elastic rule loading: TOML and Kibana exports into the common Rule model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokentrail.errors import RuleLoadError
from tokentrail.formats.elastic import ElasticFormat
from tokentrail.formats.elastic.format import query_first_line
from tokentrail.rules.ir import All, Cmp
from tokentrail.rules.loader import LoadContext, load_rules
from tokentrail.rules.model import Correlation, Grouping

FMT = ElasticFormat()

RULE_HEAD = """\
[metadata]
integration = ["okta"]
maturity = "development"

[rule]
author = ["Tests"]
description = "A test rule."
index = ["logs-okta*"]
name = "Test rule"
risk_score = 21
rule_id = "00000000-0000-4000-8000-000000000001"
severity = "low"
"""


def write(tmp_path: Path, body: str, name: str = "rule.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def load_one(path: Path):
    (rule,) = FMT.load(path, LoadContext())
    return rule


def test_claims():
    assert FMT.claims(Path("r.toml"), "[metadata]\nx = 1\n\n[rule]\nname = 'x'\n")
    assert not FMT.claims(Path("pyproject.toml"), "[project]\nname = 'x'\n")
    assert FMT.claims(Path("export.ndjson"), '{"rule_id": "a", "type": "query", "query": "x"}\n')
    assert FMT.claims(Path("export.json"), '[{"rule_id": "a", "type": "eql"}]')
    assert not FMT.claims(Path("events.ndjson"), '{"eventType": "user.session.start"}\n')
    assert not FMT.claims(Path("rule.yml"), "rule_id: x\ntype: query\n")


def test_query_rule_metadata(tmp_path):
    path = write(tmp_path, RULE_HEAD + """\
type = "query"
language = "kuery"
from = "now-9m"
interval = "5m"
max_signals = 50
note = "Look at the actor."
references = ["https://example.com/a"]
false_positives = ["Admins testing."]
tags = ["Data Source: Okta"]
query = '''
event.action:user.session.start
'''

[[rule.threat]]
framework = "MITRE ATT&CK"
[[rule.threat.technique]]
id = "T1550"
name = "Use Alternate Authentication Material"
[[rule.threat.technique.subtechnique]]
id = "T1550.001"
name = "Application Access Token"
[rule.threat.tactic]
id = "TA0005"
name = "Defense Evasion"
""")
    rule = load_one(path)
    assert (rule.id, rule.title, rule.format, rule.severity) == (
        "00000000-0000-4000-8000-000000000001", "Test rule", "elastic", "low")
    assert rule.status == "experimental"
    assert rule.logic == Cmp("event.action", "eq", ("user.session.start",), cased=True)
    assert rule.tactics == ("TA0005",)
    assert rule.techniques == ("T1550", "T1550.001")
    assert rule.references == ("https://example.com/a",)
    assert rule.false_positives == ("Admins testing.",)
    assert rule.tags == ("Data Source: Okta",)
    assert rule.log_types == ("okta", "ecs.okta")
    assert rule.grouping == Grouping()
    md = rule.metadata
    assert md["field_dialect"] == "ecs"
    assert (md["risk_score"], md["max_signals"], md["note"]) == (21, 50, "Look at the actor.")
    assert (md["lookback_seconds"], md["interval_seconds"]) == (540, 300)
    assert md["threat"][0]["tactic"]["name"] == "Defense Evasion"
    assert md["query_line"] == path.read_text().splitlines().index("event.action:user.session.start") + 1


@pytest.mark.parametrize(("index", "integration", "expected"), [
    (["logs-okta*", "filebeat-*"], [], ("okta", "ecs.okta")),
    (["logs-auth0.logs-*"], [], ("auth0", "ecs.auth0")),
    (["logs-salesforce*", "logs-okta*"], [], ("salesforce", "ecs.salesforce", "okta", "ecs.okta")),
    (["filebeat-*"], [], ("okta", "ecs.okta", "auth0", "ecs.auth0", "salesforce", "ecs.salesforce")),
    ([], ["auth0"], ("auth0", "ecs.auth0")),
    ([], [], ("okta", "ecs.okta", "auth0", "ecs.auth0", "salesforce", "ecs.salesforce")),
])
def test_log_types_from_index_patterns(tmp_path, index, integration, expected):
    body = f"""[metadata]\nintegration = {json.dumps(integration)}\n\n[rule]\nname = "x"\nrule_id = "r"
description = "d"\nrisk_score = 1\nseverity = "low"\ntype = "query"\nquery = "a:b"\n"""
    if index:
        body += f"index = {json.dumps(index)}\n"
    assert load_one(write(tmp_path, body)).log_types == expected


def test_threshold_rule_grouping(tmp_path):
    rule = load_one(write(tmp_path, RULE_HEAD + """\
type = "threshold"
from = "now-1h"
query = "event.action:app.oauth2.as.token.grant.access_token"

[rule.threshold]
field = ["okta.actor.id", "okta.client.id"]
value = 25

[[rule.threshold.cardinality]]
field = "source.ip"
value = 5
"""))
    assert rule.grouping == Grouping(group_by=("okta.actor.id", "okta.client.id"), window=3600,
                                     threshold=25, distinct_field="source.ip", distinct_threshold=5)


def test_threshold_rule_without_fields_or_cardinality(tmp_path):
    rule = load_one(write(tmp_path, RULE_HEAD + """\
type = "threshold"
query = "a:b"
[rule.threshold]
field = []
value = 3
"""))
    assert rule.grouping == Grouping(group_by=(), window=360, threshold=3)


def test_bad_threshold_is_an_error(tmp_path):
    with pytest.raises(RuleLoadError, match="threshold.value"):
        load_one(write(tmp_path, RULE_HEAD + 'type = "threshold"\nquery = "a:b"\n[rule.threshold]\nvalue = 0\n'))


def test_new_terms_rule(tmp_path):
    rule = load_one(write(tmp_path, RULE_HEAD + """\
type = "new_terms"
query = "event.action:user.session.start"

[rule.new_terms]
field = "new_terms_fields"
value = ["user.name", "source.ip"]
[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-7d"
"""))
    assert rule.grouping == Grouping(new_terms=("user.name", "source.ip"), history=7 * 86400)


def test_alert_suppression_groups_matches(tmp_path):
    rule = load_one(write(tmp_path, RULE_HEAD + """\
type = "query"
query = "a:b"
interval = "10m"
[rule.alert_suppression]
group_by = ["user.name"]
duration = {value = 2, unit = "h"}
missing_fields_strategy = "suppress"
"""))
    assert rule.grouping == Grouping(group_by=("user.name",), window=7200)
    assert rule.metadata["alert_suppression"]["missing_fields_strategy"] == "suppress"
    no_duration = load_one(write(tmp_path, RULE_HEAD + """\
type = "query"
query = "a:b"
interval = "10m"
[rule.alert_suppression]
group_by = ["user.name"]
""", "other.toml"))
    assert no_duration.grouping == Grouping(group_by=("user.name",), window=600)


def test_eql_rule(tmp_path):
    rule = load_one(write(tmp_path, RULE_HEAD + """\
type = "eql"
language = "eql"
query = '''
sequence by okta.actor.id with maxspan=10m
  [any where event.action == "user.session.start"]
  [any where event.action == "system.api_token.create"]
'''
"""))
    assert isinstance(rule.logic, Correlation)
    assert [s.by for s in rule.logic.steps] == [("okta.actor.id",), ("okta.actor.id",)]
    assert rule.runnable


@pytest.mark.parametrize(("extra", "reason"), [
    ('type = "esql"\nlanguage = "esql"\nquery = "from logs-* | stats c = count(*) | stats d = count(*)"\n',
     "ES|QL second STATS ... BY the same keys as the first"),
    ('type = "machine_learning"\nmachine_learning_job_id = "x"\nanomaly_threshold = 50\n', "machine learning"),
    ('type = "threat_match"\nquery = "a:b"\n', "indicator match"),
    ('type = "query"\nlanguage = "lucene"\nquery = "a:b"\n', "Lucene"),
    ('type = "mystery"\n', "mystery"),
    ('type = "eql"\nlanguage = "eql"\nquery = """any where between(a, "x", "y") == "z\"\"\"\"\n',
     "EQL function between"),
])
def test_unsupported_rules_load_with_a_reason(tmp_path, extra, reason):
    rule = load_one(write(tmp_path, RULE_HEAD + extra))
    assert rule.logic is None
    assert not rule.runnable
    assert reason in rule.unsupported
    assert rule.title == "Test rule"


def test_query_syntax_error_names_the_file_line_and_column(tmp_path):
    path = write(tmp_path, RULE_HEAD + """\
type = "query"
query = '''
event.dataset:okta.system and
  (event.action:system.api_token.create or
'''
""")
    with pytest.raises(RuleLoadError) as err:
        load_one(path)
    lines = path.read_text().splitlines()
    assert err.value.file == str(path)
    assert err.value.line == lines.index("  (event.action:system.api_token.create or") + 1
    assert "KQL syntax error" in str(err.value) and "column" in str(err.value)
    result = load_rules([path], formats=[FMT])
    assert result.rules == () and len(result.errors) == 1


def test_unsupported_eql_function_names_the_file_line(tmp_path):
    path = write(tmp_path, RULE_HEAD + """\
type = "eql"
language = "eql"
query = '''
any where event.action == "x" and
  concat(user.name, "@x") == "a@x"
'''
""")
    rule = load_one(path)
    assert "EQL function concat" in rule.unsupported
    assert "query line 2, column 3" in rule.unsupported


def test_query_first_line_skips_multiline_strings():
    text = 'note = """\n[rule]\nquery = "fake"\n"""\n[rule]\nname = "x"\nquery = \'\'\'\nreal\n\'\'\'\n'
    assert query_first_line(text) == 8
    assert query_first_line('[rule]\nquery = "a:b"\n') == 2
    assert query_first_line('[rule.threshold]\nquery = "x"\n') is None


@pytest.mark.parametrize(("body", "message"), [
    ('[rule]\nname = "x"\nseverity = "low"\n', "no rule_id"),
    ('[rule]\nrule_id = "x"\nseverity = "low"\n', "no name"),
    ('[rule]\nrule_id = "x"\nname = "x"\nseverity = "urgent"\ntype = "query"\nquery = "a:b"\n', "severity"),
    ('[rule]\nrule_id = "x"\nname = "x"\ntype = "query"\n', "no query"),
    ('[rule]\nrule_id = "x"\nname = "x"\ntype = "query"\nquery = "a:b"\nfrom = "yesterday"\n', "from"),
    ('[rule]\nrule_id = "x"\nname = "x"\ntype = "new_terms"\nquery = "a:b"\n', "new_terms"),
])
def test_bad_rules_are_errors(tmp_path, body, message):
    with pytest.raises(RuleLoadError, match=message):
        load_one(write(tmp_path, body))


def test_invalid_toml_reports_the_line(tmp_path):
    path = write(tmp_path, '[rule]\nname = "x"\nrule_id = \n')
    with pytest.raises(RuleLoadError, match="invalid TOML") as err:
        load_one(path)
    assert err.value.line == 3


def test_sidecar_tests_are_read(tmp_path):
    path = write(tmp_path, RULE_HEAD + 'type = "query"\nquery = "a:b"\n')
    (tmp_path / "rule.tests.yml").write_text(
        "- name: hit\n  expected: true\n  event: {a: b}\n- name: miss\n  expected: false\n  event: {a: c}\n")
    rule = load_one(path)
    assert [(t.name, t.expected, dict(t.event)) for t in rule.tests] == [
        ("hit", True, {"a": "b"}), ("miss", False, {"a": "c"})]


def test_bad_sidecar_is_an_error(tmp_path):
    path = write(tmp_path, RULE_HEAD + 'type = "query"\nquery = "a:b"\n')
    (tmp_path / "rule.tests.yml").write_text("- name: no verdict\n  event: {a: b}\n")
    with pytest.raises(RuleLoadError, match="test 1 needs") as err:
        load_one(path)
    assert err.value.file.endswith("rule.tests.yml")


def kibana_rule(**overrides) -> dict:
    rule = {"id": "so-1", "rule_id": "k-1", "name": "Kibana rule", "description": "d", "type": "query",
            "language": "kuery", "query": "event.action:system.api_token.create", "risk_score": 47,
            "severity": "medium", "index": ["logs-okta*"], "enabled": False, "interval": "5m",
            "from": "now-6m", "max_signals": 100, "tags": [], "references": [], "false_positives": [],
            "threat": [{"framework": "MITRE ATT&CK",
                        "tactic": {"id": "TA0003", "name": "Persistence", "reference": ""},
                        "technique": [{"id": "T1136", "name": "Create Account", "reference": ""}]}]}
    rule.update(overrides)
    return rule


def test_kibana_ndjson_export(tmp_path):
    lines = [
        kibana_rule(),
        kibana_rule(rule_id="k-2", type="new_terms", new_terms_fields=["user.name"],
                    history_window_start="now-30d"),
        kibana_rule(rule_id="k-3", type="threshold",
                    threshold={"field": "user.name", "value": 4, "cardinality": []}),
        kibana_rule(rule_id="k-4", query="event.action:(", name="Broken"),
        kibana_rule(rule_id="k-5", type="machine_learning"),
        {"exported_count": 5, "exported_rules_count": 5, "missing_rules": []},
    ]
    path = write(tmp_path, "\n".join(json.dumps(x) for x in lines) + "\n", "export.ndjson")
    assert FMT.claims(path, path.read_text()[:4096])
    rules = {r.id: r for r in FMT.load(path, LoadContext())}
    assert sorted(rules) == ["k-1", "k-2", "k-3", "k-4", "k-5"]
    first = rules["k-1"]
    assert first.logic == Cmp("event.action", "eq", ("system.api_token.create",), cased=True)
    assert (first.enabled, first.tactics, first.techniques) == (False, ("TA0003",), ("T1136",))
    assert rules["k-2"].grouping == Grouping(new_terms=("user.name",), history=30 * 86400)
    assert rules["k-3"].grouping == Grouping(group_by=("user.name",), window=360, threshold=4)
    broken = rules["k-4"]
    assert broken.logic is None and "cannot load" in broken.unsupported
    assert ":4:" in broken.metadata["load_error"]  # the NDJSON line of that rule
    assert "machine learning" in rules["k-5"].unsupported


def test_kibana_json_list_and_bad_ndjson_line(tmp_path):
    path = write(tmp_path, json.dumps([kibana_rule(), kibana_rule(rule_id="k-2")]), "export.json")
    assert [r.id for r in FMT.load(path, LoadContext())] == ["k-1", "k-2"]
    bad = write(tmp_path, json.dumps(kibana_rule()) + "\n{not json\n", "bad.ndjson")
    with pytest.raises(RuleLoadError) as err:
        FMT.load(bad, LoadContext())
    assert err.value.line == 2


def test_kql_rule_logic_reads_ecs_names(tmp_path):
    rule = load_one(write(tmp_path, RULE_HEAD + 'type = "query"\nquery = "a:b and c:d"\n'))
    assert rule.logic == All((Cmp("a", "eq", ("b",), cased=True), Cmp("c", "eq", ("d",), cased=True)))
    assert rule.metadata["field_dialect"] == "ecs"

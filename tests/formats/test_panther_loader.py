"""Loading Panther analysis items into TokenTrail rules."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from tokentrail.errors import RuleLoadError
from tokentrail.formats.panther import PantherFormat
from tokentrail.formats.panther.analysis import CORRELATION, NO_PYTHON, SCHEDULED
from tokentrail.rules.ir import All, Cmp, Not
from tokentrail.rules.loader import LoadContext, load_rules
from tokentrail.rules.model import PythonLogic

RULE_PY = dedent("""\
    def rule(event):
        return event.get("eventType") == "user.session.start"


    def alert_context(event):
        return {"actor": event.deep_get("actor", "alternateId"), "ip": event.get("ip"), "n": 1}
""")

RULE_YML = dedent("""\
    AnalysisType: rule
    RuleID: Test.Rule
    DisplayName: A Test Rule
    Enabled: true
    Filename: rule.py
    LogTypes: [Okta.SystemLog, Auth0.Events]
    Severity: High
    DedupPeriodMinutes: 30
    Threshold: 5
    Tags: [One, Two]
    Reports:
      MITRE ATT&CK:
        - TA0006:T1528
        - TA0005:T1550.001
        - TA0006:T1110
    Reference: https://example.com/ref
    Runbook: Look at it.
    Description: Something happened.
    SummaryAttributes: [actor:alternateId]
    OutputIds: [slack-1]
    Tests:
      - Name: fires
        ExpectedResult: true
        Mocks:
          - objectName: helper
            returnValue: "[1]"
        Log: {eventType: user.session.start, when: 2024-01-30, flag: off}
""")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(path: Path, **context) -> list:
    return PantherFormat().load(path, LoadContext(**context))


def test_claims_analysis_yaml_only(tmp_path: Path) -> None:
    fmt = PantherFormat()
    assert fmt.claims(Path("r.yml"), "AnalysisType: rule\n")
    assert fmt.claims(Path("r.yaml"), "# c\nRuleID: x\nAnalysisType: rule\n")
    assert not fmt.claims(Path("r.yml"), "title: sigma\ndetection: {}\n")
    assert not fmt.claims(Path("r.json"), "AnalysisType: rule\n")


def test_rule_fields(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    [rule] = load(write(tmp_path, "rule.yml", RULE_YML))
    assert (rule.id, rule.title, rule.format, rule.severity) == (
        "Test.Rule",
        "A Test Rule",
        "panther",
        "high",
    )
    assert rule.log_types == ("okta", "ecs.okta", "auth0", "auth0.api")
    assert rule.metadata["panther_log_types"] == ("Okta.SystemLog", "Auth0.Events")
    assert rule.grouping.window == 1800 and rule.grouping.threshold == 5
    assert rule.tactics == ("TA0006", "TA0005")
    assert rule.techniques == ("T1528", "T1550.001", "T1110")
    assert rule.tags == ("One", "Two")
    assert rule.references == ("https://example.com/ref",)
    assert rule.metadata["runbook"] == "Look at it."
    assert rule.metadata["output_ids"] == ("slack-1",)
    assert rule.metadata["summary_attributes"] == ("actor:alternateId",)
    assert [(o.label, o.field) for o in rule.output_fields] == [
        ("actor", "actor.alternateId"),
        ("ip", "ip"),
        ("n", "n"),
    ]
    assert isinstance(rule.logic, PythonLogic) and rule.runnable
    [test] = rule.tests
    assert test.name == "fires" and test.expected is True
    assert test.event == {"eventType": "user.session.start", "when": "2024-01-30", "flag": "off"}
    assert test.mocks == ({"objectName": "helper", "returnValue": "[1]"},)


def test_defaults(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    text = "AnalysisType: rule\nRuleID: R\nFilename: rule.py\nLogTypes: [Salesforce.LoginEvent]\nSeverity: info\n"
    [rule] = load(write(tmp_path, "r.yml", text))
    assert rule.title == "R" and rule.severity == "info" and rule.enabled
    assert rule.grouping.window == 3600 and rule.grouping.threshold == 1
    assert rule.log_types == ("salesforce", "salesforce.rtem")
    assert rule.tests == ()


def test_unknown_key_names_key_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    path = write(tmp_path, "r.yml", RULE_YML.replace("Runbook:", "RunBook:"))
    with pytest.raises(RuleLoadError) as err:
        load(path)
    assert "RunBook" in err.value.message
    assert err.value.file == str(path)
    assert err.value.line == RULE_YML.splitlines().index("Runbook: Look at it.") + 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("Severity: High", "Severity: Urgent"), "Severity must be one of"),
        (("Filename: rule.py", "Filename: missing.py"), "no such file"),
        (("Filename: rule.py", "Filename: rule.txt"), "must name a .py file"),
        (("RuleID: Test.Rule\n", ""), "missing required key RuleID"),
        (("Threshold: 5", "Threshold: 0"), "Threshold must be a whole number"),
        (("Enabled: true", "Enabled: yes"), "Enabled must be true or false"),
        (("ExpectedResult: true", "ExpectedResult: maybe"), "ExpectedResult must be true or false"),
        (("    Log:", "    Event:"), "unknown key 'Event'"),
        (("Reports:\n  MITRE ATT&CK:", "Reports:\n  MITRE ATT&CK: TA0006\n  Other:"), "must be a list"),
        (("        returnValue", "        sideEffect"), "unknown mock key"),
    ],
)
def test_bad_items_are_load_errors(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    path = write(tmp_path, "r.yml", RULE_YML.replace(*change))
    with pytest.raises(RuleLoadError) as err:
        load(path)
    assert message in err.value.message
    assert err.value.file == str(path)


def test_load_rules_collects_errors_and_keeps_going(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    write(tmp_path, "good.yml", RULE_YML)
    write(tmp_path, "bad.yml", RULE_YML.replace("RuleID: Test.Rule", "RuleID: Bad\nColor: red"))
    result = load_rules([tmp_path])
    assert [r.id for r in result.rules] == ["Test.Rule"]
    [error] = result.errors
    assert "Color" in str(error) and "bad.yml" in str(error)


def test_python_not_allowed(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    [rule] = load(write(tmp_path, "r.yml", RULE_YML), allow_python=False)
    assert rule.unsupported == NO_PYTHON
    assert rule.logic is None and not rule.runnable


def test_scheduled_rule_keeps_its_logic_for_tests(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    text = RULE_YML.replace("AnalysisType: rule", "AnalysisType: scheduled_rule").replace(
        "LogTypes: [Okta.SystemLog, Auth0.Events]\n", "ScheduledQueries: [Daily Query]\n"
    )
    [rule] = load(write(tmp_path, "r.yml", text))
    assert rule.unsupported == SCHEDULED
    assert isinstance(rule.logic, PythonLogic)
    assert rule.metadata["scheduled_queries"] == ("Daily Query",)


def test_correlation_rule_that_cannot_be_lowered_is_unsupported(tmp_path: Path) -> None:
    text = dedent("""\
        AnalysisType: correlation_rule
        RuleID: Corr
        DisplayName: Two things
        Enabled: true
        Severity: Critical
        Reports: {MITRE ATT&CK: ["TA0006:T1528"]}
        Detection:
          - Sequence:
              - ID: first
                RuleID: A
              - ID: second
                RuleID: B
            Transitions: []
    """)
    [rule] = load(write(tmp_path, "c.yml", text))
    assert rule.unsupported.startswith(CORRELATION) and "one Transition" in rule.unsupported
    assert rule.severity == "critical" and rule.techniques == ("T1528",) and rule.logic is None


def test_simple_detection_lowers_to_ir(tmp_path: Path) -> None:
    text = dedent("""\
        AnalysisType: rule
        RuleID: Simple
        Enabled: true
        LogTypes: [Okta.SystemLog]
        Severity: Low
        Detection:
          - Key: eventType
            Condition: Equals
            Value: x
    """)
    [rule] = load(write(tmp_path, "s.yml", text))
    assert rule.unsupported is None and rule.logic == Cmp("eventType", "eq", ("x",), cased=True)


def test_unknown_log_type_routes_by_p_log_type(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    [rule] = load(
        write(tmp_path, "r.yml", RULE_YML.replace("[Okta.SystemLog, Auth0.Events]", "[AWS.CloudTrail]"))
    )
    assert rule.log_types == ()
    assert rule.metadata["unmapped_log_types"] == ("AWS.CloudTrail",)
    detection = rule.logic.load()
    # Another Panther log type's event is not this rule's; one naming none is left to the rule.
    assert not detection.matches({"eventType": "user.session.start", "p_log_type": "GitHub.Audit"})
    assert detection.matches({"eventType": "user.session.start", "p_log_type": "AWS.CloudTrail"})
    assert detection.matches({"eventType": "user.session.start"})
    assert not detection.matches({"eventType": "user.session.end"})


def test_inline_filters_lower_to_ir_and_apply(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", "def rule(event):\n    return True\n")
    text = dedent("""\
        AnalysisType: rule
        RuleID: Inline
        Filename: rule.py
        LogTypes: [Okta.SystemLog]
        Severity: Low
        InlineFilters:
          All:
            - KeyPath: outcome.result
              Condition: Equals
              Value: SUCCESS
            - KeyPath: target[*].type
              Condition: IsNotIn
              Values: [AppInstance]
    """)
    [rule] = load(write(tmp_path, "i.yml", text))
    assert rule.metadata["inline_filters"]["All"][0]["KeyPath"] == "outcome.result"  # kept as written
    detection = rule.logic.load()
    assert detection.spec.inline_filter == All(
        (
            Cmp("outcome.result", "eq", ("SUCCESS",), cased=True),
            Not(Cmp("target.type", "eq", ("AppInstance",), cased=True)),
        )
    )
    assert detection.matches({"outcome": {"result": "SUCCESS"}, "target": [{"type": "User"}]})
    assert not detection.matches({"outcome": {"result": "success"}})  # Panther compares exactly
    assert not detection.matches({"outcome": {"result": "SUCCESS"}, "target": [{"type": "AppInstance"}]})


def test_inline_filter_with_unknown_condition(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    text = RULE_YML.replace(
        "Tags:", "InlineFilters:\n  All:\n    - {KeyPath: a, Condition: IsFuzzy, Value: x}\nTags:"
    )
    with pytest.raises(RuleLoadError) as err:
        load(write(tmp_path, "r.yml", text))
    assert "unknown Condition 'IsFuzzy'" in str(err.value)


def test_datamodel_and_global_items(tmp_path: Path) -> None:
    write(tmp_path, "model.py", "def token(event):\n    return 'T-' + event.get('id')\n")
    write(tmp_path, "helpers/my_global.py", "def shout(x):\n    return x.upper()\n")
    model_yml = dedent("""\
        AnalysisType: datamodel
        DataModelID: My.Okta
        DisplayName: Okta model
        Enabled: true
        Filename: model.py
        LogTypes: [Okta.SystemLog]
        Mappings:
          - Name: source_ip
            Path: $.client.ipAddress
          - Name: token
            Method: token
    """)
    global_yml = "AnalysisType: global\nGlobalID: my_global\nFilename: helpers/my_global.py\n"
    write(
        tmp_path,
        "rule.py",
        dedent("""\
        from my_global import shout


        def rule(event):
            return event.udm("source_ip") == "1.2.3.4"


        def title(event):
            return shout(event.udm("token"))
    """),
    )
    write(
        tmp_path,
        "r.yml",
        "AnalysisType: rule\nRuleID: UsesModel\nFilename: rule.py\n"
        "LogTypes: [Okta.SystemLog]\nSeverity: Low\n",
    )
    write(tmp_path, "a_model.yml", model_yml)
    write(tmp_path, "b_global.yml", global_yml)
    result = load_rules([tmp_path])
    assert result.errors == ()
    by_id = {r.id: r for r in result.rules}
    assert by_id["My.Okta"].metadata["analysis_type"] == "datamodel" and not by_id["My.Okta"].enabled
    assert by_id["My.Okta"].metadata["mappings"] == {"source_ip": "$.client.ipAddress", "token": "token()"}
    assert by_id["my_global"].metadata["analysis_type"] == "global" and not by_id["my_global"].runnable
    detection = by_id["UsesModel"].logic.load()
    event = {"id": "abc", "client": {"ipAddress": "1.2.3.4"}}
    assert detection.matches(event)
    assert detection.describe(event)["title"] == "T-ABC"
    assert [r.id for r in result.runnable] == ["UsesModel"]


def test_datamodel_rejects_filter_paths(tmp_path: Path) -> None:
    text = (
        "AnalysisType: datamodel\nDataModelID: M\nLogTypes: [X.Y]\n"
        "Mappings:\n  - Name: a\n    Path: $.x[?(@.y)]\n"
    )
    with pytest.raises(RuleLoadError, match="unsupported JSONPath"):
        load(write(tmp_path, "m.yml", text))


def test_attack_entries_panther_accepts_but_we_cannot_read_are_kept_aside(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    [rule] = load(write(tmp_path, "r.yml", RULE_YML.replace("- TA0006:T1528", "- TA003:T1556")))
    assert "T1556" not in rule.techniques and rule.metadata["unread_attack_ids"] == ("TA003:T1556",)


def test_keys_pat_accepts_load_and_unknown_keys_still_fail(tmp_path: Path) -> None:
    write(tmp_path, "rule.py", RULE_PY)
    text = RULE_YML.replace("RuleID: Test.Rule\n", "RuleID: Test.Rule\nStatus: Experimental\nCreatedBy: me\nBaseVersion: 3\n")
    text = text.replace("        Log: {", "        LogType: Okta.SystemLog\n        ExpectedDestinations: [slack]\n        Log: {")
    [rule] = load(write(tmp_path, "r.yml", text))
    assert rule.metadata["status"] == "Experimental" and rule.tests[0].name == "fires"
    bad = write(tmp_path, "bad.yml", text.replace("CreatedBy: me", "CreatedBy: me\nStatuss: x"))
    with pytest.raises(RuleLoadError) as err:
        load(bad)
    assert "'Statuss'" in err.value.message and err.value.file == str(bad)
    assert err.value.line == text.replace("CreatedBy: me", "CreatedBy: me\nStatuss: x").splitlines().index("Statuss: x") + 1


POLICY_PY = dedent("""\
    def policy(resource):
        return resource["Encrypted"] is True


    def title(resource):
        return f"Unencrypted bucket {resource['Name']}"
""")
POLICY_YML = dedent("""\
    AnalysisType: policy
    PolicyID: S3.Encrypted
    Filename: policy.py
    Enabled: true
    ResourceTypes: [AWS.S3.Bucket]
    Severity: High
    Status: Production
    Suppressions: ["arn:aws:s3:::logs"]
    Tests:
      - Name: encrypted
        ExpectedResult: true
        ResourceType: AWS.S3.Bucket
        Resource: {Name: a, Encrypted: true}
      - Name: not encrypted
        ExpectedResult: false
        Resource: {Name: b, Encrypted: false}
""")


def test_policy_tests_run_and_scans_do_not_apply_policies(tmp_path: Path) -> None:
    from tokentrail.engine.stream import StreamingEngine
    from tokentrail.formats.panther import run_panther_tests

    write(tmp_path, "policy.py", POLICY_PY)
    [policy] = load(write(tmp_path, "p.yml", POLICY_YML))
    assert policy.id == "S3.Encrypted" and isinstance(policy.logic, PythonLogic)
    assert policy.unsupported.startswith("unsupported-for-scan") and not policy.runnable
    assert policy.metadata["resource_types"] == ("AWS.S3.Bucket",)
    encrypted, unencrypted = run_panther_tests([policy])
    assert encrypted.passed and encrypted.actual is True
    # False is the alerting verdict: the title is checked then.
    assert unencrypted.passed and unencrypted.outputs["title"] == "Unencrypted bucket b"
    failing = write(tmp_path, "f.yml", POLICY_YML.replace("ExpectedResult: false", "ExpectedResult: true"))
    assert [o.passed for o in run_panther_tests(load(failing))] == [True, False]
    engine = StreamingEngine([policy])
    assert list(engine.run([{"Name": "b", "Encrypted": False}])) == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("AnalysisType: pack\nPackID: P\nPackDefinition: {IDs: [a]}\nDisplayName: Pack\n", "pack"),
        ("AnalysisType: saved_query\nQueryName: q\nQuery: select 1\nLookback: true\n", "data lake"),
        (
            "AnalysisType: scheduled_query\nQueryName: q\nEnabled: true\nQuery: select 1\n"
            "Schedule: {RateMinutes: 60, TimeoutMinutes: 5}\n",
            "data lake",
        ),
        (
            "AnalysisType: lookup_table\nLookupName: t\nEnabled: true\nSchema: Custom.T\n"
            "Refresh: {ObjectPath: s3://b/k}\nLogTypeMap: {PrimaryKey: ip}\n",
            "enrichment",
        ),
    ],
)
def test_items_that_cannot_run_load_with_their_reason(tmp_path: Path, text: str, reason: str) -> None:
    [item] = load(write(tmp_path, "i.yml", text))
    assert not item.enabled and not item.runnable and reason in item.unsupported
    with pytest.raises(RuleLoadError, match="unknown key 'Colour'"):
        load(write(tmp_path, "j.yml", text + "Colour: red\n"))


def test_unknown_analysis_type_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError, match="unknown AnalysisType"):
        load(write(tmp_path, "u.yml", "AnalysisType: widget\n"))


def test_helper_dirs_from_context_and_from_parent_global_helpers(tmp_path: Path) -> None:
    write(tmp_path, "repo/global_helpers/walk_up_helper.py", "VALUE = 'found by walking up'\n")
    write(tmp_path, "extra/context_helper.py", "VALUE = 'found through --helpers'\n")
    write(
        tmp_path,
        "repo/rules/okta/rule.py",
        dedent("""\
        import context_helper
        import walk_up_helper


        def rule(event):
            return True


        def title(event):
            return walk_up_helper.VALUE + " / " + context_helper.VALUE
    """),
    )
    path = write(
        tmp_path,
        "repo/rules/okta/r.yml",
        "AnalysisType: rule\nRuleID: H\nFilename: rule.py\nLogTypes: [Okta.SystemLog]\nSeverity: Low\n",
    )
    [rule] = load(path, helper_dirs=(tmp_path / "extra",))
    assert rule.logic.load().describe({})["title"] == "found by walking up / found through --helpers"


def test_module_is_imported_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        "rule.py",
        "import itertools\nCOUNTER = itertools.count()\nLOADS = next(COUNTER)\n"
        "def rule(event):\n    return True\n",
    )
    write(tmp_path, "r.yml", RULE_YML.replace("Tests:", "Unused:").split("Unused:")[0])
    [rule] = load(tmp_path / "r.yml")
    first = rule.logic.load()
    assert rule.logic.load() is first
    assert first.module.LOADS == 0 and next(first.module.COUNTER) == 1

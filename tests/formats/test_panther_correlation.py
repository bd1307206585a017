"""Panther correlation rules: lowered onto TokenTrail correlations, tested on RuleOutputs, scanned."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from tokentrail.engine.stream import StreamingEngine
from tokentrail.engine.testing import run_rule_tests
from tokentrail.rules.loader import load_rules
from tokentrail.rules.model import Correlation


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text))
    return path


def base_rule(root: Path, rule_id: str, event_type: str, context: str = "") -> None:
    stem = rule_id.lower().replace(".", "_")
    code = f'def rule(event):\n    return event.get("eventType") == "{event_type}"\n\n\n{context}'
    (root / f"{stem}.py").write_text(code)
    write(
        root,
        f"{stem}.yml",
        f"""\
        AnalysisType: rule
        RuleID: {rule_id}
        Filename: {stem}.py
        Enabled: true
        LogTypes: [Okta.SystemLog]
        Severity: Low
        """,
    )


SEQUENCE = """\
AnalysisType: correlation_rule
RuleID: Seq.Reset.Then.Login
DisplayName: Password reset, then a login from the same user
Enabled: false
Severity: High
Detection:
  - Sequence:
      - ID: Reset
        RuleID: Base.Reset
      - ID: Login
        RuleID: Base.Login
    Transitions:
      - ID: Reset FOLLOWED BY Login
        From: Reset
        To: Login
        WithinTimeFrameMinutes: 30
        Match:
          - On: actor.alternateId
    LookbackWindowMinutes: 120
    Schedule: {RateMinutes: 60, TimeoutMinutes: 5}
Tests:
  - Name: login 10 minutes after the reset
    ExpectedResult: true
    RuleOutputs:
      - ID: Reset
        Matches: {actor.alternateId: {ann@example.com: [0]}}
      - ID: Login
        Matches: {actor.alternateId: {ann@example.com: [10]}}
  - Name: login 45 minutes after the reset
    ExpectedResult: false
    RuleOutputs:
      - ID: Reset
        Matches: {actor.alternateId: {ann@example.com: ["2024-06-01T10:00:00Z"]}}
      - ID: Login
        Matches: {actor.alternateId: {ann@example.com: ["2024-06-01T10:45:00Z"]}}
  - Name: login before the reset
    ExpectedResult: false
    RuleOutputs:
      - ID: Login
        Matches: {actor.alternateId: {ann@example.com: [0]}}
      - ID: Reset
        Matches: {actor.alternateId: {ann@example.com: [5]}}
  - Name: another user's login
    ExpectedResult: false
    RuleOutputs:
      - ID: Reset
        Matches: {actor.alternateId: {ann@example.com: [0]}}
      - ID: Login
        Matches: {actor.alternateId: {bob@example.com: [10]}}
"""

GROUP = """\
AnalysisType: correlation_rule
RuleID: Group.Two.Deletes.And.Invite
Enabled: true
Severity: High
Detection:
  - Group:
      - ID: Invite
        RuleID: Base.Invite
      - ID: Delete
        RuleID: Base.Delete
        MinMatchCount: 2
    MatchCriteria:
      actor:
        - GroupID: Invite
          Match: p_alert_context.actor
        - GroupID: Delete
          Match: p_alert_context.actor
    EventEvaluationOrder: Chronological
    LookbackWindowMinutes: 60
    Schedule: {RateMinutes: 60, TimeoutMinutes: 5}
Tests:
  - Name: two deletes, then the invite (any order)
    ExpectedResult: true
    RuleOutputs:
      - ID: Delete
        Matches: {p_alert_context.actor: {ann: [0, 3]}}
      - ID: Invite
        Matches: {p_alert_context.actor: {ann: [5]}}
  - Name: one delete is not enough
    ExpectedResult: false
    RuleOutputs:
      - ID: Invite
        Matches: {p_alert_context.actor: {ann: [0]}}
      - ID: Delete
        Matches: {p_alert_context.actor: {ann: [3]}}
  - Name: the second delete after the lookback window
    ExpectedResult: false
    RuleOutputs:
      - ID: Invite
        Matches: {p_alert_context.actor: {ann: [0]}}
      - ID: Delete
        Matches: {p_alert_context.actor: {ann: [1, 90]}}
"""


def test_sequence_lowers_and_its_tests_run(tmp_path: Path) -> None:
    [rule] = load_rules([write(tmp_path, "seq.yml", SEQUENCE)]).rules
    assert isinstance(rule.logic, Correlation) and rule.unsupported is None
    corr = rule.logic
    assert corr.kind == "sequence" and corr.timespan == 30 * 60 and corr.generate
    assert [(s.name, s.rule_ref, s.by) for s in corr.steps] == [
        ("Reset", "Base.Reset", ("actor.alternateId",)),
        ("Login", "Base.Login", ("actor.alternateId",)),
    ]
    # Disabled (as Panther ships most of them), its tests still run: all four verdicts hold.
    results = run_rule_tests([rule])
    assert [(r.actual, r.passed) for r in results] == [(True, True), (False, True), (False, True), (False, True)]


def test_wrong_expectation_fails(tmp_path: Path) -> None:
    text = SEQUENCE.replace("login 45 minutes after the reset\n    ExpectedResult: false",
                            "login 45 minutes after the reset\n    ExpectedResult: true")
    [rule] = load_rules([write(tmp_path, "seq.yml", text)]).rules
    assert [r.passed for r in run_rule_tests([rule])] == [True, False, True, True]


def test_group_needs_every_member_min_match_count_times_within_the_lookback(tmp_path: Path) -> None:
    [rule] = load_rules([write(tmp_path, "group.yml", GROUP)]).rules
    assert rule.logic.kind == "temporal" and rule.logic.timespan == 3600
    assert [s.runs for s in rule.logic.steps] == [1, 2]
    results = run_rule_tests([rule])
    assert [(r.actual, r.passed) for r in results] == [(True, True), (False, True), (False, True)], results


def test_absence_cannot_be_lowered_and_its_tests_are_skipped(tmp_path: Path) -> None:
    text = GROUP.replace("        MinMatchCount: 2\n", "        Absence: true\n")
    [rule] = load_rules([write(tmp_path, "absence.yml", text)]).rules
    assert rule.logic is None and "Absence" in rule.unsupported
    results = run_rule_tests([rule])
    assert all(r.skipped and r.passed and "pat test skips it" in r.detail for r in results)


def test_a_scan_raises_the_sequence_over_the_base_rules_matches(tmp_path: Path) -> None:
    base_rule(tmp_path, "Base.Reset", "user.account.reset_password")
    base_rule(tmp_path, "Base.Login", "user.session.start")
    write(tmp_path, "seq.yml", SEQUENCE.replace("Enabled: false", "Enabled: true"))
    result = load_rules([tmp_path])
    assert result.errors == ()

    def event(n: int, event_type: str, who: str, minute: int) -> dict:
        return {
            "uuid": f"e{n}",
            "published": f"2024-06-01T10:{minute:02d}:00.000Z",
            "eventType": event_type,
            "actor": {"alternateId": who},
        }

    events = [
        event(1, "user.account.reset_password", "ann@example.com", 0),
        event(2, "user.session.start", "bob@example.com", 5),  # another user: no sequence
        event(3, "user.session.start", "ann@example.com", 12),
    ]
    alerts = StreamingEngine(list(result.rules)).run(events)
    by_rule = {}
    for alert in alerts:
        by_rule.setdefault(alert.rule_id, []).append(alert)
    [sequence] = by_rule["Seq.Reset.Then.Login"]
    assert sequence.group_key == ("ann@example.com",) and set(sequence.event_ids) == {"e1", "e3"}
    # The correlated rules keep alerting on their own, as in Panther (deduplicated for an hour).
    assert [a.count for a in by_rule["Base.Reset"]] == [1] and [a.count for a in by_rule["Base.Login"]] == [2]


def test_a_scan_groups_on_the_base_rules_alert_context(tmp_path: Path) -> None:
    context = 'def alert_context(event):\n    return {"actor": event.deep_get("actor", "alternateId")}\n'
    base_rule(tmp_path, "Base.Invite", "user.lifecycle.create", context)
    base_rule(tmp_path, "Base.Delete", "user.lifecycle.delete.initiated", context)
    write(tmp_path, "group.yml", GROUP)
    result = load_rules([tmp_path])
    assert result.errors == ()
    events = [
        {"uuid": f"e{n}", "published": f"2024-06-01T10:0{n}:00.000Z", "eventType": t, "actor": {"alternateId": who}}
        for n, (t, who) in enumerate(
            [
                ("user.lifecycle.delete.initiated", "ann"),
                ("user.lifecycle.delete.initiated", "bob"),
                ("user.lifecycle.create", "ann"),
                ("user.lifecycle.delete.initiated", "ann"),
            ]
        )
    ]
    alerts = [a for a in StreamingEngine(list(result.rules)).run(events) if a.rule_id == "Group.Two.Deletes.And.Invite"]
    assert [(a.group_key, sorted(a.event_ids)) for a in alerts] == [(("ann",), ["e0", "e2", "e3"])]

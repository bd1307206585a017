"""Nothing unrecognised is silent, forced log types, Panther routing and standard fields, through
real scans of files (``tokentrail.scan``)."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import orjson
import pytest

from tokentrail import load_rules, scan
from tokentrail.errors import LogParseError
from tokentrail.rules.ir import Cmp
from tokentrail.rules.loader import LoadContext
from tokentrail.rules.model import LogSource, Rule
from tokentrail.schemas import UnknownLogType

TOKEN_CREATE = Rule(id="token-create", title="token create", format="sigma",
                    logic=Cmp("eventType", "eq", ("system.api_token.create",)),
                    logsource=LogSource(product="okta"))


def okta(i: int, event_type: str = "system.api_token.create") -> dict:
    return {"uuid": f"u{i}", "published": f"2026-11-30T08:{i % 60:02d}:00.000Z", "eventType": event_type,
            "actor": {"id": "00u1", "type": "User", "alternateId": "ava@example.com"},
            "client": {"ipAddress": "203.0.113.7"}}


def write(path: Path, events: list) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def test_unknown_events_are_counted_per_file_with_the_first_line(tmp_path):
    a = write(tmp_path / "a.jsonl", [okta(1), {"foo": 1}, okta(2), {"bar": 2}, {"baz": 3}])
    b = write(tmp_path / "b.jsonl", [{"nope": True}, okta(3)])
    result = scan([a, b], [TOKEN_CREATE])
    assert result.stats.unknown == {str(a): (3, 2), str(b): (1, 1)}
    assert result.stats.unknown_events == 4
    assert result.stats.summary_lines() == [f"4 events of no known log type in 2 files, first at {a}:2"]
    assert result.stats.summary_json()["unknown_by_file"][str(b)] == {"count": 1, "first_line": 1}
    assert len(result.alerts) == 3  # the known events still run


def test_recognised_events_no_rule_targets_are_counted_per_log_type(tmp_path):
    github = {"p_log_type": "GitHub.Audit", "action": "repo.create", "actor": "cat"}
    auth0 = {"log_id": "1", "data": {"type": "s", "date": "2026-11-30T08:00:00Z"}}
    path = write(tmp_path / "mixed.jsonl", [okta(1), github, github, auth0])
    result = scan([path], [TOKEN_CREATE])
    assert result.stats.no_rules == {"GitHub.Audit": 2, "auth0": 1}
    assert result.stats.unknown == {}
    assert result.stats.summary_lines() == [
        "3 events of log types no loaded rule targets: GitHub.Audit (2), auth0 (1)"]
    assert result.stats.summary_json() == {"unknown_events": 0, "unknown_by_file": {},
                                           "no_rule_events": {"GitHub.Audit": 2, "auth0": 1}}


def test_strict_makes_an_unknown_event_fatal_with_file_and_line(tmp_path):
    path = write(tmp_path / "s.jsonl", [okta(1), okta(2), {"foo": 1}])
    with pytest.raises(LogParseError) as err:
        scan([path], [TOKEN_CREATE], strict=True)
    assert str(err.value).startswith(f"{path}:3: event of no known log type")


def test_dead_letter_keeps_unknown_events(tmp_path):
    path = write(tmp_path / "d.jsonl", [okta(1), {"foo": 1}, {"bar": [2]}])
    kept = io.BytesIO()
    scan([path], [TOKEN_CREATE], dead_letter=kept)
    assert [orjson.loads(line) for line in kept.getvalue().splitlines()] == [{"foo": 1}, {"bar": [2]}]


def test_parallel_workers_count_the_same_as_one_process(tmp_path):
    events = []
    for i in range(3000):
        events.append(okta(i) if i % 7 else {"unknown": i})
        if i % 500 == 3:
            events.append({"p_log_type": "GitHub.Audit", "action": "x"})
        if i % 300 == 5:
            events.append(dict(okta(i), eventtype=okta(i)["eventType"], uuid=f"l{i}") | {"eventType": None})
    for event in events:
        if event.get("eventType", "") is None:  # a lower-case-only row: the canonical key removed
            del event["eventType"]
    path = write(tmp_path / "big.jsonl", events)
    one = scan([path], [TOKEN_CREATE])
    many = scan([path], [TOKEN_CREATE], workers=2, min_parallel_bytes=1)
    assert many.stats.unknown == one.stats.unknown == {str(path): (429, 1)}
    assert many.stats.no_rules == one.stats.no_rules == {"GitHub.Audit": 6}
    assert len(many.alerts) == len(one.alerts) == one.stats.matches > 2500
    kept = io.BytesIO()
    scan([path], [TOKEN_CREATE], workers=2, min_parallel_bytes=1, dead_letter=kept)
    assert len(kept.getvalue().splitlines()) == 429
    with pytest.raises(LogParseError, match=r"big\.jsonl:1: event of no known log type"):
        scan([path], [TOKEN_CREATE], workers=2, min_parallel_bytes=1, strict=True)


def test_log_type_forces_one_log_type_for_all_input(tmp_path):
    bare = {"eventtype": "system.api_token.create", "client": {"ipAddress": "192.0.2.1"}}
    path = write(tmp_path / "bare.jsonl", [bare, {"eventType": "user.session.start"}])
    assert scan([path], [TOKEN_CREATE]).stats.unknown_events == 2
    matches = []
    result = scan([path], [TOKEN_CREATE], log_type="okta", on_match=matches.append)
    assert result.stats.unknown == {} and [m.log_type for m in matches] == ["okta"]
    assert matches[0].event["eventType"] == "system.api_token.create"
    with pytest.raises(UnknownLogType, match="known: okta, auth0"):
        scan([path], [TOKEN_CREATE], log_type="octa")


def test_lower_case_okta_rows_alert_with_canonical_field_values(tmp_path):
    row = {"uuid": "u9", "published": "2026-11-30 08:00:00.000", "eventtype": "system.api_token.create",
           "actor": {"alternateId": "ava@example.com"}, "client": {"ipAddress": "203.0.113.7"}}
    matches = []
    result = scan([write(tmp_path / "lake.jsonl", [row])], [TOKEN_CREATE], on_match=matches.append)
    assert [a.event_ids for a in result.alerts] == [("u9",)]
    assert matches[0].time == 1796025600.0


def _panther_rule(directory: Path, name: str, log_types: list[str], body: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.yml").write_text(textwrap.dedent(f"""\
        AnalysisType: rule
        RuleID: {name}
        Enabled: true
        Filename: {name}.py
        LogTypes: {log_types}
        Severity: Low
        """), encoding="utf-8")
    (directory / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")


def test_panther_rules_see_standard_fields_and_generic_log_types(tmp_path):
    rules_dir = tmp_path / "rules"
    _panther_rule(rules_dir, "okta_ip", ["Okta.SystemLog"], """\
        def rule(event):
            return ("203.0.113.7" in (event.get("p_any_ip_addresses") or [])
                    and event.get("p_log_type") == "Okta.SystemLog"
                    and event.get("p_event_time", "").startswith("2026-11-30 08:"))
        """)
    _panther_rule(rules_dir, "github_destroy", ["GitHub.Audit"], """\
        def rule(event):
            return event.get("action") == "protected_branch.destroy"
        """)
    loaded = load_rules([rules_dir], context=LoadContext(allow_python=True))
    assert not loaded.errors
    github = {"p_log_type": "GitHub.Audit", "p_event_time": "2026-11-30 09:00:00.000",
              "action": "protected_branch.destroy", "actor": "cat", "event": "schedule"}
    path = write(tmp_path / "mixed.jsonl", [okta(1, "user.session.start"), github,
                                            dict(github, p_log_type="GitHub.Webhook")])
    matches = []
    result = scan([path], loaded, on_match=matches.append)
    assert sorted((m.rule_id, m.log_type, m.line) for m in matches) == [
        ("github_destroy", "GitHub.Audit", 2), ("okta_ip", "okta", 1)]
    assert result.stats.no_rules == {"GitHub.Webhook": 1}
    assert next(a for a in result.alerts if a.rule_id == "github_destroy").first_time == 1796029200.0


def test_standard_fields_are_added_only_where_a_python_rule_runs(tmp_path):
    matches = []
    scan([write(tmp_path / "o.jsonl", [okta(1)])], [TOKEN_CREATE], on_match=matches.append)
    assert not any(key.startswith("p_") for key in matches[0].event)

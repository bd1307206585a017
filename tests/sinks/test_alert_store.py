"""The SQLite alert store: one row per alert id whatever is delivered twice, and the filters of
``tokentrail alerts list``."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tokentrail.cli import app
from tokentrail.sinks.alert_store import AlertQuery, AlertStore


def alert(ident: str, rule: str, severity: str, first: str, source: str = "okta:acme", count: int = 1) -> dict:
    return {"id": ident, "rule_id": rule, "title": f"{rule} title", "severity": severity, "group_key": [],
            "window_start": None, "first_time": first, "last_time": first, "count": count,
            "event_ids": [f"e-{ident}"], "techniques": [], "fields": {}, "source": source}


ALERTS = [
    alert("a1", "token-created", "high", "2024-05-01T10:00:00.000Z"),
    alert("a2", "token-created", "high", "2024-05-02T10:00:00.000Z", source="okta:other"),
    alert("a3", "session-start", "low", "2024-05-03T10:00:00.000Z"),
    alert("a4", "burst", "critical", "2024-05-04T10:00:00.000Z"),
]


def store_with(tmp_path) -> AlertStore:
    store = AlertStore(tmp_path / "alerts.sqlite")
    store.deliver(ALERTS[:3])
    store.deliver([ALERTS[0] | {"count": 5}, ALERTS[3]])  # a1 again: replaced, not added
    return store


def test_an_alert_delivered_twice_is_one_row_holding_the_last_delivery(tmp_path):
    store = store_with(tmp_path)
    got = list(store.query(AlertQuery()))
    store.close()
    assert [a["id"] for a in got] == ["a1", "a2", "a3", "a4"]
    assert got[0]["count"] == 5


def test_filters_combine(tmp_path):
    store = store_with(tmp_path)
    ids = lambda **kw: [a["id"] for a in store.query(AlertQuery(**kw))]  # noqa: E731
    assert ids(rule="token-created") == ["a1", "a2"]
    assert ids(min_severity="high") == ["a1", "a2", "a4"]
    assert ids(since="2024-05-02T00:00:00.000Z") == ["a2", "a3", "a4"]
    assert ids(source="okta:other") == ["a2"]
    assert ids(rule="token-created", since="2024-05-02T00:00:00.000Z", limit=5) == ["a2"]
    assert ids(limit=2) == ["a1", "a2"]
    store.close()


def test_alerts_list_json_with_filters(tmp_path):
    store_with(tmp_path).close()
    path = str(tmp_path / "alerts.sqlite")
    result = CliRunner().invoke(app, ["alerts", "list", "--store", path, "--severity", "high", "--since",
                                      "2024-05-01T12:00:00+00:00", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["count"] == 2 and [a["id"] for a in doc["alerts"]] == ["a2", "a4"]
    table = CliRunner().invoke(app, ["alerts", "list", "--store", path, "--rule", "burst"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "burst title" in table.stdout and "token-created" not in table.stdout


def test_alerts_list_refuses_a_missing_or_foreign_file(tmp_path):
    missing = CliRunner().invoke(app, ["alerts", "list", "--store", str(tmp_path / "nope.sqlite")])
    assert missing.exit_code == 2 and "no such alert store" in missing.stderr
    foreign = tmp_path / "foreign.sqlite"
    foreign.write_bytes(b"x" * 4096)
    bad = CliRunner().invoke(app, ["alerts", "list", "--store", str(foreign)])
    assert bad.exit_code == 2 and "not a TokenTrail alert store" in bad.stderr
    bad_time = CliRunner().invoke(app, ["alerts", "list", "--store", str(foreign), "--since", "yesterday"])
    assert bad_time.exit_code == 2 and "not an ISO-8601 time" in bad_time.stderr

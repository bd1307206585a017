"""The alert table: fits 80 columns without wrapping ids, times or addresses; actor and source
IP from the alert's fields; "no alerts" instead of an empty table."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tokentrail import api
from tokentrail import simulate as sim
from tokentrail.alerting.models import Alert
from tokentrail.sinks.table import ACTOR_FIELDS, IP_FIELDS, alert_field, alerts_table

LONG_TITLE = "Okta OAuth Token Granted Through An Anonymizing Proxy To A Service App"


def alert(title: str = "Okta API Token Created", fields: dict | None = None, count: int = 1,
          severity: str = "critical") -> Alert:
    return Alert(id="f" * 24, rule_id="4c451c6b-0000-4000-8000-000000000001", title=title, severity=severity,
                 group_key=("x",), window_start=None, count=count, event_ids=("e-1",),
                 first_time=1736154156.0, last_time=1736154156.0, fields=fields or {})


def render(renderable, width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False, color_system=None).print(renderable)
    return out.getvalue().splitlines()


@pytest.mark.parametrize(("fields", "actor", "ip"), [
    ({"actor.alternateId": "ana@example.com", "client.ipAddress": "198.51.100.7"}, "ana@example.com", "198.51.100.7"),
    ({"data.user_name": "bo@example.com", "data.ip": "203.0.113.9"}, "bo@example.com", "203.0.113.9"),
    ({"USER_NAME": "cy@example.com", "SOURCE_IP": "192.0.2.1"}, "cy@example.com", "192.0.2.1"),
    ({"user.name": "di", "source.ip": "2001:db8::1"}, "di", "2001:db8::1"),
    ({"data.client_name": "Billing Service", "data.ip": "192.0.2.9"}, "Billing Service", "192.0.2.9"),
    ({"Actor": ["", "ed@example.com"], "IP": ["192.0.2.4"]}, "ed@example.com", "192.0.2.4"),  # lists, any case
    ({"USER_ID": "005000000000001", "CONNECTED_APP_ID": "0H4"}, "005000000000001", None),
    ({"actor": {"id": "nested"}}, None, None),
    ({}, None, None),
])
def test_actor_and_source_ip_from_the_alert_fields(fields, actor, ip):
    assert alert_field(fields, ACTOR_FIELDS) == actor
    assert alert_field(fields, IP_FIELDS) == ip


def test_users_come_before_clients():
    fields = {"data.client_name": "Billing Service", "data.user_name": "fa@example.com"}
    assert alert_field(fields, ACTOR_FIELDS) == "fa@example.com"


def test_no_alerts_is_said_in_words():
    assert render(alerts_table([]), 80) == ["no alerts"]


def test_fits_80_columns_without_wrapping_times_or_addresses():
    alerts = [alert(LONG_TITLE, {"actor.alternateId": "a.very.long.user.name@northwind-labs.example.com",
                                 "client.ipAddress": "255.255.255.255"}, count=12345),
              alert(fields={"actor.alternateId": "bo@example.com", "client.ipAddress": "192.0.2.1"})]
    lines = render(alerts_table(alerts), 80)
    assert max(map(len, lines)) <= 80
    assert lines[1].split() == ["time", "(UTC)", "severity", "rule", "actor", "source", "IP", "events"]
    rows = [line for line in lines if line.startswith("2025-")]
    assert len(rows) == 2  # one line each where the row starts: time, severity, IP and count never wrap
    first = rows[0].split()
    assert first[:3] == ["2025-01-06", "09:02", "critical"] and first[-2:] == ["255.255.255.255", "12345"]
    assert "…" in rows[0]  # the long actor is cut, not wrapped
    assert "bo@exampl…" in rows[1] and rows[1].split()[-2:] == ["192.0.2.1", "1"]
    # The title wraps by words under its own column.
    assert "Okta OAuth" in rows[0]
    assert any("Anonymizing" in line for line in lines if not line.startswith("2025-"))


def test_a_wide_terminal_shows_whole_titles_and_actors():
    alerts = [alert(LONG_TITLE, {"actor.alternateId": "a.very.long.user.name@northwind-labs.example.com",
                                 "client.ipAddress": "198.51.100.7"})]
    lines = render(alerts_table(alerts), 200)
    row = next(line for line in lines if line.startswith("2025-"))
    assert LONG_TITLE in row and "a.very.long.user.name@northwind-labs.example.com" in row


def test_demo_logs_table_at_80_columns(tmp_path):
    written = sim.write_logs(tmp_path / "logs", ["all"], events=3000, seed=7)
    result = api.scan(list(written.values()), api.load_rules())
    lines = render(alerts_table(result.alerts), 80)
    assert max(map(len, lines)) <= 80
    rows = [line for line in lines if line[:4].isdigit()]
    assert len(rows) == len(result.alerts) > 10
    with_actor = [r for r in rows if r.split()[-3] != "-"]
    assert len(with_actor) > len(rows) // 2  # the bundled rules output who acted

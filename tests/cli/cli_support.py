"""Helpers for the CLI tests: an in-process runner, rule texts, event builders, log file writers."""

from __future__ import annotations

import csv
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner, Result

from tokentrail.cli import app

# Wide enough that Rich never wraps a line the tests look for.
WIDE = {"COLUMNS": "300", "NO_COLOR": "1", "TERM": "dumb"}

OKTA_TOKEN_RULE_ID = "5b0e7c1a-0000-4000-8000-000000000001"
AUTH0_READ_RULE_ID = "5b0e7c1a-0000-4000-8000-000000000002"
SF_LOGIN_RULE_ID = "5b0e7c1a-0000-4000-8000-000000000003"

OKTA_TOKEN_RULE = f"""\
title: Okta API token created
id: {OKTA_TOKEN_RULE_ID}
status: test
level: high
tags: [attack.credential-access, attack.t1528]
logsource:
  product: okta
  service: okta
detection:
  selection:
    eventType: system.api_token.create
  condition: selection
fields: [actor.alternateId, client.ipAddress]
"""

AUTH0_READ_RULE = f"""\
title: Auth0 client secret read
id: {AUTH0_READ_RULE_ID}
status: test
level: medium
tags: [attack.t1528]
logsource:
  product: auth0
detection:
  selection:
    data.type: mgmt_api_read
    data.details.accessedSecrets{{}}: client_secret
  condition: selection
"""

SF_LOGIN_RULE = f"""\
title: Salesforce successful login from outside
id: {SF_LOGIN_RULE_ID}
status: test
level: low
tags: [attack.t1078.004]
logsource:
  product: salesforce
detection:
  selection:
    EVENT_TYPE: Login
    LOGIN_STATUS: LOGIN_NO_ERROR
  filter:
    SOURCE_IP|cidr: 10.0.0.0/8
  condition: selection and not filter
"""


def okta_event(n: int, event_type: str = "user.session.start", user: str = "alice@example.com") -> dict:
    """An Okta System Log record; ``n`` makes its uuid and time."""
    return {
        "uuid": f"okta-{n}",
        "published": f"2024-05-01T10:{n // 60:02d}:{n % 60:02d}.000Z",
        "eventType": event_type,
        "actor": {"id": "00u1", "type": "User", "alternateId": user},
        "client": {"ipAddress": "198.51.100.7"},
        "outcome": {"result": "SUCCESS"},
    }


def auth0_event(n: int, typ: str = "mgmt_api_read", secrets: tuple[str, ...] = ("client_secret",),
                client_id: str = "critical-client_id-1", description: str = "Get client by ID") -> dict:
    """An Auth0 log-stream envelope ``{"log_id", "data": {...}}``."""
    return {"log_id": f"a0-{n}", "data": {
        "date": f"2024-05-01T11:00:{n % 60:02d}.000Z",
        "type": typ,
        "description": description,
        "client_id": "mgmt-client",
        "ip": "203.0.113.9",
        "details": {"accessedSecrets": list(secrets), "response": {"body": {"client_id": client_id}}},
    }}


SF_COLUMNS = ["EVENT_TYPE", "TIMESTAMP", "TIMESTAMP_DERIVED", "REQUEST_ID", "USER_ID", "LOGIN_STATUS", "SOURCE_IP"]


def sf_row(n: int, event_type: str = "Login", status: str = "LOGIN_NO_ERROR", ip: str = "192.0.2.1") -> dict:
    """A Salesforce EventLogFile row (upper-case columns, as in the CSV export)."""
    return {"EVENT_TYPE": event_type, "TIMESTAMP": f"202405011200{n:02d}.000",
            "TIMESTAMP_DERIVED": f"2024-05-01T12:00:{n:02d}.000Z", "REQUEST_ID": f"req-{n}",
            "USER_ID": "005000000000001", "LOGIN_STATUS": status, "SOURCE_IP": ip}


@dataclass
class Cli:
    """Runs ``tokentrail`` in-process and writes the files a run needs."""

    root: Path

    def __call__(self, *args: str | Path, input: str | bytes | None = None) -> Result:
        runner = CliRunner()
        return runner.invoke(app, [str(a) for a in args], input=input, env=WIDE, catch_exceptions=False)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def jsonl(self, name: str, events: list[dict], extra_lines: dict[int, str] | None = None) -> Path:
        """JSON lines; ``extra_lines`` puts raw text at 1-based line numbers (malformed lines)."""
        lines = [json.dumps(e) for e in events]
        for lineno, raw in sorted((extra_lines or {}).items()):
            lines.insert(lineno - 1, raw)
        return self.write(name, "\n".join(lines) + "\n")

    def csv(self, name: str, rows: list[dict]) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=SF_COLUMNS, quoting=csv.QUOTE_ALL)
            writer.writeheader()
            writer.writerows(rows)
        return path

    def rules(self) -> Path:
        """A rule directory with the Okta, Auth0 and Salesforce rules above."""
        self.write("rules/okta_token.yml", OKTA_TOKEN_RULE)
        self.write("rules/auth0_read.yml", AUTH0_READ_RULE)
        self.write("rules/sf_login.yml", SF_LOGIN_RULE)
        return self.root / "rules"


def parse_jsonl(text: str) -> list[dict]:
    """Every non-blank line of ``text`` as JSON."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]

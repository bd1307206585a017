"""`tokentrail scan` over every kind of input: JSON lines, JSON arrays and wrappers, Auth0 log
streams, Salesforce CSV, gzip, directories and stdin."""

from __future__ import annotations

import gzip
import json

import pytest
from cli_support import (
    AUTH0_READ_RULE_ID,
    OKTA_TOKEN_RULE_ID,
    SF_LOGIN_RULE_ID,
    auth0_event,
    okta_event,
    parse_jsonl,
    sf_row,
)

OKTA_EVENTS = [okta_event(1), okta_event(2, "system.api_token.create"), okta_event(3),
               okta_event(4, "system.api_token.create", user="bob@example.com")]
OKTA_HITS = {(OKTA_TOKEN_RULE_ID, ("okta-2",)), (OKTA_TOKEN_RULE_ID, ("okta-4",))}

AUTH0_EVENTS = [auth0_event(1), auth0_event(2, secrets=()), auth0_event(3, typ="s"),
                auth0_event(4, secrets=("client_secret", "signing_keys"))]
AUTH0_HITS = {(AUTH0_READ_RULE_ID, ("a0-1",)), (AUTH0_READ_RULE_ID, ("a0-4",))}

SF_ROWS = [sf_row(1), sf_row(2, status="LOGIN_ERROR_INVALID_PASSWORD"), sf_row(3, ip="10.1.2.3"),
           sf_row(4, event_type="API", status="")]
SF_HITS = {(SF_LOGIN_RULE_ID, ("req-1",))}


def hits(stdout: str) -> set[tuple[str, tuple[str, ...]]]:
    return {(a["rule_id"], tuple(a["event_ids"])) for a in parse_jsonl(stdout)}


def scan_jsonl(cli, *paths, input=None):
    result = cli("scan", *paths, "-r", cli.rules(), "--format", "jsonl", input=input)
    assert result.exit_code == 0, result.stderr
    return result


def test_okta_json_lines(cli):
    result = scan_jsonl(cli, cli.jsonl("okta.jsonl", OKTA_EVENTS))
    assert hits(result.stdout) == OKTA_HITS
    assert "4 events read, 0 skipped, 2 matched (2 matches), 2 alert(s)\n3 rules: 3 raise alerts" in result.stderr


@pytest.mark.parametrize("wrap", [
    lambda events: events,
    lambda events: {"records": events},
    lambda events: {"hits": {"hits": [{"_index": "okta", "_source": e} for e in events]}},
], ids=["array", "records-wrapper", "elasticsearch-hits"])
def test_okta_json_documents(cli, wrap):
    path = cli.write("okta.json", json.dumps(wrap(OKTA_EVENTS), indent=1))
    assert hits(scan_jsonl(cli, path).stdout) == OKTA_HITS


def test_auth0_log_stream_json_lines(cli):
    assert hits(scan_jsonl(cli, cli.jsonl("auth0.jsonl", AUTH0_EVENTS)).stdout) == AUTH0_HITS


def test_salesforce_csv(cli):
    result = scan_jsonl(cli, cli.csv("EventLogFile.csv", SF_ROWS))
    assert hits(result.stdout) == SF_HITS
    assert "4 events read" in result.stderr


def test_gzip_json_lines(cli, tmp_path):
    path = tmp_path / "okta.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(e) + "\n" for e in OKTA_EVENTS).encode()))
    assert hits(scan_jsonl(cli, path).stdout) == OKTA_HITS


def test_gzip_csv(cli, tmp_path):
    plain = cli.csv("sf.csv", SF_ROWS)
    gz = tmp_path / "logs" / "sf.csv.gz"
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    assert hits(scan_jsonl(cli, gz).stdout) == SF_HITS


def test_directory_is_walked_for_every_log_kind(cli, tmp_path):
    cli.jsonl("logs/okta/day1.jsonl", OKTA_EVENTS)
    cli.jsonl("logs/auth0/stream.ndjson", AUTH0_EVENTS)
    cli.csv("logs/sf/Login.csv", SF_ROWS)
    cli.write("logs/README.txt", "not a log: the walk skips it\n")
    result = cli("scan", tmp_path / "logs", "-r", cli.rules(), "--format", "json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {(a["rule_id"], tuple(a["event_ids"])) for a in doc["alerts"]} == OKTA_HITS | AUTH0_HITS | SF_HITS
    assert doc["summary"]["events_read"] == 12
    assert doc["summary"]["matched_events"] == 5


def test_stdin_dash(cli):
    text = "".join(json.dumps(e) + "\n" for e in OKTA_EVENTS + AUTH0_EVENTS)
    result = scan_jsonl(cli, "-", input=text)
    assert hits(result.stdout) == OKTA_HITS | AUTH0_HITS
    assert "8 events read" in result.stderr


def test_stdin_and_file_together(cli):
    path = cli.jsonl("auth0.jsonl", AUTH0_EVENTS)
    text = "".join(json.dumps(e) + "\n" for e in OKTA_EVENTS)
    assert hits(scan_jsonl(cli, "-", path, input=text).stdout) == OKTA_HITS | AUTH0_HITS


def test_unknown_events_are_read_but_match_nothing(cli):
    path = cli.jsonl("other.jsonl", [{"foo": 1}, {"eventType": "system.api_token.create"}])
    result = scan_jsonl(cli, path)
    assert result.stdout == ""
    assert "2 events read, 0 skipped, 0 matched" in result.stderr

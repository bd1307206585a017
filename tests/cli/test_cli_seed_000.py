"""Seed 000 (an Auth0 Sigma rule from a catalog page) loaded as written and run by the CLI over an
Auth0 log-stream export."""

from __future__ import annotations

import json

import pytest
from cli_support import auth0_event, parse_jsonl

from seed_docs import seed_text

SEED_ID = "2d7087d2-716d-11f0-ba3b-723487b9527c"


def seed_000_yaml() -> str:
    """The rule of seed 000, verbatim: the lines between "Rule body yaml" and "Stages and Predicates"."""
    lines = seed_text("000").splitlines()
    start = lines.index("Rule body yaml") + 1
    end = lines.index("Stages and Predicates")
    return "\n".join(lines[start:end]) + "\n"


@pytest.fixture
def seed_rule(tmp_path):
    path = tmp_path / "seed_000.yml"
    path.write_text(seed_000_yaml(), encoding="utf-8")
    return path


STREAM = [
    auth0_event(1),                                                   # fires
    auth0_event(2, client_id="some-other-client"),                    # not a watched client
    auth0_event(3, secrets=()),                                       # no secret in the response
    auth0_event(4, client_id="critical-client_id-etc",
                secrets=("signing_keys", "client_secret")),           # fires: the array holds it
    auth0_event(5, description="Get clients"),                        # another API call
    auth0_event(6, typ="mgmt_api_update"),                            # not a read
    auth0_event(7, client_id="CRITICAL-CLIENT_ID-1"),                 # fires: Sigma strings ignore case
]


def test_seed_000_fires_on_auth0_log_stream(cli, seed_rule, tmp_path):
    logs = cli.jsonl("auth0-stream.jsonl", STREAM)
    matches = tmp_path / "matches.jsonl"
    result = cli("scan", logs, "-r", seed_rule, "--format", "json", "--matches", matches)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [(a["rule_id"], a["event_ids"]) for a in doc["alerts"]] == [
        (SEED_ID, ["a0-1"]), (SEED_ID, ["a0-4"]), (SEED_ID, ["a0-7"])]
    alert = doc["alerts"][0]
    assert alert["title"] == "High risk event - risk of copying client credentials"
    assert alert["severity"] == "medium" and alert["techniques"] == ["T1528"]
    assert alert["first_time"] == "2024-05-01T11:00:01.000Z"
    assert doc["summary"]["events_read"] == 7 and doc["summary"]["matches"] == 3
    rows = parse_jsonl(matches.read_text())
    assert [(m["line"], m["log_type"], m["source"]) for m in rows] == [
        (1, "auth0", str(logs)), (4, "auth0", str(logs)), (7, "auth0", str(logs))]
    assert rows[1]["event"] == STREAM[3]


def test_seed_000_from_stdin_and_as_management_api_records(cli, seed_rule):
    # The same records without the log-stream envelope, as GET /api/v2/logs returns them.
    records = [dict(e["data"], log_id=e["log_id"]) for e in STREAM]
    text = "".join(json.dumps(r) + "\n" for r in records)
    result = cli("scan", "-", "-r", seed_rule, "--format", "jsonl", input=text)
    assert result.exit_code == 0, result.stderr
    assert [a["event_ids"] for a in parse_jsonl(result.stdout)] == [["a0-1"], ["a0-4"], ["a0-7"]]


def test_seed_000_listed_and_valid(cli, seed_rule):
    listed = json.loads(cli("rules", "list", "-r", seed_rule, "--format", "json").stdout)
    assert [(r["id"], r["severity"], r["techniques"], r["log_types"], r["status"]) for r in listed] == [
        (SEED_ID, "medium", ["T1528"], ["auth0"], "ok")]
    validated = cli("rules", "validate", "-r", seed_rule)
    assert validated.exit_code == 0, validated.stderr
    assert "1 rule(s) loaded, 1 runnable, 0 problem(s)" in validated.stdout

"""`tokentrail rules show`: the seeds' stages, indicators, output fields and investigation guide."""

import json
from pathlib import Path

from seed_docs import seed_text

REPO = Path(__file__).resolve().parents[2]
PANTHER = REPO / "src" / "tokentrail" / "content" / "rules" / "panther"


def seed_000(tmp_path):
    text = seed_text("000")
    body = text.split("Rule body yaml", 1)[1].split("Stages and Predicates", 1)[0]
    path = tmp_path / "seed000.yml"
    path.write_text(body)
    return path


def show(cli, *args):
    result = cli("rules", "show", *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_seed_000_stages_and_indicators(cli, tmp_path):
    shown = show(cli, "2d7087d2-716d-11f0-ba3b-723487b9527c", "-r", seed_000(tmp_path))
    assert shown["techniques"] == ["T1528"]
    assert shown["stages"][0]["name"] == "condition"
    assert "data.details.accessedSecrets{}: client_secret" in shown["stages"][0]["logic"]
    fields = {(i["field"], i["op"]): i["values"] for i in shown["indicators"]}
    assert fields[("data.details.response.body.client_id", "eq")] == ["critical-client_id-1", "critical-client_id-etc"]
    assert fields[("data.type", "eq")] == ["mgmt_api_read"]
    assert shown["guide"]["explanation"].startswith("The query collects log entries")
    assert shown["metadata"]["splunk"].startswith("index=auth0")


def test_seed_001_investigation_guide(cli):
    shown = show(cli, _seed_001_id(), "-r", REPO / "tests" / "data" / "elastic" / "okta_api_token_create.toml")
    assert "Investigating Attempt to Create Okta API Token" in shown["guide"]["note"]
    assert shown["severity"] == "medium" and shown["metadata"]["risk_score"] == 47
    assert shown["techniques"] == ["T1136"]


def _seed_001_id():
    from tokentrail.rules.loader import load_rules

    [rule] = load_rules([REPO / "tests" / "data" / "elastic" / "okta_api_token_create.toml"]).rules
    return rule.id


def test_seed_002_output_fields_and_runbook(cli):
    shown = show(cli, "Salesforce.OAuth.Credential.Abuse", "-r", PANTHER / "salesforce_oauth_credential_abuse.yml")
    labels = [o["label"] for o in shown["output_fields"]]
    assert labels[:3] == ["EVENT_TYPE", "USER_ID", "USER_NAME"] and "SESSION_KEY" in labels
    assert shown["guide"]["runbook"].startswith("1. Identify the event type")
    assert shown["stages"] == [
        {"name": "python", "logic": str(PANTHER / "salesforce_oauth_credential_abuse.py")},
        {"name": "condition (lifted)",
         "logic": "EVENT_TYPE|cased: [OAuthTokenRevoked, OAuthTokenRefreshFailed, ApiTotalUsage, ApiConnectedApp]"
                  " or EVENT_TYPE|contains: oauth"},
    ]


def test_table_view_and_unknown_rule(cli):
    result = cli("rules", "show", "2f14fc93")
    assert result.exit_code == 0
    assert "investigation guide" in result.stdout and ">= 4 distinct source.ip" in result.stdout
    missing = cli("rules", "show", "no-such-rule")
    assert missing.exit_code == 2 and "0 rules match" in missing.stderr

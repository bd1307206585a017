"""The Azure log types: activity log and resource log (Key Vault AuditEvent) records, natively
and as Elastic's Azure integration indexes them; detection, time, routing and field mapping."""

from __future__ import annotations

import json

import orjson
import pytest

from tokentrail import load_rules, scan
from tokentrail.rules.model import LogSource
from tokentrail.schemas import detect_log_type, event_id, event_time, field_map, get_log_type, log_types_for
from tokentrail.schemas.fieldlists import field_lists

VAULT = "/SUBSCRIPTIONS/5F0C2B8E-0D1A-4C57-9A77-0B7E2C1D9E41/RESOURCEGROUPS/PAYROLL/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/PAYROLL-KV"

# A Key Vault AuditEvent record in the shape Microsoft documents (values made up here).
KEY_VAULT_RECORD = {
    "time": "2026-11-30T09:12:44.5163021Z",
    "resourceId": VAULT,
    "operationName": "SecretGet",
    "operationVersion": "7.4",
    "category": "AuditEvent",
    "resultType": "Success",
    "resultSignature": "OK",
    "resultDescription": "",
    "durationMs": "12",
    "callerIpAddress": "203.0.113.77",
    "correlationId": "5c3c2f52-6a0e-4c41-8d0b-2f3f4f0e9a10",
    "identity": {"claim": {"oid": "7e1b9a52-3c11-4f0e-9d2b-8a6c5f4e3d21", "upn": "ops@example.org",
                           "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46"}},
    "properties": {"id": "https://payroll-kv.vault.azure.net/secrets/db-password",
                   "requestUri": "https://payroll-kv.vault.azure.net/secrets/db-password?api-version=7.4",
                   "clientInfo": "azsdk-python-keyvault-secrets/4.7.0", "httpStatusCode": 200},
}

# An activity log record as a diagnostic setting exports it (values made up here).
ACTIVITY_RECORD = {
    "time": "2026-11-30T09:20:01.0000000Z",
    "resourceId": "/SUBSCRIPTIONS/5F0C2B8E-0D1A-4C57-9A77-0B7E2C1D9E41/PROVIDERS/MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/9D1E",
    "operationName": "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE",
    "category": "Administrative",
    "resultType": "Success",
    "resultSignature": "Succeeded.Created",
    "durationMs": 1830,
    "callerIpAddress": "198.51.100.14",
    "correlationId": "0a6f3c1e-2b7d-4e8f-9a01-23456789abcd",
    "identity": {
        "authorization": {"scope": "/subscriptions/5f0c2b8e", "action": "Microsoft.Authorization/roleAssignments/write",
                          "evidence": {"role": "Owner", "principalId": "31d4", "principalType": "User"}},
        "claims": {"appid": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "name": "Dana Ops",
                   "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "dana@example.org"},
    },
    "level": "Information",
    "location": "global",
    "properties": {"statusCode": "Created", "serviceRequestId": "c2f1", "eventCategory": "Administrative"},
}


def test_native_records_are_told_apart():
    assert detect_log_type(KEY_VAULT_RECORD) == "azure.platformlogs"
    assert detect_log_type(ACTIVITY_RECORD) == "azure.activitylogs"
    no_claims = {k: v for k, v in ACTIVITY_RECORD.items() if k != "identity"}
    no_claims["identity"] = {"authorization": ACTIVITY_RECORD["identity"]["authorization"]}
    assert detect_log_type(no_claims) == "azure.activitylogs"
    # A resource log of another service (no Key Vault claims at all) is still a resource log.
    storage = {k: KEY_VAULT_RECORD[k] for k in ("time", "resourceId", "operationName", "category")}
    assert detect_log_type(storage) == "azure.platformlogs"
    assert detect_log_type({"time": "2026-01-01T00:00:00Z", "operationName": "x"}) is None


def test_times_with_seven_fraction_digits_and_no_vendor_id():
    assert event_time(KEY_VAULT_RECORD, "azure.platformlogs") == pytest.approx(1796029964.516302)
    assert event_time(ACTIVITY_RECORD, "azure.activitylogs") == pytest.approx(1796030401.0)
    # No per-record id: correlationId and properties.id are shared by distinct records.
    assert event_id(KEY_VAULT_RECORD, "azure.platformlogs") is None
    assert event_id(ACTIVITY_RECORD, "azure.activitylogs") is None


def test_ecs_documents_by_dataset():
    assert detect_log_type({"@timestamp": "2026-11-30T09:12:44Z",
                            "event": {"dataset": "azure.platformlogs", "action": "SecretGet"}}) == "ecs.azure.platformlogs"
    assert detect_log_type({"@timestamp": "2026-11-30T09:12:44Z",
                            "data_stream": {"dataset": "azure.activitylogs"}}) == "ecs.azure.activitylogs"
    assert get_log_type("ecs.azure.platformlogs").product == "azure"


@pytest.mark.parametrize(("logsource", "expected"), [
    (LogSource(product="azure"), ("azure.activitylogs", "azure.platformlogs", "ecs.azure.activitylogs",
                                  "ecs.azure.platformlogs")),
    (LogSource(product="azure", service="activitylogs"), ("azure.activitylogs", "ecs.azure.activitylogs")),
    (LogSource(product="azure", service="keyvault"), ("azure.platformlogs", "ecs.azure.platformlogs")),
    (LogSource(product="Azure", service="PlatformLogs"), ("azure.platformlogs", "ecs.azure.platformlogs")),
    (LogSource(product="azure", service="signinlogs"), ("azure.activitylogs", "azure.platformlogs",
                                                        "ecs.azure.activitylogs", "ecs.azure.platformlogs")),
])
def test_sigma_product_azure_routes_by_service(logsource, expected):
    assert log_types_for(logsource) == expected


def test_native_fields_map_to_elastics_names_and_back():
    to_ecs = field_map("ecs.azure.platformlogs", "native")
    assert to_ecs.get("operationName") == "event.action"
    assert to_ecs.get("OperationName") == "event.action"  # SIEM copies capitalise the envelope
    assert to_ecs.get("resultSignature") == "azure.platformlogs.result_signature"
    assert to_ecs.get("identity.claim.oid") == "azure.platformlogs.identity.claim.oid"
    assert to_ecs.get("callerIpAddress") == "source.ip"
    activity = field_map("ecs.azure.activitylogs", "native")
    assert activity.get("identity.authorization.evidence.principalId") == (
        "azure.activitylogs.identity.authorization.evidence.principal_id")
    back = field_map("azure.activitylogs", "ecs")
    assert back.get("azure.activitylogs.operation_name") == "operationName"
    assert back.get("event.action") == "operationName"
    assert back.get("source.ip") == "callerIpAddress"


def test_field_lists_know_key_vault_fields():
    lists = field_lists()
    assert lists["azure.platformlogs"].knows("properties.requestUri")
    assert lists["azure.platformlogs"].knows("identity.claim.oid")
    assert not lists["azure.platformlogs"].knows("operationNmae")
    assert lists["ecs.azure.platformlogs"].knows("azure.platformlogs.properties.requestUri")


RULE = """\
title: Key Vault secret read by one identity (test)
id: 3f0e6c1a-9d4b-4e21-8a57-1c2d3e4f5a6b
status: test
logsource: {product: azure, service: keyvault}
detection:
  selection:
    operationName: SecretGet
    identity.claim.oid: 7e1b9a52-3c11-4f0e-9d2b-8a6c5f4e3d21
    properties.requestUri|contains: /secrets/
  condition: selection
level: low
"""


def _ecs_form(record: dict) -> dict:
    return {"@timestamp": record["time"], "event": {"dataset": "azure.platformlogs", "action": record["operationName"]},
            "azure": {"resource": {"id": record["resourceId"]},
                      "platformlogs": {"category": record["category"], "identity": record["identity"],
                                       "properties": record["properties"]}},
            "source": {"ip": record["callerIpAddress"]}}


def test_a_sigma_rule_fires_on_native_records_envelope_and_ecs_form(tmp_path):
    rule = tmp_path / "rule.yml"
    rule.write_text(RULE, encoding="utf-8")
    rules = load_rules([rule])
    assert not rules.errors, [str(e) for e in rules.errors]
    other = {**KEY_VAULT_RECORD, "identity": {"claim": {"oid": "someone-else"}}}
    envelope = tmp_path / "PT1H.json"
    envelope.write_text(json.dumps({"records": [KEY_VAULT_RECORD, other, ACTIVITY_RECORD]}), encoding="utf-8")
    ecs = tmp_path / "ecs.ndjson"
    ecs.write_bytes(orjson.dumps(_ecs_form(KEY_VAULT_RECORD)) + b"\n" + orjson.dumps(_ecs_form(other)) + b"\n")
    result = scan([envelope, ecs], rules)
    assert result.stats.events == 5
    assert len(result.alerts) == 2
    assert not result.rule_errors


def test_an_activity_record_carrying_its_event_id_is_taken_once(tmp_path):
    with_id = {**ACTIVITY_RECORD, "eventDataId": "44b1c7d2-5e6f-4a8b-9c0d-1e2f3a4b5c6d"}
    assert event_id(with_id, "azure.activitylogs") == "44b1c7d2-5e6f-4a8b-9c0d-1e2f3a4b5c6d"
    path = tmp_path / "activity.jsonl"
    # The same record twice (an overlapping export), and two id-less records that are alike.
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in (with_id, with_id, ACTIVITY_RECORD, ACTIVITY_RECORD)))
    result = scan([path], [])
    assert result.stats.duplicates == 1 and result.stats.no_rules == {"azure.activitylogs": 3}

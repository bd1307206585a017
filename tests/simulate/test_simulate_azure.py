"""The Azure simulator: benign Key Vault use stays narrow, the MicroBurst sweep reads everything."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from tokentrail.schemas import detect_log_type, event_time
from tokentrail.simulate import SCENARIOS, generate_items
from tokentrail.simulate.azure import AZURE_POWERSHELL, build_subscription
from tokentrail.simulate.ids import Ids, SimRandom
from tokentrail.simulate.org import build_org


def _org(seed: int, events: int):
    """The organisation ``generate`` builds for this seed and size."""
    rng = SimRandom(seed)
    return build_org(rng, Ids(rng), employees=max(20, events // 150))


def _azure(scenarios: list[str], events: int, seed: int) -> list[dict]:
    return [e for _, _, e in generate_items(scenarios, events=events, seed=seed, sources=("azure",))]


@pytest.fixture(scope="module")
def benign() -> list[dict]:
    return _azure(["benign"], 6000, 13)


def test_records_are_recognised_with_their_own_time(benign):
    kinds = {detect_log_type(e) for e in benign}
    assert kinds == {"azure.platformlogs", "azure.activitylogs"}
    assert all(event_time(e, detect_log_type(e)) for e in benign[:500])


def test_no_benign_identity_touches_more_than_two_vaults(benign):
    vaults = defaultdict(set)
    for e in benign:
        if e["category"] == "AuditEvent":
            vaults[e["identity"]["claim"]["oid"]].add(e["resourceId"])
    assert len(vaults) > 20
    assert max(len(v) for v in vaults.values()) <= 2


def test_applications_read_only_their_own_secrets(benign):
    by_app = defaultdict(set)
    for e in benign:
        claim = e.get("identity", {}).get("claim", {})
        if claim.get("idtyp") == "app":
            by_app[claim["oid"]].add((e["operationName"], e["resourceId"]))
    assert by_app
    for reads in by_app.values():
        assert {op for op, _ in reads} == {"SecretGet"} and len({vault for _, vault in reads}) == 1


def test_administrative_writes_come_as_start_and_success_pairs(benign):
    writes = defaultdict(list)
    for e in benign:
        if e["category"] == "Administrative":
            writes[e["correlationId"]].append(e["resultType"])
    assert writes
    assert all(phases == ["Start", "Success"] for phases in writes.values())


def test_the_microburst_sweep_reads_every_secret_of_every_vault_in_minutes():
    run = _azure(["azure-key-vault-dump"], 1500, 13)
    sweep = [e for e in run if e["category"] == "AuditEvent"
             and e["identity"]["claim"]["appid"] == AZURE_POWERSHELL]
    subscription = build_subscription(_org(13, 1500))
    assert len({e["identity"]["claim"]["oid"] for e in sweep}) == 1
    assert len({e["callerIpAddress"] for e in sweep}) == 1
    vaults = {v.resource_id for v in subscription.vaults}
    assert len(vaults) >= 5
    seen = defaultdict(set)
    for e in sweep:
        seen[e["operationName"]].add(e["resourceId"])
    assert seen["VaultGet"] == seen["SecretList"] == seen["SecretGet"] == vaults
    secrets_read = {e["properties"]["id"].rsplit("/", 1)[0] for e in sweep if e["operationName"] == "SecretGet"}
    assert len(secrets_read) == sum(len(v.secrets) for v in subscription.vaults)
    times = [event_time(e, "azure.platformlogs") for e in sweep]
    assert max(times) - min(times) < 300
    assert set(SCENARIOS["azure-key-vault-dump"].techniques) >= {"T1528", "T1555.006"}


def test_the_subscription_is_the_same_for_the_same_organisation():
    org = _org(4, 3000)
    assert build_subscription(org) == build_subscription(org)
    assert all(app.vault in build_subscription(org).vaults for app in build_subscription(org).apps)


def _role_writes(events: list[dict]) -> list[dict]:
    return [e for e in events if e["operationName"] == "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE"
            and e["resultType"] == "Start"]


def test_benign_role_assignments_stay_inside_one_resource_group(benign):
    writes = _role_writes(benign)
    assert writes
    for e in writes:
        assert "/RESOURCEGROUPS/" in e["resourceId"]
        body = json.loads(e["properties"]["requestbody"])
        assert "/resourceGroups/" in body["Properties"]["Scope"]


def test_the_role_grant_scenario_assigns_a_user_and_a_service_principal_over_the_subscription():
    run = _azure(["azure-subscription-role-grant"], 1500, 13)
    wide = [e for e in _role_writes(run) if "/RESOURCEGROUPS/" not in e["resourceId"]]
    bodies = [json.loads(e["properties"]["requestbody"])["Properties"] for e in wide]
    assert sorted(b["PrincipalType"] for b in bodies) == ["ServicePrincipal", "User"]
    assert all(b["Scope"].count("/") == 2 for b in bodies)  # /subscriptions/<id>
    assert len({e["callerIpAddress"] for e in wide}) == 1

"""Azure Monitor records of one subscription: Key Vault ``AuditEvent`` resource logs and activity
log entries, and the benign activity behind them.

``AzureLog`` builds records; ``app_reader``, ``developer_session`` and ``admin_session`` are
processes yielding ``(epoch_ms, "azure", record)`` in time order. Benign use is narrow: an
application reads its own few secrets from its own vault, a developer fetches a secret or two
from their team's vault, an administrator opens the two vaults they look after and sometimes
changes something. No benign identity touches more than two vaults.

The subscription (vaults, secrets, application identities) is drawn from its own generator
seeded by the organisation, so building it takes nothing from the run's shared random stream.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tokentrail.simulate.ids import Ids, SimRandom, iso_ms
from tokentrail.simulate.org import Org, Person

SOURCE = "azure"
Item = tuple[int, str, dict[str, Any]]
KEY_VAULT_API = "7.4"
ARM_API = "2023-07-01"
# Well-known first-party client ids of Microsoft's own tools (the `appid` claim of their tokens).
AZURE_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
AZURE_POWERSHELL = "1950a258-227b-4e31-a9cf-717495945fc2"
AZURE_PORTAL = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
ARM_CLIENT = "azure-resource-manager/2.0"
_NAMESPACE = uuid.UUID("8f3c2d1e-5b4a-4c9d-8e7f-6a5b4c3d2e1f")  # TokenTrail's, for stable object ids
_TEAMS = ("payroll", "web", "data", "billing", "identity", "mobile", "ops", "search")
_SECRETS = ("db-password", "api-key", "storage-connection", "smtp-password", "jwt-signing-key",
            "service-bus-sas", "partner-token", "redis-password", "webhook-secret", "client-secret")
_APP_AGENTS = ("azsdk-net-Security.KeyVault.Secrets/4.6.0 (.NET 8.0.4; Linux)",
               "azsdk-python-keyvault-secrets/4.8.0 Python/3.12.3 (Linux)",
               "azsdk-java-azure-security-keyvault-secrets/4.8.2 (17.0.10; Linux)")
# Azure public egress prefixes where the subscription's own workloads run.
_AZURE_PREFIXES = ("20.50", "40.74", "52.166")
# Built-in role definition ids (the same in every tenant).
ROLE_DEFINITIONS = {
    "Owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}
_ADMIN_WRITES = (
    ("MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE", "role"),
    ("MICROSOFT.KEYVAULT/VAULTS/WRITE", "vault"),
    ("MICROSOFT.RESOURCES/DEPLOYMENTS/WRITE", "deployment"),
    ("MICROSOFT.COMPUTE/VIRTUALMACHINES/RESTART/ACTION", "vm"),
)


@dataclass(frozen=True, slots=True)
class Vault:
    """A key vault: its name, resource group, ARM resource id (as Key Vault logs spell it) and secrets."""

    name: str
    group: str
    resource_id: str
    secrets: tuple[str, ...]
    keys: tuple[str, ...]

    @property
    def url(self) -> str:
        """The vault's data-plane address."""
        return f"https://{self.name}.vault.azure.net"


@dataclass(frozen=True, slots=True)
class AzureApp:
    """A workload identity (managed identity) reading a few secrets from one vault."""

    name: str
    app_id: str
    object_id: str
    vault: Vault
    secrets: tuple[str, ...]
    ip: str
    agent: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """The Azure subscription of the organisation."""

    tenant_id: str
    subscription_id: str
    location: str
    vaults: tuple[Vault, ...]
    apps: tuple[AzureApp, ...]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request: token claims, address and client."""

    object_id: str
    app_id: str
    ip: str
    client_info: str
    upn: str = ""

    def key_vault_claims(self, tenant_id: str) -> dict[str, str]:
        """The ``identity.claim`` map of a Key Vault record."""
        claims = {"oid": self.object_id, "appid": self.app_id, "tid": tenant_id,
                  "idtyp": "user" if self.upn else "app"}
        if self.upn:
            claims["upn"] = self.upn
        return claims


def build_subscription(org: Org) -> Subscription:
    """The organisation's subscription, the same for the same organisation."""
    rng = SimRandom(f"azure:{org.domain}:{org.sf_org_id}")
    ids = Ids(rng)
    subscription_id = ids.uuid()
    vaults = []
    for team in _TEAMS:
        for stage in ("prod", "dev") if team in _TEAMS[:3] else ("prod",):
            name = f"kv-{team}-{stage}-{ids.hex(4)}"
            group = f"rg-{team}-{stage}"
            rid = (f"/SUBSCRIPTIONS/{subscription_id}/RESOURCEGROUPS/{group}/PROVIDERS/"
                   f"MICROSOFT.KEYVAULT/VAULTS/{name}").upper()
            secrets = tuple(sorted(rng.sample(_SECRETS, rng.randint(3, 6))))
            keys = ("data-encryption",) if rng.random() < 0.5 else ()
            vaults.append(Vault(name, group, rid, secrets, keys))
    apps = tuple(
        AzureApp(f"{vault.name.rsplit('-', 1)[0].removeprefix('kv-')}-api", ids.uuid(), ids.uuid(), vault,
                 tuple(rng.sample(vault.secrets, min(len(vault.secrets), rng.randint(1, 3)))),
                 ids.ip(rng.choice(_AZURE_PREFIXES)), rng.choice(_APP_AGENTS))
        for vault in vaults if vault.name.split("-")[2] == "prod")
    return Subscription(ids.uuid(), subscription_id, "westeurope", tuple(vaults), apps)


def azure_time(ms: int) -> str:
    """Epoch milliseconds as Azure Monitor writes times: seven fraction digits, ``Z``."""
    return iso_ms(ms)[:-1] + "0000Z"


class AzureLog:
    """Builds Azure Monitor records for the organisation's subscription."""

    def __init__(self, org: Org, rng: random.Random, ids: Ids) -> None:
        self.org = org
        self.rng = rng
        self.ids = ids
        self.subscription = build_subscription(org)

    def person_caller(self, person: Person, ip: str, *, app_id: str = AZURE_CLI, client_info: str = "") -> Caller:
        """A person's token as Key Vault sees it (object id stable per person)."""
        oid = str(uuid.uuid5(_NAMESPACE, person.okta_id))
        return Caller(oid, app_id, ip, client_info or "azure-cli/2.61.0 (MSI)", person.email)

    def team_vault(self, person: Person) -> Vault:
        """The vault of the person's team (fixed per person)."""
        return self.looked_after(person)[0]

    def looked_after(self, person: Person) -> tuple[Vault, Vault]:
        """The two vaults a person works with: their team's and its neighbour (fixed per person),
        so no benign person ever touches more than two."""
        vaults = self.subscription.vaults
        first = uuid.uuid5(_NAMESPACE, person.okta_id).int % len(vaults)
        return vaults[first], vaults[(first + 1) % len(vaults)]

    def key_vault(self, ms: int, operation: str, vault: Vault, caller: Caller, *, path: str = "",
                  object_id: str = "", arm: bool = False, status: int = 200) -> dict[str, Any]:
        """One ``AuditEvent`` record: ``path`` is the data-plane path (``/secrets/x``); ``arm``
        requests (VaultGet, VaultPut) come through Azure Resource Manager."""
        sub = self.subscription
        if arm:
            request_uri = (f"https://control-prod-weu.vaultcore.azure.net/subscriptions/{sub.subscription_id}"
                           f"/resourcegroups/{vault.group}/providers/Microsoft.KeyVault/vaults/{vault.name}"
                           f"?api-version={ARM_API}")
        else:
            request_uri = f"{vault.url}{path}?api-version={KEY_VAULT_API}"
        return {
            "time": azure_time(ms),
            "resourceId": vault.resource_id,
            "operationName": operation,
            "operationVersion": ARM_API if arm else KEY_VAULT_API,
            "category": "AuditEvent",
            "resultType": "Success",
            "resultSignature": "OK" if status == 200 else "Forbidden",
            "resultDescription": "",
            "durationMs": str(self.rng.randint(3, 60)),
            "callerIpAddress": caller.ip,
            "correlationId": self.ids.uuid(),
            "identity": {"claim": caller.key_vault_claims(sub.tenant_id)},
            "properties": {
                "id": object_id or f"{vault.url}/{path.strip('/')}",
                "requestUri": request_uri,
                "clientInfo": ARM_CLIENT if arm else caller.client_info,
                "httpStatusCode": status,
                "isAccessPolicyMatch": status == 200,
                "tlsVersion": "TLS1_2",
            },
        }

    def secret_get(self, ms: int, vault: Vault, secret: str, caller: Caller) -> dict[str, Any]:
        """A ``SecretGet`` of the current version of ``secret``."""
        version = uuid.uuid5(_NAMESPACE, vault.name + secret).hex
        return self.key_vault(ms, "SecretGet", vault, caller, path=f"/secrets/{secret}/",
                              object_id=f"{vault.url}/secrets/{secret}/{version}")

    def activity(self, ms: int, operation: str, resource_id: str, caller: Caller, *, correlation: str,
                 phase: str, request_body: str = "") -> dict[str, Any]:
        """One activity log record of an administrative operation (``phase``: Start or Success);
        ``request_body`` is the request's JSON, which the Start record carries."""
        sub = self.subscription
        claims: dict[str, str] = {"aud": "https://management.core.windows.net/",
                                  "iss": f"https://sts.windows.net/{sub.tenant_id}/", "appid": caller.app_id,
                                  "http://schemas.microsoft.com/identity/claims/objectidentifier": caller.object_id}
        if caller.upn:
            claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = caller.upn
            claims["name"] = caller.upn.split("@", 1)[0].replace(".", " ").title()
        done = phase == "Success"
        return {
            "time": azure_time(ms),
            "resourceId": resource_id,
            "operationName": operation,
            "category": "Administrative",
            "resultType": phase,
            "resultSignature": "Succeeded." if done else "Started.",
            "durationMs": self.rng.randint(400, 9_000) if done else 0,
            "callerIpAddress": caller.ip,
            "correlationId": correlation,
            "identity": {
                "authorization": {"scope": resource_id.lower(), "action": operation.title(),
                                  "evidence": {"role": "Owner", "principalId": caller.object_id.replace("-", ""),
                                               "principalType": "User" if caller.upn else "ServicePrincipal"}},
                "claims": claims,
            },
            "level": "Information",
            "location": "global",
            "properties": {"statusCode": "OK" if done else "Accepted", "serviceRequestId": self.ids.uuid(),
                           "eventCategory": "Administrative", "entity": resource_id.lower(),
                           **({"requestbody": request_body} if request_body and not done else {})},
        }

    def write(self, ms: int, operation: str, resource_id: str, caller: Caller, *,
              request_body: str = "") -> Iterator[Item]:
        """An administrative write as the activity log records it: Start, then Success."""
        correlation = self.ids.uuid()
        yield ms, SOURCE, self.activity(ms, operation, resource_id, caller, correlation=correlation,
                                        phase="Start", request_body=request_body)
        ms += self.rng.randint(800, 20_000)
        yield ms, SOURCE, self.activity(ms, operation, resource_id, caller, correlation=correlation, phase="Success")


def app_reader(log: AzureLog, app: AzureApp, ms: int) -> Iterator[Item]:
    """A workload reading its own secrets whenever its cache expires (every few minutes)."""
    rng = log.rng
    caller = Caller(app.object_id, app.app_id, app.ip, app.agent)
    while True:
        yield ms, SOURCE, log.secret_get(ms, app.vault, rng.choice(app.secrets), caller)
        ms += rng.randint(4 * 60_000, 25 * 60_000)


def developer_session(log: AzureLog, person: Person, ms: int) -> Iterator[Item]:
    """A developer fetching one or two secrets from their team's vault with the Azure CLI."""
    rng = log.rng
    vault = log.team_vault(person)
    caller = log.person_caller(person, person.pick_where(rng).ip)
    for secret in rng.sample(vault.secrets, rng.randint(1, 2)):
        yield ms, SOURCE, log.secret_get(ms, vault, secret, caller)
        ms += rng.randint(5_000, 240_000)


def admin_session(log: AzureLog, admin: Person, ms: int) -> Iterator[Item]:
    """An administrator in the portal: opens one or both of the vaults they look after, lists the
    secrets, sometimes rotates one or changes a resource."""
    rng = log.rng
    where = admin.primary
    caller = log.person_caller(admin, where.ip, app_id=AZURE_PORTAL,
                               client_info="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/124.0")
    vaults = rng.sample(log.looked_after(admin), rng.randint(1, 2))
    for vault in vaults:
        yield ms, SOURCE, log.key_vault(ms, "VaultGet", vault, caller, arm=True, object_id=vault.url + "/")
        ms += rng.randint(2_000, 30_000)
        yield ms, SOURCE, log.key_vault(ms, "SecretList", vault, caller, path="/secrets")
        ms += rng.randint(5_000, 120_000)
    vault = vaults[0]
    if rng.random() < 0.4:
        secret = rng.choice(vault.secrets)
        yield ms, SOURCE, log.key_vault(ms, "SecretSet", vault, caller, path=f"/secrets/{secret}")
        ms += rng.randint(10_000, 60_000)
    if rng.random() < 0.3:
        operation, kind = rng.choice(_ADMIN_WRITES)
        if kind == "role":  # a colleague gets read access to one team's resources, never wider
            colleague = log.person_caller(rng.choice(log.org.people), where.ip)
            yield from role_assignment(log, ms, caller, principal_id=colleague.object_id, principal_type="User",
                                       role=rng.choice(("Reader", "Key Vault Secrets User")), group=vault.group)
            return
        sub = log.subscription.subscription_id
        resource = {"vault": vault.resource_id,
                    "deployment": f"/SUBSCRIPTIONS/{sub}/RESOURCEGROUPS/{vault.group.upper()}/PROVIDERS/"
                                  f"MICROSOFT.RESOURCES/DEPLOYMENTS/RELEASE-{log.ids.digits(6)}",
                    "vm": f"/SUBSCRIPTIONS/{sub}/RESOURCEGROUPS/{vault.group.upper()}/PROVIDERS/"
                          f"MICROSOFT.COMPUTE/VIRTUALMACHINES/VM-{vault.name.split('-')[1].upper()}-01"}[kind]
        yield from log.write(ms, operation, resource, caller)


def role_assignment(log: AzureLog, ms: int, caller: Caller, *, principal_id: str, principal_type: str,
                    role: str, group: str = "") -> Iterator[Item]:
    """A role assignment write: at a resource group's scope, or the whole subscription's when
    ``group`` is empty. ``role`` is a built-in role name of ``ROLE_DEFINITIONS``."""
    sub = log.subscription.subscription_id
    scope = f"/subscriptions/{sub}" + (f"/resourceGroups/{group}" if group else "")
    assignment = str(uuid.UUID(int=log.rng.getrandbits(128), version=4))
    body = json.dumps({"Id": assignment, "Properties": {
        "PrincipalId": principal_id, "PrincipalType": principal_type,
        "RoleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
                            f"{ROLE_DEFINITIONS[role]}",
        "Scope": scope}}, separators=(",", ":"))
    resource = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{assignment}".upper()
    yield from log.write(ms, "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE", resource, caller, request_body=body)

"""Azure attack scenarios: each yields the records one bundled Azure rule must fire on."""

from __future__ import annotations

from collections.abc import Iterator

from tokentrail.simulate.azure import AZURE_POWERSHELL, SOURCE, role_assignment
from tokentrail.simulate.kit import Item, Kit

# What Az PowerShell sends as its client, as a MicroBurst-style script run from a laptop would.
_POWERSHELL_CLIENT = "FxVersion/8.0.424.16909 OSName/Windows OSVersion/Microsoft.Windows.10.0.22631 Az.KeyVault/5.2.1"


def key_vault_dump(kit: Kit, ms: int) -> Iterator[Item]:
    """A stolen administrator token sweeps the subscription: every vault is read through Azure
    Resource Manager, then its secrets and keys are listed and every secret is read, seconds apart
    (what MicroBurst's Get-AzurePasswords does)."""
    rng, log = kit.rng, kit.azure
    admin = rng.choice(kit.org.admins)
    caller = log.person_caller(admin, kit.attacker().ip, app_id=AZURE_POWERSHELL, client_info=_POWERSHELL_CLIENT)
    vaults = log.subscription.vaults
    for vault in vaults:
        yield ms, SOURCE, log.key_vault(ms, "VaultGet", vault, caller, arm=True, object_id=vault.url + "/")
        ms += rng.randint(150, 900)
    for vault in vaults:
        yield ms, SOURCE, log.key_vault(ms, "SecretList", vault, caller, path="/secrets")
        ms += rng.randint(100, 600)
        for secret in vault.secrets:
            yield ms, SOURCE, log.secret_get(ms, vault, secret, caller)
            ms += rng.randint(80, 500)
        if vault.keys:
            yield ms, SOURCE, log.key_vault(ms, "KeyList", vault, caller, path="/keys")
            ms += rng.randint(100, 600)



def subscription_role_grant(kit: Kit, ms: int) -> Iterator[Item]:
    """With a stolen administrator token, an intruder gives a user they control and a service
    principal they created a role on the whole subscription, not one resource group (what the
    Atomic tests "adding user / service principal to Azure role in subscription" do)."""
    rng, log = kit.rng, kit.azure
    admin = rng.choice(kit.org.admins)
    caller = log.person_caller(admin, kit.attacker().ip, app_id=AZURE_POWERSHELL, client_info=_POWERSHELL_CLIENT)
    user = log.person_caller(rng.choice(kit.org.people), caller.ip)
    yield from role_assignment(log, ms, caller, principal_id=user.object_id, principal_type="User", role="Reader")
    sp_object_id = kit.ids.uuid()
    ms += rng.randint(20_000, 90_000)
    yield from role_assignment(log, ms, caller, principal_id=sp_object_id, principal_type="ServicePrincipal",
                               role="Contributor")

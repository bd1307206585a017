"""The attack scenario registry: one scenario per bundled rule, named by the rule's ``scenario:`` key.

Each scenario declares the ATT&CK techniques it enacts (ids in the shipped ATT&CK data).
"""

from __future__ import annotations

from tokentrail.simulate import attacks_auth0, attacks_azure, attacks_okta, attacks_salesforce
from tokentrail.simulate.kit import Scenario

BENIGN = "benign"
ALL = "all"

_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "okta-api-token-created",
        "A hijacked Okta admin session creates an API token.",
        "okta",
        "4c451c6b-0ed9-4ba6-b7a2-8d5bb6234d7c",
        attacks_okta.api_token_created,
        ("T1098.001", "T1136"),
    ),
    Scenario(
        "okta-api-token-revoked",
        "An Okta API token is revoked after suspicious use.",
        "okta",
        "6e94fd3d-76d2-4f8a-a24e-0e8f12c7908f",
        attacks_okta.api_token_revoked,
        ("T1528", "T1531"),
    ),
    Scenario(
        "okta-refresh-token-reuse",
        "A stolen Okta refresh token is redeemed twice and reuse is detected.",
        "okta",
        "ab42f388-89a2-477f-92e2-5b9185b349fa",
        attacks_okta.refresh_token_reuse,
        ("T1528", "T1550.001"),
    ),
    Scenario(
        "okta-consent-admin-scopes",
        "A user consents to an app requesting Okta admin API scopes.",
        "okta",
        "3519bdb9-9274-4c14-a2ff-8862e92ddc6e",
        attacks_okta.consent_admin_scopes,
        ("T1528", "T1566.002"),
    ),
    Scenario(
        "okta-admin-role-to-service-app",
        "A hijacked admin grants an API service app an admin role.",
        "okta",
        "c557af35-02ae-4ed2-9316-965d92b41b17",
        attacks_okta.admin_role_to_service_app,
        ("T1098.003", "T1078.004"),
    ),
    Scenario(
        "okta-client-secret-access",
        "A hijacked admin reads a client secret and adds a client credential.",
        "okta",
        "7c1f69b5-6997-4cef-93cd-15499112201e",
        attacks_okta.client_secret_access,
        ("T1528", "T1098.001"),
    ),
    Scenario(
        "okta-token-grant-anonymizer",
        "A stolen refresh token is replayed through anonymising proxies.",
        "okta",
        "f72a0e4e-77d0-49fd-825b-d76c2e758754",
        attacks_okta.token_grant_anonymizer,
        ("T1550.001", "T1090.003"),
    ),
    Scenario(
        "auth0-client-secret-read",
        "Client secrets are read through the Auth0 Management API.",
        "auth0",
        "5da1ab1a-5fde-4026-95fe-9446d7048794",
        attacks_auth0.client_secret_read,
        ("T1528",),
    ),
    Scenario(
        "auth0-refresh-token-reuse",
        "A rotated Auth0 refresh token is replayed and reuse is detected.",
        "auth0",
        "10ad8ffa-13eb-4c51-b3f1-74946a4af229",
        attacks_auth0.refresh_token_reuse,
        ("T1528", "T1550.001"),
    ),
    Scenario(
        "auth0-client-secret-rotated",
        "An Auth0 application's client secret is rotated via the API.",
        "auth0",
        "4ab64c4e-560e-494e-94bb-a99f667075d6",
        attacks_auth0.client_secret_rotated,
        ("T1098.001", "T1531"),
    ),
    Scenario(
        "auth0-client-credentials-unknown-network",
        "A machine-to-machine secret is used from outside the integration egress networks.",
        "auth0",
        "33bfe2f8-ce8c-4efe-84fe-07d79c2ae81b",
        attacks_auth0.client_credentials_unknown_network,
        ("T1550.001", "T1078.004"),
    ),
    Scenario(
        "auth0-refresh-failure-burst",
        "Many stolen refresh tokens are tried from one address.",
        "auth0",
        "60db0f75-2cd1-4a64-a27e-7c3f10b556fc",
        attacks_auth0.refresh_failure_burst,
        ("T1110", "T1528"),
    ),
    Scenario(
        "salesforce-oauth-credential-abuse",
        "A connected app's token fails to refresh, is over-used, then revoked.",
        "salesforce",
        "53cc0e06-646e-47b5-b2d6-d14a2598dd6d",
        attacks_salesforce.oauth_credential_abuse,
        ("T1528", "T1110", "T1550.001", "T1020"),
    ),
    Scenario(
        "salesforce-connected-app-policy-change",
        "A connected app's IP and refresh-token policies are loosened.",
        "salesforce",
        "3a655fd4-ebb2-45f6-97c4-515dba433eee",
        attacks_salesforce.connected_app_policy_change,
        ("T1098", "T1556"),
    ),
    Scenario(
        "salesforce-token-multi-ip",
        "One connected-app token is used from many addresses at once.",
        "salesforce",
        "ec85973b-e8e4-4675-a62a-6ef8b9fcbca6",
        attacks_salesforce.token_multi_ip,
        ("T1550.001", "T1078.004"),
    ),
    Scenario(
        "azure-key-vault-dump",
        "One stolen identity reads every secret of every key vault in minutes (MicroBurst).",
        "azure",
        "6b0f4f0e-3c52-4a8e-9d61-2f7e5a9c4b13",
        attacks_azure.key_vault_dump,
        ("T1528", "T1555.006", "T1526"),
    ),
    Scenario(
        "azure-subscription-role-grant",
        "A stolen admin token grants a user and a service principal a role on the whole subscription.",
        "azure",
        "9c4e1b7a-2f3d-4a6b-8e5c-7d1f0a2b3c4d",
        attacks_azure.subscription_role_grant,
        ("T1098", "T1098.003"),
    ),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _SCENARIOS}

"""Salesforce attack scenarios: each yields the records one bundled Salesforce rule must fire on."""

from __future__ import annotations

from collections.abc import Iterator

from tokentrail.simulate.kit import Item, Kit
from tokentrail.simulate.salesforce import SOURCE


def oauth_credential_abuse(kit: Kit, ms: int) -> Iterator[Item]:
    """A connected app's stolen token: failed refreshes, a burst of API use, then revocation."""
    integ = kit.rng.choice(kit.org.sf_integrations)
    app = integ.app
    where = kit.attacker()
    sf = kit.salesforce
    common = {"CONNECTED_APP_ID": app.id, "CONNECTED_APP_NAME": app.name, "CLIENT_ID": app.client_id}
    for _ in range(3):
        yield (
            ms,
            SOURCE,
            sf.record(
                ms,
                "OAuthTokenRefreshFailed",
                integ.sf_user_id,
                integ.sf_user_name,
                where.ip,
                STATUS="Failed",
                USER_AGENT=kit.tool(),
                **common,
            ),
        )
        ms += kit.rng.randint(5_000, 40_000)
    yield (
        ms,
        SOURCE,
        sf.record(
            ms,
            "ApiTotalUsage",
            integ.sf_user_id,
            integ.sf_user_name,
            where.ip,
            STATUS="Success",
            API_TOTAL_COUNT=kit.rng.randint(12_000, 40_000),
            **common,
        ),
    )
    ms += kit.rng.randint(600_000, 1_800_000)
    admin = kit.rng.choice(kit.org.admins)
    yield (
        ms,
        SOURCE,
        sf.record(
            ms,
            "OAuthTokenRevoked",
            admin.sf_user_id or kit.ids.sf_id("005"),
            admin.email,
            admin.primary.ip,
            STATUS="Success",
            **common,
        ),
    )


def connected_app_policy_change(kit: Kit, ms: int) -> Iterator[Item]:
    """A hijacked admin loosens a connected app's policies so a stolen token keeps working anywhere."""
    admin = kit.rng.choice(kit.org.admins)
    app = kit.rng.choice(kit.org.sf_integrations).app
    where = kit.attacker()
    uid = admin.sf_user_id or kit.ids.sf_id("005")
    changes = (
        (
            "connectedAppIpRelaxationChanged",
            f"Changed IP Relaxation for connected app {app.name} from Enforce IP restrictions to Relax IP restrictions",
        ),
        (
            "connectedAppRefreshTokenPolicyChanged",
            f"Changed Refresh Token Policy for connected app {app.name} to Refresh token is valid until revoked",
        ),
    )
    for action, display in changes:
        yield (
            ms,
            SOURCE,
            kit.salesforce.record(
                ms,
                "SetupAuditTrail",
                uid,
                admin.email,
                where.ip,
                SECTION="Connected Apps",
                ACTION=action,
                DISPLAY=display,
                DELEGATE_USER="",
            ),
        )
        ms += kit.rng.randint(10_000, 60_000)


def token_multi_ip(kit: Kit, ms: int) -> Iterator[Item]:
    """One integration's token is replayed through rotating proxies while the real job keeps running."""
    integ = kit.rng.choice(kit.org.sf_integrations)
    app = integ.app
    agent = kit.tool()
    key = kit.ids.base62(16)
    for _ in range(6):
        where = kit.attacker()
        for _ in range(kit.rng.randint(1, 3)):
            yield (
                ms,
                SOURCE,
                kit.salesforce.rest_call(
                    ms,
                    integ.sf_user_id,
                    integ.sf_user_name,
                    where.ip,
                    app.id,
                    app.name,
                    app.client_id,
                    agent=agent,
                    session_key=key,
                ),
            )
            ms += kit.rng.randint(3_000, 20_000)
        ms += kit.rng.randint(20_000, 90_000)

"""Okta attack scenarios: each yields the events one bundled Okta rule must fire on."""

from __future__ import annotations

from collections.abc import Iterator

from tokentrail.simulate.kit import Item, Kit
from tokentrail.simulate.okta import SOURCE
from tokentrail.simulate.org import Person, Where


def _compromised_admin_signin(kit: Kit, where: Where, ms: int) -> tuple[dict, tuple[str, str], list[Item]]:
    """An admin's session hijacked from ``where``: the stolen session shows up as a new sign-in."""
    admin = kit.rng.choice(kit.org.admins)
    actor = kit.okta.user_ref(admin)
    session = kit.okta.new_session()
    events = [
        (
            ms,
            SOURCE,
            kit.okta.event(ms, "user.session.start", actor, where, session=session, credential="PASSWORD"),
        )
    ]
    return actor, session, events


def _token_target(kit: Kit, name: str) -> list[dict]:
    return [
        {
            "id": "00T" + kit.ids.base62(17),
            "type": "Token",
            "alternateId": "unknown",
            "displayName": name,
            "detailEntry": None,
        }
    ]


def api_token_created(kit: Kit, ms: int) -> Iterator[Item]:
    """A hijacked admin session mints an API token for persistence."""
    where = kit.attacker()
    actor, session, events = _compromised_admin_signin(kit, where, ms)
    yield from events
    ms += kit.rng.randint(30_000, 180_000)
    yield (
        ms,
        SOURCE,
        kit.okta.event(
            ms,
            "system.api_token.create",
            actor,
            where,
            session=session,
            target=_token_target(kit, "backup-sync"),
        ),
    )


def api_token_revoked(kit: Kit, ms: int) -> Iterator[Item]:
    """Responders revoke a token that was used from an unexpected network."""
    admin = kit.rng.choice(kit.org.admins)
    actor = kit.okta.user_ref(admin)
    yield (
        ms,
        SOURCE,
        kit.okta.event(
            ms,
            "system.api_token.revoke",
            actor,
            admin.primary,
            session=kit.okta.new_session(),
            target=_token_target(kit, "legacy-ldap-sync"),
        ),
    )


def _stolen_refresh_token(kit: Kit) -> tuple[Person, dict, list[dict], dict]:
    """An employee's refresh token for one OIDC app: the victim, the grant's actor, target and debug data."""
    victim = kit.rng.choice(kit.org.people)
    app = kit.rng.choice(kit.org.okta_oidc_apps)
    debug = {
        "grantType": "refresh_token",
        "grantedScopes": "openid profile email offline_access",
        "clientId": app.client_id,
    }
    return victim, kit.okta.user_ref(victim), [kit.okta.app_target(app.client_id, app.name)], debug


def refresh_token_reuse(kit: Kit, ms: int) -> Iterator[Item]:
    """A stolen refresh token is redeemed by the attacker first; the victim's app then trips reuse detection."""
    victim, actor, target, debug = _stolen_refresh_token(kit)
    attacker = kit.attacker()
    yield (
        ms,
        SOURCE,
        kit.okta.event(
            ms,
            "app.oauth2.as.token.grant.access_token",
            actor,
            attacker,
            agent=kit.tool(),
            target=target,
            debug=debug,
        ),
    )
    ms += kit.rng.randint(60_000, 900_000)
    yield (
        ms,
        SOURCE,
        kit.okta.event(
            ms,
            "app.oauth2.as.token.detect_reuse",
            actor,
            victim.primary,
            target=target,
            result="FAILURE",
            reason="Refresh token reuse detected",
            severity="WARN",
            debug=debug,
        ),
    )


def consent_admin_scopes(kit: Kit, ms: int) -> Iterator[Item]:
    """A phished user consents to a look-alike app asking for Okta admin API scopes and offline access."""
    victim = kit.rng.choice(kit.org.people)
    actor = kit.okta.user_ref(victim)
    client_id = kit.ids.okta("0oa")
    scopes = "openid profile offline_access okta.users.read okta.apps.manage"
    yield (
        ms,
        SOURCE,
        kit.okta.event(
            ms,
            "app.oauth2.as.consent.grant",
            actor,
            victim.primary,
            session=kit.okta.new_session(),
            target=[kit.okta.app_target(client_id, "Calendar Sync Pro")],
            debug={"grantedScopes": scopes, "clientId": client_id},
        ),
    )


def admin_role_to_service_app(kit: Kit, ms: int) -> Iterator[Item]:
    """A hijacked admin makes an API service app a super administrator (a durable, MFA-free backdoor)."""
    where = kit.attacker()
    actor, session, events = _compromised_admin_signin(kit, where, ms)
    yield from events
    app = kit.rng.choice(kit.org.okta_service_apps)
    ms += kit.rng.randint(20_000, 120_000)
    yield (
        ms,
        SOURCE,
        kit.okta.event(
            ms,
            "app.oauth2.client.privilege.grant",
            actor,
            where,
            session=session,
            target=[kit.okta.client_ref(app)],
            debug={"privilegeGranted": "SUPER_ADMIN"},
        ),
    )


def client_secret_access(kit: Kit, ms: int) -> Iterator[Item]:
    """A hijacked admin reads one service app's secret and adds a new credential to another."""
    where = kit.attacker()
    actor, session, events = _compromised_admin_signin(kit, where, ms)
    yield from events
    first, second = kit.rng.sample(kit.org.okta_service_apps, 2)
    for event_type, app in (
        ("app.oauth2.client.read_client_secret", first),
        ("app.oauth2.credentials.lifecycle.create", second),
    ):
        ms += kit.rng.randint(15_000, 90_000)
        yield (
            ms,
            SOURCE,
            kit.okta.event(
                ms,
                event_type,
                actor,
                where,
                session=session,
                target=[kit.okta.client_ref(app)],
            ),
        )


def token_grant_anonymizer(kit: Kit, ms: int) -> Iterator[Item]:
    """A stolen refresh token is replayed through an anonymising proxy, several times."""
    _, actor, target, debug = _stolen_refresh_token(kit)
    agent = kit.tool()
    for _ in range(3):
        where = kit.attacker()
        yield (
            ms,
            SOURCE,
            kit.okta.event(
                ms,
                "app.oauth2.as.token.grant.access_token",
                actor,
                where,
                agent=agent,
                target=target,
                debug=debug,
                proxy=True,
            ),
        )
        ms += kit.rng.randint(120_000, 600_000)

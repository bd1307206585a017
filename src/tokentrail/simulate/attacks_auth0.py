"""Auth0 attack scenarios: each yields the events one bundled Auth0 rule must fire on."""

from __future__ import annotations

from collections.abc import Iterator

from tokentrail.simulate.auth0 import DASHBOARD, SOURCE, admin_user_id
from tokentrail.simulate.kit import Item, Kit

_API_AUDIENCE = "https://api.northwind-labs.com/"


def client_secret_read(kit: Kit, ms: int) -> Iterator[Item]:
    """A hijacked dashboard admin opens confidential apps and reads their client secrets."""
    admin = kit.rng.choice(kit.org.admins)
    where = kit.attacker()
    agent = where.browser.auth0
    who = {"user_id": admin_user_id(admin), "user_name": admin.email}
    confidential = [a for a in kit.org.auth0_apps if a.kind == "regular_web"] + [
        m.app for m in kit.org.auth0_m2m
    ]
    for app in kit.rng.sample(confidential, 2):
        body = {"client_id": app.client_id, "name": app.name, "app_type": app.kind}
        details = kit.auth0.mgmt_details(
            "get",
            f"/api/v2/clients/{app.client_id}",
            where.ip,
            agent,
            channel=DASHBOARD,
            admin=admin,
            body=body,
        )
        details["accessedSecrets"] = ["client_secret"]
        yield (
            ms,
            SOURCE,
            kit.auth0.event(
                ms, "mgmt_api_read", "Get client by ID", ip=where.ip, agent=agent, details=details, **who
            ),
        )
        ms += kit.rng.randint(10_000, 60_000)


def refresh_token_reuse(kit: Kit, ms: int) -> Iterator[Item]:
    """A rotated refresh token is replayed; Auth0 refuses it and revokes the token family."""
    customer = kit.rng.choice(kit.org.customers)
    where = kit.attacker()
    who = {"user_id": customer.user_id, "user_name": customer.email}
    for ip, agent in ((where.ip, kit.tool()), (customer.where.ip, customer.where.browser.auth0)):
        yield (
            ms,
            SOURCE,
            kit.auth0.event(
                ms,
                "ferrt",
                "Unsuccessful Refresh Token exchange, reused refresh token detected",
                ip=ip,
                agent=agent,
                app=customer.app,
                details={"error": "invalid_grant", "familyRevoked": True},
                audience=_API_AUDIENCE,
                **who,
            ),
        )
        ms += kit.rng.randint(30_000, 600_000)


def client_secret_rotated(kit: Kit, ms: int) -> Iterator[Item]:
    """An attacker with a Management API token rotates a backend's secret, locking the real service out."""
    victim = kit.rng.choice(kit.org.auth0_m2m)
    thief = kit.rng.choice([m for m in kit.org.auth0_m2m if m is not victim] or [victim])
    where = kit.attacker()
    agent = kit.tool()
    path = f"/api/v2/clients/{victim.app.client_id}/rotate-secret"
    details = kit.auth0.mgmt_details(
        "post",
        path,
        where.ip,
        agent,
        scopes=("update:client_keys",),
        body={"client_id": victim.app.client_id, "name": victim.app.name},
    )
    yield (
        ms,
        SOURCE,
        kit.auth0.event(
            ms, "sapi", "Rotate a client secret", ip=where.ip, agent=agent, app=thief.app, details=details
        ),
    )
    for _ in range(3):
        ms += kit.rng.randint(60_000, 300_000)
        yield (
            ms,
            SOURCE,
            kit.auth0.event(
                ms,
                "feccft",
                "Unauthorized",
                ip=victim.where.ip,
                agent="node-auth0/4.3.1 (node.js/20.11.1)",
                app=victim.app,
                details={"error": "access_denied"},
                audience=kit.auth0.mgmt_audience,
            ),
        )


def client_credentials_unknown_network(kit: Kit, ms: int) -> Iterator[Item]:
    """A leaked backend secret is used from a VPS to get a Management API token and dump users."""
    integ = kit.rng.choice(kit.org.auth0_m2m)
    where = kit.attacker()
    agent = kit.tool()
    yield (
        ms,
        SOURCE,
        kit.auth0.event(
            ms,
            "seccft",
            "Client Credentials for Access Token",
            ip=where.ip,
            agent=agent,
            app=integ.app,
            audience=kit.auth0.mgmt_audience,
            scope="read:users update:users read:roles",
        ),
    )
    for page in range(4):
        ms += kit.rng.randint(1_000, 8_000)
        details = kit.auth0.mgmt_details("get", "/api/v2/users", where.ip, agent, scopes=("read:users",))
        details["request"]["query"] = {"page": page, "per_page": 100}
        yield (
            ms,
            SOURCE,
            kit.auth0.event(
                ms, "mgmt_api_read", "Get users", ip=where.ip, agent=agent, app=integ.app, details=details
            ),
        )


def refresh_failure_burst(kit: Kit, ms: int) -> Iterator[Item]:
    """A batch of stolen refresh tokens is tried from one host: most are dead, a few still work."""
    app = kit.rng.choice(kit.org.auth0_apps)
    where = kit.attacker()
    agent = kit.tool()
    for n in range(24):
        customer = kit.rng.choice(kit.org.customers)
        who = {"user_id": customer.user_id, "user_name": customer.email}
        if n % 8 == 7:
            yield (
                ms,
                SOURCE,
                kit.auth0.event(
                    ms,
                    "sertft",
                    "Refresh Token for Access Token",
                    ip=where.ip,
                    agent=agent,
                    app=app,
                    audience=_API_AUDIENCE,
                    **who,
                ),
            )
        else:
            yield (
                ms,
                SOURCE,
                kit.auth0.event(
                    ms,
                    "fertft",
                    "Unknown or invalid refresh token.",
                    ip=where.ip,
                    agent=agent,
                    app=app,
                    details={"error": "invalid_grant"},
                    audience=_API_AUDIENCE,
                    **who,
                ),
            )
        ms += kit.rng.randint(2_000, 9_000)

"""Auth0 tenant logs as log-stream envelopes (``{"log_id", "data": {...}}``) and benign activity.

``Auth0Log`` builds single events; ``customer_session``, ``m2m_client`` and ``dashboard_session``
are processes yielding ``(epoch_ms, "auth0", event)`` in time order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from tokentrail.simulate.ids import Ids, iso_ms
from tokentrail.simulate.org import App, Customer, Integration, Org, Person, Where
from tokentrail.simulate.world import AUTH0_MGMT_CALLS

SOURCE = "auth0"
Item = tuple[int, str, dict[str, Any]]

DASHBOARD = "https://manage.auth0.com/"
M2M_AGENT = "node-auth0/4.3.1 (node.js/20.11.1)"
_API_AUDIENCE = "https://api.northwind-labs.com/"


class Auth0Log:
    """Builds Auth0 log-stream events for one tenant."""

    def __init__(self, org: Org, rng: random.Random, ids: Ids) -> None:
        self.org = org
        self.rng = rng
        self.ids = ids
        self.mgmt_audience = f"https://{org.auth0_tenant}.us.auth0.com/api/v2/"

    def event(
        self,
        ms: int,
        log_type: str,
        description: str,
        *,
        ip: str,
        agent: str,
        app: App | None = None,
        user_id: str | None = None,
        user_name: str | None = None,
        details: dict[str, Any] | None = None,
        where: Where | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """One tenant log event wrapped as a log stream delivers it."""
        log_id = self.ids.auth0_log_id(ms)
        data: dict[str, Any] = {
            "date": iso_ms(ms),
            "type": log_type,
            "description": description,
            "client_id": app.client_id if app else None,
            "client_name": app.name if app else "",
            "ip": ip,
            "user_agent": agent,
            "hostname": self.org.auth0_host,
            "details": details if details is not None else {},
            "log_id": log_id,
            "tenant_name": self.org.auth0_tenant,
            "environment_name": "prod-us-1",
            "$event_schema": {"version": "1.0.0"},
        }
        if user_id is not None:
            data["user_id"] = user_id
            data["user_name"] = user_name
        if where is not None:
            place = where.place
            data["location_info"] = {
                "country_name": place.country,
                "city_name": place.city,
                "latitude": place.lat,
                "longitude": place.lon,
            }
        data.update(extra)
        return {"log_id": log_id, "data": data}

    def mgmt_details(
        self,
        method: str,
        path: str,
        ip: str,
        agent: str,
        *,
        channel: str = "api",
        admin: Person | None = None,
        scopes: tuple[str, ...] = (),
        status: int = 200,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``details`` of a Management API log (``sapi``/``mgmt_api_read``): request and response."""
        auth: dict[str, Any] = {
            "strategy": "jwt",
            "credentials": {"jti": self.ids.hex(32), "scopes": list(scopes)},
        }
        if admin is not None:
            auth["user"] = {"user_id": admin_user_id(admin), "name": admin.name, "email": admin.email}
        return {
            "request": {
                "method": method,
                "path": path,
                "query": {},
                "userAgent": agent,
                "channel": channel,
                "ip": ip,
                "auth": auth,
            },
            "response": {"statusCode": status, "body": body if body is not None else {}},
        }


def admin_user_id(admin: Person) -> str:
    """The Auth0 dashboard identity of an employee admin (federated through Okta)."""
    return f"samlp|northwind-okta|{admin.email}"


def customer_session(log: Auth0Log, customer: Customer, ms: int) -> Iterator[Item]:
    """A shopper signs in, the app swaps the code for tokens and refreshes them for a while."""
    rng = log.rng
    where, app = customer.where, customer.app
    ip, agent = where.ip, where.browser.auth0
    who = {"user_id": customer.user_id, "user_name": customer.email}
    conn = {
        "connection": "Username-Password-Authentication",
        "connection_id": "con_" + log.ids.base62(16),
        "strategy": "auth0",
        "strategy_type": "database",
    }
    if rng.random() < 0.06:
        yield (
            ms,
            SOURCE,
            log.event(
                ms,
                rng.choice(("fp", "f")),  # tenants log a wrong password as either code
                "Wrong email or password.",
                ip=ip,
                agent=agent,
                app=app,
                where=where,
                details={"error": {"message": "Wrong email or password."}},
                **who,
                **conn,
            ),
        )
        ms += rng.randint(5_000, 30_000)
    session_id = log.ids.base62(32)
    yield (
        ms,
        SOURCE,
        log.event(
            ms,
            "s",
            "Successful login",
            ip=ip,
            agent=agent,
            app=app,
            where=where,
            details={"session_id": session_id, "stats": {"loginsCount": rng.randint(2, 400)}},
            **who,
            **conn,
        ),
    )
    ms += rng.randint(300, 2_000)
    scope = "openid profile email offline_access"
    yield (
        ms,
        SOURCE,
        log.event(
            ms,
            "seacft",
            "Authorization Code for Access Token",
            ip=ip,
            agent=agent,
            app=app,
            details={"code": "*" * 12},
            audience=_API_AUDIENCE,
            scope=scope,
            **who,
        ),
    )
    for _ in range(rng.randint(0, 4)):
        ms += rng.randint(900_000, 2_700_000)
        if rng.random() < 0.04:
            # An expired or revoked refresh token: the app gives up and the user signs in again later.
            yield (
                ms,
                SOURCE,
                log.event(
                    ms,
                    "fertft",
                    "Unknown or invalid refresh token.",
                    ip=ip,
                    agent=agent,
                    app=app,
                    details={"error": "invalid_grant"},
                    audience=_API_AUDIENCE,
                    **who,
                ),
            )
            return
        if rng.random() < 0.2:
            yield (
                ms,
                SOURCE,
                log.event(
                    ms,
                    "ssa",
                    "Successful silent authentication",
                    ip=ip,
                    agent=agent,
                    app=app,
                    details={"session_id": session_id},
                    **who,
                ),
            )
        yield (
            ms,
            SOURCE,
            log.event(
                ms,
                "sertft",
                "Refresh Token for Access Token",
                ip=ip,
                agent=agent,
                app=app,
                audience=_API_AUDIENCE,
                scope=scope,
                **who,
            ),
        )
    if rng.random() < 0.3:
        ms += rng.randint(60_000, 600_000)
        yield (
            ms,
            SOURCE,
            log.event(
                ms,
                "slo",
                "Successful logout",
                ip=ip,
                agent=agent,
                app=app,
                details={"session_id": session_id},
                **who,
            ),
        )


def m2m_client(log: Auth0Log, integ: Integration, ms: int) -> Iterator[Item]:
    """A backend service: client-credentials token, then a few Management API calls, every half hour."""
    rng = log.rng
    ip, app = integ.where.ip, integ.app
    scopes = ("read:users", "update:users", "read:roles")
    while True:
        yield (
            ms,
            SOURCE,
            log.event(
                ms,
                "seccft",
                "Client Credentials for Access Token",
                ip=ip,
                agent=M2M_AGENT,
                app=app,
                audience=log.mgmt_audience,
                scope=" ".join(scopes),
            ),
        )
        for _ in range(rng.randint(1, 5)):
            ms += rng.randint(500, 20_000)
            log_type, description, method, path = rng.choice(AUTH0_MGMT_CALLS)
            path = path.replace("{id}", "auth0|" + log.ids.hex(24))
            if rng.random() < 0.02:
                # A call outside the granted scopes: refused and logged as a failed API operation.
                path = "/api/v2/clients"
                details = log.mgmt_details("get", path, ip, M2M_AGENT, scopes=scopes, status=403)
                log_type, description = "fapi", "Insufficient scope, expected any of: read:clients"
            else:
                details = log.mgmt_details(method, path, ip, M2M_AGENT, scopes=scopes)
            yield (
                ms,
                SOURCE,
                log.event(ms, log_type, description, ip=ip, agent=M2M_AGENT, app=app, details=details),
            )
        ms += rng.randint(1_200_000, 2_400_000)


def dashboard_session(log: Auth0Log, admin: Person, ms: int) -> Iterator[Item]:
    """An employee admin browsing and editing applications in the Auth0 dashboard (no secrets read)."""
    rng = log.rng
    ip, agent = admin.primary.ip, admin.primary.browser.auth0
    who = {"user_id": admin_user_id(admin), "user_name": admin.email}
    details = log.mgmt_details("get", "/api/v2/clients", ip, agent, channel=DASHBOARD, admin=admin)
    yield (
        ms,
        SOURCE,
        log.event(ms, "mgmt_api_read", "Get clients", ip=ip, agent=agent, details=details, **who),
    )
    for _ in range(rng.randint(1, 3)):
        ms += rng.randint(5_000, 90_000)
        app = rng.choice(log.org.auth0_apps)
        path = f"/api/v2/clients/{app.client_id}"
        if rng.random() < 0.7:
            body = {"client_id": app.client_id, "name": app.name, "app_type": app.kind}
            details = log.mgmt_details("get", path, ip, agent, channel=DASHBOARD, admin=admin, body=body)
            yield (
                ms,
                SOURCE,
                log.event(
                    ms, "mgmt_api_read", "Get client by ID", ip=ip, agent=agent, details=details, **who
                ),
            )
        else:
            callback = f"https://{app.name.lower().replace(' ', '-')}.northwind-labs.com/callback"
            details = log.mgmt_details(
                "patch", path, ip, agent, channel=DASHBOARD, admin=admin, body={"callbacks": [callback]}
            )
            yield (
                ms,
                SOURCE,
                log.event(ms, "sapi", "Update a client", ip=ip, agent=agent, details=details, **who),
            )

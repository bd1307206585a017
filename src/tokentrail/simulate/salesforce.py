"""Salesforce event records with upper-case EventLogFile columns, and the benign activity behind them.

``SalesforceLog`` builds one record; ``user_session``, ``integration`` and ``admin_change`` are
processes yielding ``(epoch_ms, "salesforce", record)`` in time order. ``COLUMNS`` lists every column
a record may carry, so records can also be written as one EventLogFile-style CSV.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from tokentrail.simulate.ids import Ids, iso_ms, sf_id18, sf_timestamp
from tokentrail.simulate.org import Integration, Org, Person, Where
from tokentrail.simulate.sessions import Sessions
from tokentrail.simulate.world import SF_ENTITIES, SF_PAGES, SF_SETUP_CHANGES

SOURCE = "salesforce"
Item = tuple[int, str, dict[str, Any]]
API_VERSION = "59.0"

COLUMNS: tuple[str, ...] = (
    "EVENT_TYPE",
    "TIMESTAMP",
    "TIMESTAMP_DERIVED",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "USER_ID_DERIVED",
    "USER_NAME",
    "USER_TYPE",
    "SESSION_KEY",
    "LOGIN_KEY",
    "SOURCE_IP",
    "CLIENT_IP",
    "URI",
    "METHOD",
    "STATUS_CODE",
    "STATUS",
    "REQUEST_STATUS",
    "RUN_TIME",
    "CPU_TIME",
    "DB_TOTAL_TIME",
    "ENTITY_NAME",
    "METHOD_NAME",
    "ROWS_PROCESSED",
    "API_TYPE",
    "API_VERSION",
    "CONNECTED_APP_ID",
    "CONNECTED_APP_NAME",
    "CLIENT_ID",
    "CLIENT_NAME",
    "USER_AGENT",
    "BROWSER_TYPE",
    "PLATFORM_TYPE",
    "LOGIN_STATUS",
    "LOGIN_TYPE",
    "TLS_PROTOCOL",
    "CIPHER_SUITE",
    "PAGE_URL",
    "UI_EVENT_TYPE",
    "API_TOTAL_COUNT",
    "SECTION",
    "ACTION",
    "DISPLAY",
    "DELEGATE_USER",
)


# Salesforce sessions time out after two idle hours (the default); people sign out of some.
_IDLE_MS = 2 * 3_600_000
_LIFETIME_MS = 12 * 3_600_000
_SIGN_IN_MS = 35_000  # a mistyped password and the retry
_SIGN_OUT_SHARE = 0.1
_AWAY_AFTER_SIGN_OUT_MS = (45 * 60_000, 3 * 3_600_000)
_MOBILE_AGENTS = {
    "iOS": "SalesforceMobileSDK/11.1.0 iOS/17.4.1",
    "Android": "SalesforceMobileSDK/11.1.0 android/14",
}


class SalesforceLog:
    """Builds Salesforce event records for one org."""

    def __init__(self, org: Org, rng: random.Random, ids: Ids) -> None:
        self.org = org
        self.rng = rng
        self.ids = ids
        self.sessions: Sessions[str] = Sessions(
            idle_ms=_IDLE_MS, lifetime_ms=_LIFETIME_MS, sign_in_ms=_SIGN_IN_MS
        )

    def record(
        self,
        ms: int,
        event_type: str,
        user_id: str,
        user_name: str,
        ip: str,
        *,
        session_key: str = "",
        **columns: Any,
    ) -> dict[str, Any]:
        """One event record; ``columns`` adds the event-type-specific columns."""
        rec: dict[str, Any] = {
            "EVENT_TYPE": event_type,
            "TIMESTAMP": sf_timestamp(ms),
            "TIMESTAMP_DERIVED": iso_ms(ms),
            "REQUEST_ID": self.ids.base62(22),
            "ORGANIZATION_ID": self.org.sf_org_id,
            "USER_ID": user_id,
            "USER_ID_DERIVED": sf_id18(user_id),
            "USER_NAME": user_name,
            "USER_TYPE": "Standard",
            "SOURCE_IP": ip,
            "CLIENT_IP": ip,
        }
        if session_key:  # failed logins and setup changes belong to no session
            rec["SESSION_KEY"] = session_key
        rec.update(columns)
        return rec

    def rest_call(
        self,
        ms: int,
        user_id: str,
        user_name: str,
        ip: str,
        app_id: str,
        app_name: str,
        client_id: str,
        *,
        agent: str,
        session_key: str,
        method: str = "GET",
        status: int = 200,
    ) -> dict[str, Any]:
        """A REST API request made with a connected app's OAuth token."""
        entity = self.rng.choice(SF_ENTITIES)
        return self.record(
            ms,
            "RestApi",
            user_id,
            user_name,
            ip,
            session_key=session_key,
            URI=f"/services/data/v{API_VERSION}/sobjects/{entity}/{self.ids.sf_id('001')}",
            METHOD=method,
            STATUS_CODE=status,
            REQUEST_STATUS="S" if status < 400 else "F",
            RUN_TIME=self.rng.randint(20, 400),
            CPU_TIME=self.rng.randint(5, 120),
            ENTITY_NAME=entity,
            API_VERSION=API_VERSION,
            CONNECTED_APP_ID=app_id,
            CONNECTED_APP_NAME=app_name,
            CLIENT_ID=client_id,
            CLIENT_NAME=app_name,
            USER_AGENT=agent,
        )


def _login(
    log: SalesforceLog, ms: int, person: Person, where: Where, status: str, login_type: str, session_key: str
) -> dict[str, Any]:
    return log.record(
        ms,
        "Login",
        person.sf_user_id or "",
        person.email,
        where.ip,
        session_key=session_key,
        LOGIN_KEY=log.ids.base62(16),
        LOGIN_STATUS=status,
        LOGIN_TYPE=login_type,
        BROWSER_TYPE=where.browser.raw,
        PLATFORM_TYPE=where.browser.os,
        USER_AGENT=where.browser.raw,
        URI="/index.jsp",
        API_TYPE="",
        API_VERSION=API_VERSION,
        TLS_PROTOCOL="TLSv1.3",
        CIPHER_SUITE="TLS_AES_256_GCM_SHA384",
        RUN_TIME=log.rng.randint(80, 400),
    )


def user_session(log: SalesforceLog, person: Person, ms: int) -> Iterator[Item]:
    """A salesperson works in Lightning, or on their phone in the mobile app (a connected app),
    in the device's session, signing in first when it has none open."""
    rng = log.rng
    where = person.pick_where(rng)
    uid, name = person.sf_user_id or "", person.email
    mobile = person.sf_mobile and where.browser.device == "Mobile"
    session, ms = log.sessions.join(where.dt_hash, ms)
    if session is None:
        session = log.sessions.start(where.dt_hash, log.ids.base62(16), ms)
        if rng.random() < 0.05:
            yield (
                ms,
                SOURCE,
                _login(log, ms, person, where, "LOGIN_ERROR_INVALID_PASSWORD", "Application", ""),
            )
            ms += rng.randint(5_000, 30_000)
        login_type = "Remote Access 2.0" if mobile else "SAML Idp Initiated SSO"
        yield ms, SOURCE, _login(log, ms, person, where, "LOGIN_NO_ERROR", login_type, session.ids)
    key = session.ids
    for _ in range(rng.randint(2, 12)):
        ms += int(rng.expovariate(1 / 60_000)) + 500
        session.use(ms)
        if mobile:
            app = log.org.sf_mobile_app
            yield (
                ms,
                SOURCE,
                log.rest_call(
                    ms,
                    uid,
                    name,
                    where.ip,
                    app.id,
                    app.name,
                    app.client_id,
                    agent=_MOBILE_AGENTS.get(where.browser.os, _MOBILE_AGENTS["iOS"]),
                    session_key=key,
                ),
            )
            continue
        roll = rng.random()
        if roll < 0.5:
            yield (
                ms,
                SOURCE,
                log.record(
                    ms,
                    "LightningPageView",
                    uid,
                    name,
                    where.ip,
                    session_key=key,
                    PAGE_URL=rng.choice(SF_PAGES),
                    USER_AGENT=where.browser.raw,
                    BROWSER_TYPE=where.browser.browser,
                ),
            )
        elif roll < 0.85:
            yield (
                ms,
                SOURCE,
                log.record(
                    ms,
                    "LightningInteraction",
                    uid,
                    name,
                    where.ip,
                    session_key=key,
                    UI_EVENT_TYPE=rng.choice(("user", "system")),
                    PAGE_URL=rng.choice(SF_PAGES),
                    USER_AGENT=where.browser.raw,
                ),
            )
        else:
            yield (
                ms,
                SOURCE,
                log.record(
                    ms,
                    "Report",
                    uid,
                    name,
                    where.ip,
                    session_key=key,
                    ENTITY_NAME=rng.choice(SF_ENTITIES),
                    ROWS_PROCESSED=rng.randint(5, 900),
                    RUN_TIME=rng.randint(200, 4_000),
                    URI="/lightning/r/Report/view",
                ),
            )
    if session.leave() and not mobile and rng.random() < _SIGN_OUT_SHARE:
        ms += rng.randint(30_000, 900_000)
        session.closed_until = ms + rng.randint(*_AWAY_AFTER_SIGN_OUT_MS)
        yield ms, SOURCE, log.record(ms, "Logout", uid, name, where.ip, session_key=key, USER_TYPE="Standard")


def integration(log: SalesforceLog, integ: Integration, ms: int) -> Iterator[Item]:
    """A connected-app integration syncing records from its fixed egress address."""
    rng = log.rng
    app = integ.app
    agent = f"{app.name.replace(' ', '')}/2.4 (+https://northwind-labs.com)"
    key = log.ids.base62(16)
    while True:
        if rng.random() < 0.25:
            # Older jobs still use the SOAP API, logged as event type API.
            entity = rng.choice(SF_ENTITIES)
            yield (
                ms,
                SOURCE,
                log.record(
                    ms,
                    "API",
                    integ.sf_user_id,
                    integ.sf_user_name,
                    integ.where.ip,
                    session_key=key,
                    API_TYPE="E",
                    API_VERSION=API_VERSION,
                    METHOD_NAME=rng.choice(("query", "queryMore", "upsert")),
                    ENTITY_NAME=entity,
                    ROWS_PROCESSED=rng.randint(1, 2_000),
                    CLIENT_NAME=app.name,
                    CONNECTED_APP_ID=app.id,
                    USER_AGENT=agent,
                ),
            )
            ms += rng.randint(20_000, 240_000)
            continue
        method = "GET" if rng.random() < 0.7 else "PATCH"
        yield (
            ms,
            SOURCE,
            log.rest_call(
                ms,
                integ.sf_user_id,
                integ.sf_user_name,
                integ.where.ip,
                app.id,
                app.name,
                app.client_id,
                agent=agent,
                session_key=key,
                method=method,
            ),
        )
        ms += rng.randint(20_000, 240_000)


def admin_change(log: SalesforceLog, admin: Person, ms: int) -> Iterator[Item]:
    """An administrator making an everyday setup change (recorded in the setup audit trail)."""
    rng = log.rng
    section, action, display = rng.choice(SF_SETUP_CHANGES)
    subject = rng.choice(log.org.sf_people or log.org.people)
    display = display.format(user=subject.email, app=rng.choice(log.org.sf_integrations).app.name)
    uid = admin.sf_user_id or log.ids.sf_id("005")
    yield (
        ms,
        SOURCE,
        log.record(
            ms,
            "SetupAuditTrail",
            uid,
            admin.email,
            admin.primary.ip,
            SECTION=section,
            ACTION=action,
            DISPLAY=display,
            DELEGATE_USER="",
        ),
    )

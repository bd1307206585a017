"""Okta System Log events (native API JSON) and the benign activity that produces them.

``OktaLog`` builds single events; ``employee_session``, ``admin_session`` and ``service_app`` are
processes: generators of ``(epoch_ms, "okta", event)`` in time order.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Iterator
from typing import Any

from tokentrail.simulate.ids import Ids, iso_ms
from tokentrail.simulate.org import Integration, Org, Person, ServiceAccount, Where
from tokentrail.simulate.sessions import Session, Sessions
from tokentrail.simulate.world import BENIGN_CONSENT_SCOPES

SOURCE = "okta"
Item = tuple[int, str, dict[str, Any]]

# eventType -> (displayMessage, legacyEventType)
EVENT_INFO: dict[str, tuple[str, str | None]] = {
    "user.session.start": ("User login to Okta", "core.user_auth.login_success"),
    "user.session.end": ("User logout from Okta", "core.user_auth.logout_success"),
    "policy.evaluate_sign_on": ("Evaluation of sign-on policy", None),
    "user.authentication.auth_via_mfa": (
        "Authentication of user via MFA",
        "core.user.factor.attempt_success",
    ),
    "user.authentication.sso": ("User single sign on to app", "app.auth.sso"),
    "app.oauth2.as.authorize.code": ("OAuth2 authorization code request", None),
    "app.oauth2.as.token.grant.access_token": ("OAuth2 access token is granted", None),
    "app.oauth2.as.token.grant.id_token": ("OAuth2 id token is granted", None),
    "app.oauth2.as.token.grant.refresh_token": ("OAuth2 refresh token is granted", None),
    "app.oauth2.as.token.detect_reuse": ("OAuth2 refresh token reuse detected", None),
    "app.oauth2.as.consent.grant": ("User granted consent to app", None),
    "user.mfa.factor.activate": ("Activate factor for user", "core.user.factor.activate"),
    "user.account.update_profile": (
        "Update user profile for Okta",
        "core.user.config.profile_update.success",
    ),
    "user.lifecycle.create": ("Create Okta user", "core.user.config.user_creation.success"),
    "group.user_membership.add": ("Add user to group membership", "core.user_group_member.user_add"),
    "application.user_membership.add": (
        "Add user to application membership",
        "app.generic.provision.assign_user_to_app",
    ),
    "user.account.privilege.grant": ("Grant user privilege", "core.user.admin_privilege.granted"),
    "system.api_token.create": ("Create API token", "api.token.create"),
    "system.api_token.revoke": ("Revoke API token", "api.token.revoke"),
    "app.oauth2.client.privilege.grant": ("Grant admin role to OAuth client", None),
    "app.oauth2.client.read_client_secret": ("Read OAuth client secret", None),
    "app.oauth2.credentials.lifecycle.create": ("Create OAuth client credential", None),
    "user.lifecycle.activate": ("Activate Okta user", "core.user.config.user_activated"),
}

_GROUPS = ("Engineering", "Sales", "Finance", "Support", "Contractors", "All Employees")


# Okta's global session: it ends after two idle hours or twelve hours in all (common org
# settings), or when the person signs out; after signing out people stay away for a while.
_IDLE_MS = 2 * 3_600_000
_LIFETIME_MS = 12 * 3_600_000
_AWAY_AFTER_SIGN_OUT_MS = (45 * 60_000, 3 * 3_600_000)
_SIGN_OUT_SHARE = 0.08
# Longest sign-in below (a mistyped password, the policy check, MFA): work on a session that is
# still being signed into waits this long.
_SIGN_IN_MS = 70_000


class OktaLog:
    """Builds Okta System Log events for one organisation."""

    def __init__(self, org: Org, rng: random.Random, ids: Ids) -> None:
        self.org = org
        self.rng = rng
        self.ids = ids
        self.sessions: Sessions[tuple[str, str]] = Sessions(
            idle_ms=_IDLE_MS, lifetime_ms=_LIFETIME_MS, sign_in_ms=_SIGN_IN_MS
        )

    # Okta's actor and target objects have the same shape, so one builder serves both roles.
    @staticmethod
    def user_ref(person: Person) -> dict[str, Any]:
        """The person as an event's actor or target."""
        return {
            "id": person.okta_id,
            "type": "User",
            "alternateId": person.email,
            "displayName": person.name,
            "detailEntry": None,
        }

    @staticmethod
    def client_ref(app: Integration) -> dict[str, Any]:
        """A service app's OAuth client as an event's actor or target."""
        cid = app.app.client_id
        return {
            "id": cid,
            "type": "PublicClientApp",
            "alternateId": cid,
            "displayName": app.app.name,
            "detailEntry": None,
        }

    @staticmethod
    def app_target(app_id: str, name: str) -> dict[str, Any]:
        """An app instance as an event's target, known by its name."""
        return {
            "id": app_id,
            "type": "AppInstance",
            "alternateId": name,
            "displayName": name,
            "detailEntry": None,
        }

    def group_target(self) -> dict[str, Any]:
        """One of the org's groups as an event's target."""
        return {
            "id": "00g" + self.ids.base62(17),
            "type": "UserGroup",
            "alternateId": "unknown",
            "displayName": self.rng.choice(_GROUPS),
            "detailEntry": None,
        }

    def auth_server_target(self) -> dict[str, Any]:
        """The org's default custom authorization server as an event's target."""
        return {
            "id": self.org.auth_server_id,
            "type": "AuthorizationServer",
            "alternateId": "default",
            "displayName": "default",
            "detailEntry": None,
        }

    def new_session(self) -> tuple[str, str]:
        """(externalSessionId, rootSessionId) for a fresh sign-in."""
        return "102" + self.ids.base62(22), "idx" + self.ids.base62(22)

    def event(
        self,
        ms: int,
        event_type: str,
        actor: dict[str, Any],
        where: Where,
        *,
        agent: str | None = None,
        result: str = "SUCCESS",
        reason: str | None = None,
        target: list[dict[str, Any]] | None = None,
        debug: dict[str, Any] | None = None,
        session: tuple[str, str] | None = None,
        transaction: str = "WEB",
        severity: str = "INFO",
        proxy: bool = False,
        credential: str | None = None,
        api_token: str | None = None,
    ) -> dict[str, Any]:
        """One System Log event as the ``/api/v1/logs`` API returns it."""
        place = where.place
        browser = where.browser
        message, legacy = EVENT_INFO[event_type]
        if result == "FAILURE" and legacy and legacy.endswith("success"):
            legacy = legacy[: -len("success")] + "failed"
        ids = self.ids.base62(54)  # request id and transaction id drawn in one go
        debug_data = {"requestId": ids[:27], "requestUri": _REQUEST_URI.get(event_type, "/api/v1")}
        if where.dt_hash and agent is None:
            debug_data["dtHash"] = where.dt_hash
        if debug:
            debug_data.update(debug)
        geo = {
            "city": place.city,
            "state": place.state,
            "country": place.country,
            "postalCode": place.postal,
            "geolocation": {"lat": place.lat, "lon": place.lon},
        }
        ext, root = session if session else (None, None)
        return {
            "uuid": self.ids.uuid(),
            "published": iso_ms(ms),
            "eventType": event_type,
            "version": "0",
            "severity": severity,
            "legacyEventType": legacy,
            "displayMessage": message,
            "actor": dict(actor),
            "client": {
                "userAgent": {
                    "rawUserAgent": agent or browser.raw,
                    "os": "Unknown" if agent else browser.os,
                    "browser": "UNKNOWN" if agent else browser.browser,
                },
                "zone": "null",
                "device": "Unknown" if agent else browser.device,
                "id": None,
                "ipAddress": where.ip,
                "geographicalContext": geo,
            },
            "device": None,
            "authenticationContext": {
                "authenticationProvider": None,
                "credentialProvider": None,
                "credentialType": credential,
                "issuer": None,
                "interface": None,
                "authenticationStep": 0,
                "rootSessionId": root,
                "externalSessionId": ext,
            },
            "outcome": {"result": result, "reason": reason},
            "securityContext": {
                "asNumber": place.asn,
                "asOrg": place.isp.lower(),
                "isp": place.isp.lower(),
                "domain": place.domain,
                "isProxy": proxy,
            },
            "debugContext": {"debugData": debug_data},
            "transaction": {
                "type": transaction,
                "id": ids[27:],
                "detail": {"requestApiTokenId": api_token} if api_token else {},
            },
            "request": {
                "ipChain": [
                    {"ip": where.ip, "geographicalContext": dict(geo), "version": "V4", "source": None}
                ]
            },
            "target": [dict(t) for t in target] if target is not None else None,
        }


_REQUEST_URI: dict[str, str] = {
    "user.session.start": "/idp/idx/identify",
    "policy.evaluate_sign_on": "/idp/idx/identify",
    "user.authentication.auth_via_mfa": "/idp/idx/challenge/answer",
    "app.oauth2.as.authorize.code": "/oauth2/default/v1/authorize",
    "app.oauth2.as.token.grant.access_token": "/oauth2/default/v1/token",
    "app.oauth2.as.token.grant.id_token": "/oauth2/default/v1/token",
    "app.oauth2.as.token.grant.refresh_token": "/oauth2/default/v1/token",
    "app.oauth2.as.token.detect_reuse": "/oauth2/default/v1/token",
    "app.oauth2.as.consent.grant": "/oauth2/default/v1/authorize",
    "user.session.end": "/login/signout",
}


def employee_session(log: OktaLog, person: Person, ms: int) -> Iterator[Item]:
    """A burst of work on one of the person's devices: a handful of SSO and OIDC app uses in the
    device's Okta session, signing in first (password, MFA) when it has none open."""
    rng = log.rng
    where = person.pick_where(rng)
    actor = log.user_ref(person)
    session, ms = yield from _signed_in(log, person, actor, where, ms)
    ids = session.ids
    refreshes: list[tuple[int, dict[str, Any]]] = []
    for _ in range(rng.randint(1, 7)):
        ms += int(rng.expovariate(1 / 240_000)) + 1_000
        session.use(ms)
        if rng.random() < 0.65:
            yield from _sso(log, person, actor, where, ids, ms)
        else:
            ms = yield from _oidc(log, actor, where, ids, ms, refreshes)
        if rng.random() < 0.03:
            ms += rng.randint(5_000, 60_000)
            session.use(ms)
            yield from _self_service(log, person, actor, where, ids, ms)
    # Apps holding refresh tokens renew their access tokens through the rest of the day; they need
    # no Okta session, so a sign-out can come before some of them.
    later: list[tuple[int, dict[str, Any] | None]] = sorted(refreshes, key=lambda r: r[0])
    if session.leave() and rng.random() < _SIGN_OUT_SHARE:
        # Decided now so that work arriving meanwhile waits for a new sign-in.
        out_at = ms + rng.randint(60_000, 1_800_000)
        session.closed_until = out_at + rng.randint(*_AWAY_AFTER_SIGN_OUT_MS)
        later = sorted([*later, (out_at, None)], key=lambda r: r[0])
    for at, event_args in later:
        at = max(at, ms)
        if event_args is None:
            yield at, SOURCE, log.event(at, "user.session.end", actor, where, session=ids)
        else:
            yield (
                at,
                SOURCE,
                log.event(at, "app.oauth2.as.token.grant.access_token", actor, where, **event_args),
            )
        ms = at


def _signed_in(
    log: OktaLog, person: Person, actor: dict, where: Where, ms: int
) -> Generator[Item, None, tuple[Session[tuple[str, str]], int]]:
    """The device's open session, or a new one signed into now (yielding the sign-in events).
    Returns the session and when work in it can start."""
    rng = log.rng
    session, ms = log.sessions.join(where.dt_hash, ms)
    if session is not None:
        return session, ms
    session = log.sessions.start(where.dt_hash, log.new_session(), ms)
    if rng.random() < 0.06:
        yield (
            ms,
            SOURCE,
            log.event(
                ms,
                "user.session.start",
                actor,
                where,
                result="FAILURE",
                reason="INVALID_CREDENTIALS",
                credential="PASSWORD",
            ),
        )
        ms += rng.randint(4_000, 40_000)
    ids = session.ids
    yield (
        ms,
        SOURCE,
        log.event(
            ms,
            "policy.evaluate_sign_on",
            actor,
            where,
            result="ALLOW",
            reason="Sign-on policy evaluation resulted in ALLOW",
            session=ids,
            target=[
                {
                    "id": "rul" + log.ids.base62(17),
                    "type": "PolicyRule",
                    "alternateId": "unknown",
                    "displayName": "Require MFA",
                    "detailEntry": None,
                }
            ],
        ),
    )
    ms += rng.randint(3_000, 25_000)
    yield _mfa(log, person, actor, where, ids, ms)
    ms += rng.randint(200, 1_500)
    yield (
        ms,
        SOURCE,
        log.event(
            ms,
            "user.session.start",
            actor,
            where,
            session=ids,
            credential="PASSWORD",
            debug={
                "behaviors": person.behaviors(where),
                "risk": "{level=LOW}",
                "threatSuspected": "false",
            },
        ),
    )
    return session, ms


def _mfa(log: OktaLog, person: Person, actor: dict, where: Where, session: tuple[str, str], ms: int) -> Item:
    """The person answers their MFA challenge on the way into ``session``."""
    return (
        ms,
        SOURCE,
        log.event(
            ms,
            "user.authentication.auth_via_mfa",
            actor,
            where,
            session=session,
            credential="OTP",
            debug={"factor": person.factor[0]},
        ),
    )


def _sso(
    log: OktaLog, person: Person, actor: dict, where: Where, session: tuple[str, str], ms: int
) -> Iterator[Item]:
    app = log.rng.choice(log.org.okta_sso_apps)
    target = [
        {
            "id": app.id,
            "type": "AppInstance",
            "alternateId": app.id,
            "displayName": app.name,
            "detailEntry": None,
        },
        {
            "id": "0ua" + log.ids.base62(17),
            "type": "AppUser",
            "alternateId": person.email,
            "displayName": person.name,
            "detailEntry": None,
        },
    ]
    yield (
        ms,
        SOURCE,
        log.event(
            ms,
            "user.authentication.sso",
            actor,
            where,
            session=session,
            target=target,
            debug={
                "initiationType": "IDP_INITIATED",
                "signOnMode": "SAML 2.0",
                "requestUri": f"/app/{app.kind}/{app.id}/sso/saml",
            },
        ),
    )


def _oidc(
    log: OktaLog,
    actor: dict,
    where: Where,
    session: tuple[str, str],
    ms: int,
    refreshes: list[tuple[int, dict[str, Any]]],
) -> Generator[Item, None, int]:
    """Authorization-code flow against the custom authorization server; with ``offline_access`` the
    app will refresh later, so the refresh grants are queued on ``refreshes``. Returns the time."""
    rng = log.rng
    app = rng.choice(log.org.okta_oidc_apps)
    scopes = rng.choice(BENIGN_CONSENT_SCOPES)
    target = [log.app_target(app.client_id, app.name), log.auth_server_target()]
    debug = {
        "grantType": "authorization_code",
        "grantedScopes": scopes,
        "requestedScopes": scopes,
        "clientId": app.client_id,
    }
    yield (
        ms,
        SOURCE,
        log.event(
            ms, "app.oauth2.as.authorize.code", actor, where, session=session, target=target, debug=debug
        ),
    )
    ms += rng.randint(100, 900)
    yield (
        ms,
        SOURCE,
        log.event(ms, "app.oauth2.as.token.grant.id_token", actor, where, target=target, debug=debug),
    )
    yield (
        ms,
        SOURCE,
        log.event(ms, "app.oauth2.as.token.grant.access_token", actor, where, target=target, debug=debug),
    )
    if "offline_access" not in scopes:
        return ms
    yield (
        ms,
        SOURCE,
        log.event(ms, "app.oauth2.as.token.grant.refresh_token", actor, where, target=target, debug=debug),
    )
    refresh = {"target": target, "debug": dict(debug, grantType="refresh_token")}
    at = ms
    for _ in range(rng.randint(0, 3)):
        at += rng.randint(1_800_000, 3_600_000)
        refreshes.append((at, refresh))
    return ms


def _self_service(
    log: OktaLog, person: Person, actor: dict, where: Where, session: tuple[str, str], ms: int
) -> Iterator[Item]:
    """Rare profile edits, factor enrolments and consents to internal apps."""
    rng = log.rng
    roll = rng.random()
    if roll < 0.4:
        yield (
            ms,
            SOURCE,
            log.event(
                ms,
                "user.account.update_profile",
                actor,
                where,
                session=session,
                target=[log.user_ref(person)],
                debug={"changedAttributes": "mobilePhone"},
            ),
        )
    elif roll < 0.7:
        factor = rng.choice(("OKTA_VERIFY_PUSH", "FIDO_WEBAUTHN"))
        yield (
            ms,
            SOURCE,
            log.event(
                ms,
                "user.mfa.factor.activate",
                actor,
                where,
                session=session,
                target=[log.user_ref(person)],
                debug={"factor": factor},
            ),
        )
    else:
        app = rng.choice(log.org.okta_oidc_apps)
        scopes = rng.choice(BENIGN_CONSENT_SCOPES)
        yield (
            ms,
            SOURCE,
            log.event(
                ms,
                "app.oauth2.as.consent.grant",
                actor,
                where,
                session=session,
                target=[log.app_target(app.client_id, app.name)],
                debug={"grantedScopes": scopes, "clientId": app.client_id},
            ),
        )


def admin_session(log: OktaLog, admin: Person, ms: int) -> Iterator[Item]:
    """An administrator at work on people's accounts from their own computer: mostly group and
    app assignments and profile edits, now and then a new hire created and activated."""
    rng = log.rng
    where = admin.primary
    actor = log.user_ref(admin)
    live, ms = yield from _signed_in(log, admin, actor, where, ms)
    session = live.ids
    for _ in range(rng.randint(1, 4)):
        ms += rng.randint(20_000, 300_000)
        live.use(ms)
        subject = rng.choice(log.org.people)
        target = [log.user_ref(subject)]
        roll = rng.random()
        if roll < 0.1:
            yield (
                ms,
                SOURCE,
                log.event(ms, "user.lifecycle.create", actor, where, session=session, target=target),
            )
            ms += rng.randint(1_000, 10_000)
            yield (
                ms,
                SOURCE,
                log.event(ms, "user.lifecycle.activate", actor, where, session=session, target=target),
            )
        elif roll < 0.5:
            group = log.group_target()
            yield (
                ms,
                SOURCE,
                log.event(
                    ms, "group.user_membership.add", actor, where, session=session, target=[*target, group]
                ),
            )
        elif roll < 0.85:
            app = rng.choice(log.org.okta_sso_apps)
            yield (
                ms,
                SOURCE,
                log.event(
                    ms,
                    "application.user_membership.add",
                    actor,
                    where,
                    session=session,
                    target=[*target, log.app_target(app.id, app.name)],
                ),
            )
        else:
            yield (
                ms,
                SOURCE,
                log.event(
                    ms,
                    "user.account.update_profile",
                    actor,
                    where,
                    session=session,
                    target=target,
                    debug={"changedAttributes": "department,title"},
                ),
            )
    live.leave()


def service_app(log: OktaLog, app: Integration, ms: int) -> Iterator[Item]:
    """A client-credentials integration asking for an access token every quarter hour or so."""
    rng = log.rng
    actor = log.client_ref(app)
    target = [log.auth_server_target()]
    debug = {
        "grantType": "client_credentials",
        "grantedScopes": "okta.users.read okta.groups.read",
        "clientId": app.app.client_id,
    }
    while True:
        yield (
            ms,
            SOURCE,
            log.event(
                ms,
                "app.oauth2.as.token.grant.access_token",
                actor,
                app.where,
                agent="okta-sdk-java/8.2.5 java/17.0.9",
                target=target,
                debug=debug,
                transaction="JOB",
            ),
        )
        ms += rng.randint(600_000, 1_200_000)


def service_account(log: OktaLog, account: ServiceAccount, ms: int) -> Iterator[Item]:
    """An integration keeping people's profiles and groups in step through the Management API,
    authenticated by its API token, from its one server address."""
    rng = log.rng
    actor = {
        "id": account.okta_id,
        "type": "User",
        "alternateId": account.email,
        "displayName": account.name,
        "detailEntry": None,
    }
    while True:
        subject = rng.choice(log.org.people)
        target = [log.user_ref(subject)]
        if rng.random() < 0.8:
            event_type, debug = "user.account.update_profile", {"changedAttributes": "department,manager"}
        else:
            event_type, debug = "group.user_membership.add", {}
            target.append(log.group_target())
        yield (
            ms,
            SOURCE,
            log.event(
                ms,
                event_type,
                actor,
                account.where,
                agent=account.agent,
                target=target,
                debug=debug,
                api_token=account.token_id,
            ),
        )
        ms += rng.randint(900_000, 2_700_000)

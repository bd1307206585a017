"""The simulated organisation: employees, admins, customers, apps and integrations.

Built once per run from the seed; every benign process and attack scenario draws its actors from
it, so the same people, apps and networks recur across Okta, Auth0 and Salesforce.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tokentrail.simulate.ids import Ids
from tokentrail.simulate.world import (
    AUTH0_APPS,
    AUTH0_M2M_APPS,
    BROWSERS,
    CLOUD_PLACES,
    COMPUTER_BROWSERS,
    EGRESS_PREFIXES,
    FIRST_NAMES,
    HOME_PLACES,
    LAST_NAMES,
    OFFICE_CITIES,
    OKTA_MFA_FACTORS,
    OKTA_OIDC_APPS,
    OKTA_SERVICE_ACCOUNTS,
    OKTA_SERVICE_APPS,
    OKTA_SSO_APPS,
    PHONE_BROWSERS,
    SF_INTEGRATION_APPS,
    SF_MOBILE_APP,
    Browser,
    Place,
)

# Employees cluster in the first offices; customers spread over every place.
_EMPLOYEE_PLACE_WEIGHTS = (30, 20, 12, 10, 10, 6, 4, 3, 2, 1, 1, 1)
# Shares of employees on a given day: who also uses Okta on a phone, who works from the office
# (where there is one), who is travelling, and whose laptop is new today.
_PHONE_SHARE = 0.45
_OFFICE_DAY_SHARE = 0.5
_TRAVEL_SHARE = 0.02
_NEW_DEVICE_SHARE = 0.01
# How much of a two-device person's work happens on the second device (the phone).
_SECOND_DEVICE_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class Where:
    """Where a request comes from: address, place and user agent, and for a person's own browser
    the hash of the device token Okta keeps in it (``dt_hash``; empty for servers and scripts)."""

    ip: str
    place: Place
    browser: Browser
    dt_hash: str = ""


@dataclass(frozen=True, slots=True)
class Person:
    """An employee with an Okta account and, for some, a Salesforce user.

    A run is one working day, so the person's devices are today's: one browser per device, all on
    the network the person works from today (home, the office, or a hotel when travelling).
    """

    name: str
    email: str
    okta_id: str
    devices: tuple[Where, ...]
    factor: tuple[str, str]
    admin: bool
    sf_user_id: str | None
    sf_mobile: bool
    away: bool = False  # travelling today: signs in from a place Okta has not seen for them
    new_device: bool = False  # the first device is new today (a replaced laptop)

    @property
    def primary(self) -> Where:
        """The device the person does most of their work on."""
        return self.devices[0]

    def pick_where(self, rng: random.Random) -> Where:
        """The device the next piece of work happens on: mostly the primary one."""
        if len(self.devices) > 1 and rng.random() < _SECOND_DEVICE_SHARE:
            return self.devices[1]
        return self.devices[0]

    def behaviors(self, where: Where) -> str:
        """Okta's behaviour-detection summary for a sign-in from ``where``."""
        geo = "POSITIVE" if self.away else "NEGATIVE"
        device = "POSITIVE" if self.new_device and where is self.devices[0] else "NEGATIVE"
        return f"{{New Geo-Location={geo}, New Device={device}}}"


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """An Okta user that only an integration uses, through an API token, from a fixed server."""

    name: str
    email: str
    okta_id: str
    token_id: str
    agent: str
    where: Where


@dataclass(frozen=True, slots=True)
class Customer:
    """An end user of the Auth0 tenant's customer-facing apps."""

    user_id: str
    email: str
    where: Where
    app: App


@dataclass(frozen=True, slots=True)
class App:
    """An application registered with a vendor (Okta app, Auth0 client, Salesforce connected app)."""

    id: str
    name: str
    kind: str = ""
    client_id: str = ""


@dataclass(frozen=True, slots=True)
class Integration:
    """A machine identity: an app that calls APIs from the organisation's cloud egress."""

    app: App
    where: Where
    sf_user_id: str = ""
    sf_user_name: str = ""


@dataclass(frozen=True)
class Org:
    """Everything the simulator knows about the company."""

    domain: str
    okta_host: str
    auth_server_id: str
    people: tuple[Person, ...]
    admins: tuple[Person, ...]
    okta_sso_apps: tuple[App, ...]
    okta_oidc_apps: tuple[App, ...]
    okta_service_apps: tuple[Integration, ...]
    okta_service_accounts: tuple[ServiceAccount, ...]
    auth0_tenant: str
    auth0_host: str
    auth0_apps: tuple[App, ...]
    auth0_m2m: tuple[Integration, ...]
    customers: tuple[Customer, ...]
    sf_org_id: str
    sf_people: tuple[Person, ...]
    sf_integrations: tuple[Integration, ...]
    sf_mobile_app: App


def build_org(rng: random.Random, ids: Ids, *, employees: int) -> Org:
    """A company of about ``employees`` people and ten times as many customers."""
    domain = "northwind-labs.com"
    offices = {p.city: ids.ip(p.prefixes[0]) for p in HOME_PLACES if p.city in OFFICE_CITIES}
    people = tuple(_person(rng, ids, domain, i, offices) for i in range(employees))
    admins = tuple(p for p in people if p.admin) or people[:1]
    sso = tuple(App(ids.okta("0oa"), label, name) for label, name in OKTA_SSO_APPS)
    oidc = tuple(App(ids.okta("0oa"), label, "oidc", client_id=ids.okta("0oa")) for label in OKTA_OIDC_APPS)
    service = tuple(
        Integration(App(ids.okta("0oa"), name, "service", client_id=ids.okta("0oa")), _egress(rng, ids, i))
        for i, name in enumerate(OKTA_SERVICE_APPS)
    )
    accounts = tuple(
        ServiceAccount(
            name,
            f"{login}@{domain}",
            ids.okta("00u"),
            ids.okta("00T"),
            agent,
            _egress(rng, ids, i),
        )
        for i, (name, login, agent) in enumerate(OKTA_SERVICE_ACCOUNTS)
    )
    auth0_apps = tuple(_auth0_client(ids, name, kind) for name, kind in AUTH0_APPS)
    m2m = tuple(
        Integration(_auth0_client(ids, name, "non_interactive"), _egress(rng, ids, i))
        for i, name in enumerate(AUTH0_M2M_APPS)
    )
    customers = tuple(_customer(rng, ids, auth0_apps, i) for i in range(employees * 10))
    sf_people = tuple(p for p in people if p.sf_user_id)
    sf_integrations = tuple(
        Integration(
            App(ids.sf_id("0H4"), name, "integration", client_id="3MVG9" + ids.base62(80)),
            _egress(rng, ids, i),
            sf_user_id=ids.sf_id("005"),
            sf_user_name=f"integration.{name.split()[0].lower()}@{domain}",
        )
        for i, name in enumerate(SF_INTEGRATION_APPS)
    )
    mobile = App(ids.sf_id("0H4"), SF_MOBILE_APP, "mobile", client_id="3MVG9" + ids.base62(80))
    return Org(
        domain=domain,
        okta_host="northwind.okta.com",
        auth_server_id="aus" + ids.base62(17),
        people=people,
        admins=admins,
        okta_sso_apps=sso,
        okta_oidc_apps=oidc,
        okta_service_apps=service,
        okta_service_accounts=accounts,
        auth0_tenant="northwind-prod",
        auth0_host="login.northwind-labs.com",
        auth0_apps=auth0_apps,
        auth0_m2m=m2m,
        customers=customers,
        sf_org_id="00D" + ids.base62(12),
        sf_people=sf_people,
        sf_integrations=sf_integrations,
        sf_mobile_app=mobile,
    )


def _auth0_client(ids: Ids, name: str, kind: str) -> App:
    client_id = ids.base62(32)  # Auth0 uses the client id as the application's id
    return App(client_id, name, kind, client_id=client_id)


def _where(rng: random.Random, ids: Ids, place: Place) -> Where:
    return Where(ids.ip(rng.choice(place.prefixes)), place, rng.choice(BROWSERS))


def _person(rng: random.Random, ids: Ids, domain: str, index: int, offices: dict[str, str]) -> Person:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    place = rng.choices(HOME_PLACES, weights=_EMPLOYEE_PLACE_WEIGHTS)[0]
    ip = ids.ip(rng.choice(place.prefixes))  # the home connection
    office = offices.get(place.city)
    if office is not None and rng.random() < _OFFICE_DAY_SHARE:
        ip = office
    away = rng.random() < _TRAVEL_SHARE
    if away:
        place = rng.choice([p for p in HOME_PLACES if p is not place])
        ip = ids.ip(rng.choice(place.prefixes))  # the hotel's connection
    devices = [Where(ip, place, rng.choice(COMPUTER_BROWSERS), ids.hex(64))]
    if rng.random() < _PHONE_SHARE:
        devices.append(Where(ip, place, rng.choice(PHONE_BROWSERS), ids.hex(64)))
    has_sf = rng.random() < 0.6
    return Person(
        name=f"{first} {last}",
        email=f"{first.lower()}.{last.lower()}{index}@{domain}",
        okta_id=ids.okta("00u"),
        devices=tuple(devices),
        factor=rng.choice(OKTA_MFA_FACTORS),
        admin=rng.random() < 0.04,
        sf_user_id=ids.sf_id("005") if has_sf else None,
        sf_mobile=has_sf and rng.random() < 0.3,
        away=away,
        new_device=rng.random() < _NEW_DEVICE_SHARE,
    )


def _customer(rng: random.Random, ids: Ids, apps: tuple[App, ...], index: int) -> Customer:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return Customer(
        user_id="auth0|" + ids.hex(24),
        email=f"{first.lower()}{index}.{last.lower()}@example-mail.com",
        where=_where(rng, ids, rng.choice(HOME_PLACES)),
        app=rng.choice(apps),
    )


def _egress(rng: random.Random, ids: Ids, index: int) -> Where:
    place = CLOUD_PLACES[index % len(CLOUD_PLACES)]
    prefix = EGRESS_PREFIXES[index % len(EGRESS_PREFIXES)]
    return Where(ids.ip(prefix), place, BROWSERS[0])

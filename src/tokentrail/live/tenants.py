"""Which tenants a live run watches, and where their secrets come from.

A tenant is a vendor, the tenant's URL and the *names* of the secrets (an environment variable or
a file), never a secret itself: a ``tenants.yml`` holding a token is refused, so configuration
files and process titles never carry one. The secret is read when the collector is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokentrail.errors import ConfigError
from tokentrail.sources.collectors.base import Collector

VENDORS = ("okta", "auth0", "salesforce")
_URL_KEYS = {"okta": "org_url", "auth0": "domain", "salesforce": "instance_url"}
_SECRET_KEYS = ("token", "client_secret", "password", "api_token", "secret", "private_key")


@dataclass(frozen=True)
class SecretRef:
    """Where a secret is read from: an environment variable or a file (first line)."""

    env: str | None = None
    file: Path | None = None

    def read(self, what: str) -> str:
        """The secret; ``ConfigError`` naming the variable or file (never the value) when absent."""
        if self.env:
            value = os.environ.get(self.env, "")
            if not value:
                raise ConfigError(f"{what}: environment variable {self.env} is not set or empty")
            return value
        if self.file is not None:
            try:
                value = self.file.read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{what}: cannot read {self.file}: {exc.strerror}") from None
            if not value:
                raise ConfigError(f"{what}: {self.file} is empty")
            return value
        raise ConfigError(f"{what}: give it with an environment variable or a file")

    @property
    def given(self) -> bool:
        return bool(self.env) or self.file is not None


@dataclass(frozen=True)
class Tenant:
    """One tenant to watch."""

    vendor: str
    url: str
    token: SecretRef = SecretRef()
    client_id: SecretRef = SecretRef()
    client_secret: SecretRef = SecretRef()
    private_key: SecretRef = SecretRef()  # Okta service app / Salesforce JWT bearer: an RSA PEM
    username: str | None = None  # Salesforce JWT bearer: the user the connected app acts as
    login_url: str | None = None  # Salesforce: the login server (token endpoint, JWT audience)
    name: str | None = None  # the source name alerts and checkpoints carry (default: the collector's)
    since: str | None = None
    interval: float = 30.0
    scheme: str | None = None  # Okta: SSWS (default) or Bearer
    page_size: int | None = None  # events per request (the vendor's default when None)
    log_interval: str | None = None  # Salesforce: the EventLogFile interval, Hourly (default) or Daily
    objects: tuple[str, ...] = ()  # Salesforce: Real-Time Event Monitoring storage objects to query

    def secrets(self) -> list[str]:
        """Every secret this tenant uses that is set, to scrub from what the run prints."""
        found = []
        for ref in (self.token, self.client_id, self.client_secret, self.private_key):
            if ref.given:
                try:
                    found.append(ref.read("secret"))
                except ConfigError:
                    continue
        return found


def load_tenants(path: Path) -> list[Tenant]:
    """The tenants a ``tenants.yml`` lists (``tenants:``, each with ``vendor`` and its URL key)."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError("not valid YAML", file=str(path), line=mark.line + 1 if mark else None) from None
    entries = doc.get("tenants") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError("expected 'tenants:' with a list of tenants", file=str(path))
    return [_tenant(entry, path, n) for n, entry in enumerate(entries, 1)]


def _tenant(entry: Any, path: Path, n: int) -> Tenant:
    where = f"tenant {n}"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping", file=str(path))
    vendor = entry.get("vendor")
    if vendor not in VENDORS:
        raise ConfigError(f"{where}: vendor must be one of {', '.join(VENDORS)}", file=str(path))
    for key in _SECRET_KEYS:
        if key in entry:
            raise ConfigError(f"{where}: '{key}' holds a secret; name it with '{key}_env' or '{key}_file' "
                              "instead", file=str(path))
    url = entry.get(_URL_KEYS[vendor])
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}: '{_URL_KEYS[vendor]}' is required for {vendor}", file=str(path))
    base = path.parent

    def ref(key: str) -> SecretRef:
        file = entry.get(f"{key}_file")
        return SecretRef(env=entry.get(f"{key}_env"), file=(base / str(file)) if file else None)

    try:
        interval = float(entry.get("interval", 30.0))
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: interval must be a number of seconds", file=str(path)) from None
    return Tenant(vendor=vendor, url=url, token=ref("token"), client_id=ref("client_id"),
                  client_secret=ref("client_secret"), private_key=ref("private_key"),
                  username=None if entry.get("username") is None else str(entry.get("username")),
                  login_url=_login_url(entry, vendor, where, path),
                  name=entry.get("name"),
                  since=None if entry.get("since") is None else str(entry.get("since")),
                  interval=interval, scheme=entry.get("scheme"),
                  page_size=entry.get("page_size") if isinstance(entry.get("page_size"), int) else None,
                  log_interval=entry.get("log_interval"), objects=tuple(map(str, entry.get("objects") or ())))


def _login_url(entry: Mapping[str, Any], vendor: str, where: str, path: Path) -> str | None:
    url = entry.get("login_url")
    if url is None:
        return None
    if vendor != "salesforce":
        raise ConfigError(f"{where}: 'login_url' is for salesforce tenants only", file=str(path))
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}: 'login_url' must be a URL", file=str(path))
    return url


def build_collector(tenant: Tenant) -> Collector:
    """The vendor collector for ``tenant``, its secrets read now."""
    if tenant.vendor == "okta":
        from tokentrail.sources.collectors.okta import OktaLogCollector

        signed: dict[str, Any] = {"token": tenant.token.read("Okta token")} if not tenant.private_key.given else \
            {"client_id": tenant.client_id.read("Okta client id"), "private_key": _signing_key(tenant.private_key)}
        collector: Any = OktaLogCollector(tenant.url, **signed, scheme=tenant.scheme or "SSWS", since=tenant.since,
                                          poll_interval=tenant.interval, limit=tenant.page_size or 1000,
                                          raw_pages=True)  # the live pipeline reads events' texts
    else:
        if tenant.vendor == "auth0":
            from tokentrail.sources.collectors.auth0 import Auth0LogCollector as cls
        else:
            from tokentrail.sources.collectors.salesforce import SalesforceLogCollector as cls  # type: ignore[no-redef]
        what = "Auth0" if tenant.vendor == "auth0" else "Salesforce"
        extra: dict[str, Any] = {}
        if tenant.vendor == "salesforce":
            extra = {"interval": tenant.log_interval or "Hourly", "objects": tenant.objects,
                     "login_url": tenant.login_url}
        if tenant.token.given:
            secrets = {"token": tenant.token.read(f"{what} token")}
        elif tenant.private_key.given:
            secrets = {"client_id": tenant.client_id.read(f"{what} consumer key"), "username": tenant.username,
                       "private_key": _signing_key(tenant.private_key)}
        else:
            secrets = {"client_id": tenant.client_id.read(f"{what} client id"),
                       "client_secret": tenant.client_secret.read(f"{what} client secret")}
        collector = cls(tenant.url, **secrets, since=tenant.since, poll_interval=tenant.interval, **extra)
    if tenant.name:
        collector.name = tenant.name
    return collector


def _signing_key(ref: SecretRef) -> Any:
    """The RSA private key ``ref`` names, parsed now (errors name the file or variable)."""
    from tokentrail.sources.collectors.assertions import load_signing_key

    source = str(ref.file) if ref.file is not None else f"environment variable {ref.env}"
    return load_signing_key(ref.read("private key").encode(), source)

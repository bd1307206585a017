"""A bearer token for an API: given as it is, or fetched with an OAuth grant (client credentials,
a signed JWT assertion) and kept until shortly before it expires (or until the API answers 401,
once)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tokentrail.errors import ConfigError
from tokentrail.sources.collectors.http import Clock, CollectorAuthError, HttpApi

_EXPIRY_MARGIN = 60.0  # seconds before a token's expiry at which a new one is fetched


@dataclass(frozen=True)
class TokenRequest:
    """How a vendor hands out a token: the path, a JSON or form body, which statuses mean the
    client was refused (Salesforce says 400), and the secrets the body carries (a client secret,
    a signed assertion) that must never appear in a message. ``origin`` is where the token
    endpoint lives when it is not the API's own origin (Salesforce's login server)."""

    path: str
    json: Mapping[str, str] | None = None
    form: Mapping[str, str] | None = None
    refused: tuple[int, ...] = field(default=(401, 403))
    secrets: tuple[str, ...] = ()
    origin: str | None = None


class BearerToken:
    """The current token: ``token`` when given, else one fetched with the request ``grant()``
    builds (called per fetch, so a signed assertion is fresh each time)."""

    def __init__(self, *, vendor: str, token: str | None, grant: Callable[[], TokenRequest] | None,
                 clock: Clock) -> None:
        if not token and grant is None:
            raise ConfigError(f"{vendor} needs a token, or a client id and the credentials to get one")
        self._given, self._grant, self._clock = token, grant, clock
        self._token: str | None = token
        self._expires = float("inf")
        self._sent: tuple[str, ...] = ()

    def secrets(self) -> tuple[str, ...]:
        """What must never appear in a message."""
        return tuple(s for s in (self._given, self._token, *self._sent) if s)

    def forget(self) -> bool:
        """A 401: fetch a new token once, when there are credentials to fetch it with."""
        if self._grant is None:
            return False
        self._token = None
        return True

    def headers(self, api: HttpApi, stop: threading.Event) -> dict[str, str]:
        """The Authorization header, fetching a token first when there is none or it expired."""
        return {"Authorization": f"Bearer {self._current(api, stop)}"}

    def _current(self, api: HttpApi, stop: threading.Event) -> str:
        if self._token is not None and self._clock() < self._expires:
            return self._token
        if self._grant is None:
            return self._given or ""
        ask = self._grant()
        self._sent = ask.secrets
        token_api = api.sibling(ask.origin) if ask.origin is not None and ask.origin != api.origin else api
        try:
            body, _ = token_api.json_object("POST", token_api.origin + ask.path, stop, authorized=False,
                                            json=ask.json, data=ask.form, refused=ask.refused)
        finally:
            if token_api is not api:
                token_api.close()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise api.error(f"{token_api.origin}{ask.path} answered without an access_token", CollectorAuthError)
        lifetime = body.get("expires_in")
        self._token = token
        self._expires = self._clock() + max(0.0, float(lifetime) - _EXPIRY_MARGIN) \
            if isinstance(lifetime, int | float) else float("inf")
        return token


def client_credentials(vendor: str, client_id: str | None, client_secret: str | None,
                       request: Callable[[str, str], TokenRequest]) -> Callable[[], TokenRequest] | None:
    """The grant of a client id and secret (None when neither is given; ``ConfigError`` for half)."""
    if not client_id and not client_secret:
        return None
    if not (client_id and client_secret):
        raise ConfigError(f"{vendor} needs both a client id and a client secret")
    return lambda: request(client_id, client_secret)

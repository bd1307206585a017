"""A bearer token for an API: given as it is, or fetched with OAuth client credentials and kept
until shortly before it expires (or until the API answers 401, once)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tokentrail.errors import ConfigError
from tokentrail.sources.collectors.http import Clock, CollectorAuthError, HttpApi

_EXPIRY_MARGIN = 60.0  # seconds before a token's expiry at which a new one is fetched


@dataclass(frozen=True)
class TokenRequest:
    """How a vendor hands out a token: the path, a JSON or form body, and which statuses mean
    the client was refused (Salesforce says 400)."""

    path: str
    json: Mapping[str, str] | None = None
    form: Mapping[str, str] | None = None
    refused: tuple[int, ...] = field(default=(401, 403))


class BearerToken:
    """The current token: ``token`` when given, else one fetched with ``request(id, secret)``."""

    def __init__(self, *, vendor: str, token: str | None, client_id: str | None, client_secret: str | None,
                 request: Callable[[str, str], TokenRequest], clock: Clock) -> None:
        if not token and not (client_id and client_secret):
            raise ConfigError(f"{vendor} needs a token, or a client id and client secret")
        self._given, self._client_id, self._client_secret = token, client_id, client_secret
        self._request, self._clock = request, clock
        self._token: str | None = token
        self._expires = float("inf")

    def secrets(self) -> tuple[str, ...]:
        """What must never appear in a message."""
        return tuple(s for s in (self._given, self._token, self._client_secret) if s)

    def forget(self) -> bool:
        """A 401: fetch a new token once, when there are credentials to fetch it with."""
        if self._client_id is None:
            return False
        self._token = None
        return True

    def headers(self, api: HttpApi, stop: threading.Event) -> dict[str, str]:
        """The Authorization header, fetching a token first when there is none or it expired."""
        return {"Authorization": f"Bearer {self._current(api, stop)}"}

    def _current(self, api: HttpApi, stop: threading.Event) -> str:
        if self._token is not None and self._clock() < self._expires:
            return self._token
        if self._client_id is None or self._client_secret is None:
            return self._given or ""
        ask = self._request(self._client_id, self._client_secret)
        body, _ = api.json_object("POST", api.origin + ask.path, stop, authorized=False, json=ask.json,
                                  data=ask.form, refused=ask.refused)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise api.error(f"{api.origin}{ask.path} answered without an access_token", CollectorAuthError)
        lifetime = body.get("expires_in")
        self._token = token
        self._expires = self._clock() + max(0.0, float(lifetime) - _EXPIRY_MARGIN) \
            if isinstance(lifetime, int | float) else float("inf")
        return token

"""Checks a signed JWT assertion as the vendors' token endpoints do: the RS256 signature against
the app's configured public key, the issuer, subject and audience, the expiry (and how far ahead
it may lie), and, where the vendor refuses replays, the ``jti``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

_LEEWAY = 30.0  # seconds of clock skew tolerated either way


@dataclass(frozen=True)
class SignedApp:
    """An app that signs in with a private key: its id (Okta client id, Salesforce consumer key),
    its public key (PEM), and for Salesforce the user it may act as."""

    client_id: str
    public_key: bytes
    username: str | None = None


class Rejected(Exception):
    """The assertion is not acceptable; the message says why, as the vendor would."""


class AssertionCheck:
    """Verifies the assertions of one app; remembers the ``jti`` values seen when ``unique``."""

    def __init__(self, app: SignedApp, *, max_lifetime: float, unique: bool, clock: Callable[[], float]) -> None:
        self.app, self.max_lifetime, self.unique, self.clock = app, max_lifetime, unique, clock
        self._key = load_pem_public_key(app.public_key)
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def verify(self, assertion: str | None, *, audience: str, subject: str) -> dict:
        """The claims of a good assertion; ``Rejected`` naming what is wrong otherwise."""
        if not assertion:
            raise Rejected("assertion is missing")
        try:
            claims = jwt.decode(assertion, self._key, algorithms=["RS256"],
                                options={"verify_exp": False, "verify_aud": False, "verify_iat": False,
                                         "verify_nbf": False})
        except jwt.InvalidSignatureError:
            raise Rejected("signature is invalid") from None
        except jwt.PyJWTError:
            raise Rejected("is not a well-formed RS256 JWT") from None
        if claims.get("iss") != self.app.client_id:
            raise Rejected("issuer is not this app")
        if claims.get("sub") != subject:
            raise Rejected("subject is not allowed")
        if claims.get("aud") != audience:
            raise Rejected("audience is invalid")
        exp, now = claims.get("exp"), self.clock()
        if not isinstance(exp, int | float):
            raise Rejected("has no expiry")
        if exp < now - _LEEWAY:
            raise Rejected("is expired")
        if exp > now + self.max_lifetime + _LEEWAY:
            raise Rejected("expires too far in the future")
        if self.unique:
            jti = claims.get("jti")
            if not isinstance(jti, str) or not jti:
                raise Rejected("has no jti")
            with self._lock:
                if jti in self._seen:
                    raise Rejected("was already used")
                self._seen.add(jti)
        return claims

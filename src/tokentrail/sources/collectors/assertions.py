"""Signed JWT assertions (RS256) that sign a collector in with an app's private key instead of a
secret: Okta's private-key JWT client credentials and Salesforce's JWT bearer flow."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tokentrail.errors import ConfigError

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_CLIENT_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OKTA_LIFETIME = 300.0  # seconds; Okta accepts at most one hour
SALESFORCE_LIFETIME = 170.0  # seconds; Salesforce accepts at most three minutes


@dataclass(frozen=True)
class SigningKey:
    """An RSA private key read from a PEM file; its repr never shows the key."""

    key: RSAPrivateKey
    source: str

    def __repr__(self) -> str:
        return f"SigningKey(source={self.source!r})"

    def sign(self, claims: dict[str, Any]) -> str:
        """``claims`` as a compact RS256 JWT."""
        return jwt.encode(claims, self.key, algorithm="RS256")


def load_signing_key(pem: bytes, source: str) -> SigningKey:
    """The RSA key in ``pem`` (unencrypted PKCS#8 or PKCS#1); ``ConfigError`` naming ``source``,
    never the content, when it is not one."""
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{source}: not an unencrypted PEM private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(f"{source}: the private key must be RSA (RS256)")
    return SigningKey(key, source)


def read_signing_key(path: Path) -> SigningKey:
    """The RSA private key in the PEM file ``path``."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the private key {path}: {exc.strerror}") from None
    return load_signing_key(pem, str(path))


def okta_client_assertion(key: SigningKey, client_id: str, token_url: str, now: float) -> str:
    """The ``client_assertion`` of an Okta service app: iss = sub = client id, aud = the token
    URL, a unique jti, valid for a few minutes."""
    return key.sign({"iss": client_id, "sub": client_id, "aud": token_url, "iat": int(now),
                     "exp": int(now + OKTA_LIFETIME), "jti": uuid.uuid4().hex})


def salesforce_bearer_assertion(key: SigningKey, consumer_key: str, username: str, audience: str,
                                now: float) -> str:
    """The ``assertion`` of Salesforce's JWT bearer flow: iss = the connected app's consumer key,
    sub = the user, aud = the login URL, expiring within three minutes."""
    return key.sign({"iss": consumer_key, "sub": username, "aud": audience, "exp": int(now + SALESFORCE_LIFETIME)})

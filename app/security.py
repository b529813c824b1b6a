"""Secrets: generation, hashing, encryption at rest, user HMACs and signed tokens. Nothing here
logs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class DecryptionFailed(Exception):
    """A stored secret cannot be decrypted: SECRET_KEY changed since it was written."""


def generate_api_key() -> str:
    return "pk_" + secrets.token_urlsafe(24)


def generate_secret() -> str:
    return "sk_" + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 suffices: secrets are 256-bit random tokens, so there is nothing to brute-force."""
    return hashlib.sha256(secret.encode()).hexdigest()


def user_hmac(primary_secret: str, identity: str) -> str:
    """base64(HMAC-SHA256(primary secret, user external id or email)): a user call's HMAC."""
    digest = hmac.new(primary_secret.encode(), identity.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def hmac_matches(primary_secret: str, identity: str, given: str) -> bool:
    return hmac.compare_digest(user_hmac(primary_secret, identity).encode(), given.strip().encode())


class Encryptor:
    """Authenticated encryption (Fernet) under a key derived from SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        self._fernet = _fernet_for(secret_key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        return _decrypt_cached(self._fernet, token)


@lru_cache(maxsize=8)
def _fernet_for(secret_key: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"herald secrets at rest"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


@lru_cache(maxsize=4096)
def _decrypt_cached(fernet: Fernet, token: str) -> str:
    # Each user call checks an HMAC against the primary secret; decrypt once per process.
    try:
        return fernet.decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed("stored secret cannot be decrypted with this SECRET_KEY") from exc


def signed_token(secret_key: str, purpose: str, values: Sequence[str | None]) -> str:
    """`values` as a URL-safe token, signed with a key derived from SECRET_KEY for this purpose
    only: the installation reads and checks it without storing anything, nobody else can make
    one, and a token made for one purpose is refused for any other."""
    payload = _b64url(json.dumps(list(values), separators=(",", ":")).encode())
    return f"{payload}.{_token_mac(secret_key, purpose, payload)}"


def signed_values(secret_key: str, purpose: str, token: str) -> list[str | None] | None:
    """The values of a token `signed_token` made for this purpose; None for any other string."""
    payload, dot, mac = token.partition(".")
    expected = _token_mac(secret_key, purpose, payload)
    if not dot or not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(values, list) or not all(v is None or isinstance(v, str) for v in values):
        return None
    return values


def _token_mac(secret_key: str, purpose: str, payload: str) -> str:
    digest = hmac.new(_token_key(secret_key, purpose), payload.encode(), hashlib.sha256)
    return _b64url(digest.digest())


@lru_cache(maxsize=16)
def _token_key(secret_key: str, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"herald {purpose} tokens".encode()
    ).derive(secret_key.encode())


def generate_vapid_key_pair() -> tuple[str, str]:
    """(public key, private key), both base64url without padding, as browsers and pywebpush use."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    private_value = private_key.private_numbers().private_value.to_bytes(32, "big")
    public_bytes = private_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(public_bytes), _b64url(private_value)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

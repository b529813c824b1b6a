"""The credentials Google and Apple hand out for their push services, made fresh for tests.

A Firebase service account is the JSON file a Firebase console downloads; an APNs signing key
is the AuthKey_<key id>.p8 file Apple's developer portal downloads, with its key id and the
developer team's id. The fakes (tests/support/fake_google.py, tests/support/fake_apns.py)
trust them once registered with their `trust(...)`.
"""

from __future__ import annotations

import itertools
import secrets
import string
import threading
from dataclasses import dataclass
from hashlib import sha1
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

FIREBASE_MESSAGING_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"

# RSA 2048 generation takes 20-200 ms; a suite making an account per test reuses a few keys
# instead. Any four consecutive accounts still have distinct keys, so a test can always sign
# with a key other than the one a trusted account has.
_RSA_POOL_SIZE = 4
_rsa_pool: list[rsa.RSAPrivateKey] = []
_rsa_pool_lock = threading.Lock()
_account_numbers = itertools.count(1)


def _pooled_rsa_key(slot: int) -> rsa.RSAPrivateKey:
    with _rsa_pool_lock:
        if slot == len(_rsa_pool):
            _rsa_pool.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _rsa_pool[slot]


def _pkcs8_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _key_id(key: rsa.RSAPrivateKey) -> str:
    """40 hex digits naming the key, as Google's private_key_id does."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return sha1(der, usedforsecurity=False).hexdigest()


def new_service_account(token_uri: str, *, project_id: str = "herald-test") -> dict[str, Any]:
    """A Firebase Admin SDK service account of `project_id`, shaped like Google's JSON file,
    whose tokens are requested at `token_uri` (a FakeGoogle's `token_uri`)."""
    number = next(_account_numbers)
    key = _pooled_rsa_key((number - 1) % _RSA_POOL_SIZE)
    suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
    client_email = f"firebase-adminsdk-{suffix}@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": _key_id(key),
        "private_key": _pkcs8_pem(key),
        "client_email": client_email,
        "client_id": str(10**20 + secrets.randbelow(9 * 10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": (
            f"https://www.googleapis.com/robot/v1/metadata/x509/{quote(client_email)}"
        ),
        "universe_domain": "googleapis.com",
    }


def service_account_public_key(account: dict[str, Any]) -> rsa.RSAPublicKey:
    private_key = serialization.load_pem_private_key(account["private_key"].encode(), None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return private_key.public_key()


def _apple_id() -> str:
    """10 uppercase alphanumerics, the shape of Apple's key ids and team ids."""
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(10))


@dataclass(frozen=True)
class ApnsKey:
    """An APNs token signing key: what a provider signs its JWTs with."""

    key_id: str
    team_id: str
    p8: str  # the AuthKey_<key_id>.p8 file's text: a PKCS#8 PEM EC P-256 private key
    public_key: ec.EllipticCurvePublicKey


def new_apns_key() -> ApnsKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    return ApnsKey(
        key_id=_apple_id(),
        team_id=_apple_id(),
        p8=_pkcs8_pem(private_key),
        public_key=private_key.public_key(),
    )


def new_apns_device_token() -> str:
    """An iOS device token as apps report it: 32 bytes in hex."""
    return secrets.token_hex(32)

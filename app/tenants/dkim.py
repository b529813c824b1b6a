"""Apps' DKIM keys: checked when configured, kept in the one form the signer reads, encrypted."""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.refusals import InvalidRequest
from app.security import Encryptor

# RFC 8301: receivers check keys of 1024 to 4096 bits; 2048 is what they expect today.
MIN_KEY_BITS, MAX_KEY_BITS = 1024, 4096
KEY_FIELD = "dkim.privateKey"


def stored_dkim(config: dict[str, Any], encryptor: Encryptor) -> dict[str, Any]:
    """What `apps.dkim` keeps of `{"domain", "selector", "privateKey"}`: the key encrypted."""
    return {
        "domain": config["domain"].lower(),
        "selector": config["selector"],
        "private_key_encrypted": encryptor.encrypt(rsa_private_key_pem(config["privateKey"])),
    }


def rsa_private_key_pem(pem: str) -> str:
    """The RSA key of `pem` (PKCS#1 or PKCS#8) as PKCS#1 PEM; refused unless RSA, of a size
    receivers check, and unencrypted."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError as exc:  # a key that needs a password
        raise InvalidRequest("The private key must not be encrypted.", field=KEY_FIELD) from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        message = "The private key must be a PEM RSA private key (BEGIN RSA PRIVATE KEY)."
        raise InvalidRequest(message, field=KEY_FIELD) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidRequest("DKIM keys must be RSA keys.", field=KEY_FIELD)
    if not MIN_KEY_BITS <= key.key_size <= MAX_KEY_BITS:
        message = (
            f"The key has {key.key_size} bits; DKIM keys have {MIN_KEY_BITS} to {MAX_KEY_BITS}"
            " (2048 advised)."
        )
        raise InvalidRequest(message, field=KEY_FIELD)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()

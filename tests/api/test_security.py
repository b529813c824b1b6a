"""Pure logic of secrets: hashing, encryption at rest, user HMACs."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from app.security import (
    DecryptionFailed,
    Encryptor,
    generate_secret,
    generate_vapid_key_pair,
    hash_secret,
    hmac_matches,
    user_hmac,
)


def test_user_hmac_is_base64_hmac_sha256_of_the_identity():
    expected = base64.b64encode(hmac.new(b"sk_x", b"user-1", hashlib.sha256).digest()).decode()

    assert user_hmac("sk_x", "user-1") == expected
    assert hmac_matches("sk_x", "user-1", expected)
    assert not hmac_matches("sk_x", "user-2", expected)


def test_encryption_round_trips_and_never_shows_the_plaintext():
    encryptor = Encryptor("key-one")
    secret = generate_secret()

    token = encryptor.encrypt(secret)

    assert secret not in token
    assert encryptor.decrypt(token) == secret


def test_a_different_secret_key_cannot_decrypt():
    token = Encryptor("key-one").encrypt("value")

    with pytest.raises(DecryptionFailed):
        Encryptor("key-two").decrypt(token)


def test_secret_hash_is_stable_and_not_the_secret():
    secret = generate_secret()

    assert hash_secret(secret) == hash_secret(secret) != secret


def test_vapid_public_key_is_an_uncompressed_p256_point():
    public, private = generate_vapid_key_pair()

    raw = base64.urlsafe_b64decode(public + "=")
    assert len(raw) == 65 and raw[0] == 4
    assert len(base64.urlsafe_b64decode(private + "=")) == 32

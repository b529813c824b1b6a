"""Fakes of the mobile push services Herald sends to, speaking their real protocols, and the
pytest fixtures that start them (this module is a plugin of tests/conftest.py).

- FakeGoogle (tests/support/fake_google.py): Google's OAuth2 token endpoint and FCM HTTP v1,
  over HTTP/1.1 on loopback. Trusts service accounts from new_service_account().
- FakeApns (tests/support/fake_apns.py): APNs' provider API, HTTP/2 over TLS with a
  certificate of the tests' CA. Trusts signing keys from new_apns_key().

    def test_a_push_reaches_android(fake_google):
        account = new_service_account(fake_google.token_uri)
        fake_google.trust(account)
        fake_google.script("device-1", fcm_unregistered())
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from tests.support.fake_apns import ApnsRequest, FakeApns
from tests.support.fake_apns_replies import ApnsReply, apns_accepted, apns_error
from tests.support.fake_google import (
    FakeGoogle,
    FcmMessage,
    FcmReply,
    fcm_accepted,
    fcm_error,
    fcm_invalid_token,
    fcm_unregistered,
)
from tests.support.mobile_push_keys import (
    FIREBASE_MESSAGING_SCOPE,
    ApnsKey,
    new_apns_device_token,
    new_apns_key,
    new_service_account,
)

__all__ = [
    "FIREBASE_MESSAGING_SCOPE",
    "ApnsKey",
    "ApnsReply",
    "ApnsRequest",
    "FakeApns",
    "FakeGoogle",
    "FcmMessage",
    "FcmReply",
    "apns_accepted",
    "apns_error",
    "fcm_accepted",
    "fcm_error",
    "fcm_invalid_token",
    "fcm_unregistered",
    "new_apns_device_token",
    "new_apns_key",
    "new_service_account",
]


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    """Google's token endpoint and FCM HTTP v1 at `fake_google.url`, trusting no account yet."""
    fake = FakeGoogle()
    yield fake
    fake.close()


@pytest.fixture
def fake_apns(tls_ca: trustme.CA) -> Iterator[FakeApns]:
    """APNs at `fake_apns.url` (https://localhost:PORT, certified by `tls_ca`), trusting no
    key yet."""
    fake = FakeApns(tls_ca)
    yield fake
    fake.close()

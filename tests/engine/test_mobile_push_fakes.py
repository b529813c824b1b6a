"""The mobile push fakes speak Google's and Apple's real protocols: real client libraries
(google-auth, httpx over HTTP/2, PyJWT) get the answers the real services give."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import google.auth.transport.requests
import httpx
import jwt
import pytest
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account

from tests.support.mobile_push import (
    FIREBASE_MESSAGING_SCOPE,
    ApnsKey,
    FakeApns,
    FakeGoogle,
    apns_error,
    fcm_error,
    fcm_unregistered,
    new_apns_device_token,
    new_apns_key,
    new_service_account,
)

BUNDLE_ID = "com.example.herald"
ALERT = {"aps": {"alert": {"title": "Hello", "body": "World"}}}

# Google: the token endpoint and FCM HTTP v1.


def _credentials(account: dict[str, Any]) -> service_account.Credentials:
    return service_account.Credentials.from_service_account_info(
        account, scopes=[FIREBASE_MESSAGING_SCOPE]
    )


def _access_token(fake_google: FakeGoogle) -> str:
    account = new_service_account(fake_google.token_uri)
    fake_google.trust(account)
    credentials = _credentials(account)
    credentials.refresh(google.auth.transport.requests.Request())
    return credentials.token


def _send(fake_google: FakeGoogle, bearer: str, message: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{fake_google.url}/v1/projects/herald-test/messages:send",
        json={"message": message},
        headers={"Authorization": f"Bearer {bearer}"},
    )


def test_a_trusted_service_account_gets_a_token_and_fcm_accepts_its_message(fake_google):
    access_token = _access_token(fake_google)
    message = {"token": "device-1", "notification": {"title": "Hi"}, "data": {"id": "7"}}

    response = _send(fake_google, access_token, message)

    assert response.status_code == 200
    assert response.json()["name"].startswith("projects/herald-test/messages/")
    assert fake_google.tokens_issued == 1
    [accepted] = fake_google.messages
    assert (accepted.project_id, accepted.message) == ("herald-test", message)


def test_an_assertion_signed_with_a_foreign_key_is_refused(fake_google):
    trusted = new_service_account(fake_google.token_uri)
    fake_google.trust(trusted)
    foreign = new_service_account(fake_google.token_uri)
    forged = {**trusted, "private_key": foreign["private_key"]}

    with pytest.raises(RefreshError, match="invalid_grant: Invalid JWT Signature"):
        _credentials(forged).refresh(google.auth.transport.requests.Request())

    with pytest.raises(RefreshError, match="invalid_grant: Invalid grant: account not found"):
        _credentials(foreign).refresh(google.auth.transport.requests.Request())
    assert fake_google.tokens_issued == 0


def test_a_bearer_google_never_issued_or_has_revoked_is_unauthenticated(fake_google):
    revoked = _access_token(fake_google)
    fake_google.revoke_tokens()

    for bearer in ("ya29.never-issued", revoked):
        response = _send(fake_google, bearer, {"token": "device-1"})

        assert response.status_code == 401
        assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert fake_google.messages == []


@pytest.mark.parametrize(
    ("message", "error_message"),
    [
        (
            {"token": "device-1", "data": {"count": 1}},
            "Invalid value at 'message.data[0].value' (TYPE_STRING), 1",
        ),
        (
            {"token": "device-1", "priority": "high"},
            "Invalid JSON payload received. Unknown name \"priority\" at 'message': "
            "Cannot find field.",
        ),
        (
            {"token": "device-1", "android": {"ttl": "3600"}},
            "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf"
            '.Duration), "3600"',
        ),
    ],
    ids=["a data value not a string", "an unknown field", "a ttl without its unit"],
)
def test_a_malformed_message_is_an_invalid_argument(fake_google, message, error_message):
    access_token = _access_token(fake_google)

    response = _send(fake_google, access_token, message)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["status"], error["message"]) == ("INVALID_ARGUMENT", error_message)
    assert fake_google.messages == []


def test_scripted_fcm_replies_come_in_order_then_messages_are_accepted(fake_google):
    access_token = _access_token(fake_google)
    fake_google.script("device-1", fcm_error("QUOTA_EXCEEDED", retry_after=2), fcm_unregistered())

    responses = [_send(fake_google, access_token, {"token": "device-1"}) for _ in range(3)]

    assert [r.status_code for r in responses] == [429, 404, 200]
    assert responses[0].headers["Retry-After"] == "2"
    assert responses[1].json()["error"] == {
        "code": 404,
        "message": "Requested entity was not found.",
        "status": "NOT_FOUND",
        "details": [
            {
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": "UNREGISTERED",
            }
        ],
    }
    assert fake_google.attempts("device-1") == [429, 404, 200]


# Apple: APNs over HTTP/2.


@pytest.fixture
def apns_key(fake_apns: FakeApns) -> ApnsKey:
    key = new_apns_key()
    fake_apns.trust(key, bundle_ids=[BUNDLE_ID])
    return key


@pytest.fixture
def apns_client(tls_ca_file: str) -> Iterator[httpx.Client]:
    """An HTTP/2 client trusting the tests' CA, as Herald's APNs client will be."""
    with httpx.Client(http2=True, verify=ssl.create_default_context(cafile=tls_ca_file)) as client:
        yield client


def _provider_token(key: ApnsKey, *, p8: str | None = None, issued_at: float | None = None) -> str:
    claims = {"iss": key.team_id, "iat": int(issued_at or time.time())}
    return jwt.encode(claims, p8 or key.p8, algorithm="ES256", headers={"kid": key.key_id})


def _push_request(
    fake_apns: FakeApns,
    provider_token: str,
    *,
    device_token: str = "ab" * 32,
    topic: str = BUNDLE_ID,
) -> dict[str, Any]:
    """The arguments of an httpx `post` of an alert push."""
    return {
        "url": f"{fake_apns.url}/3/device/{device_token}",
        "json": ALERT,
        "headers": {
            "authorization": f"bearer {provider_token}",
            "apns-topic": topic,
            "apns-push-type": "alert",
        },
    }


def _push(
    client: httpx.Client, fake_apns: FakeApns, provider_token: str, **request: str
) -> httpx.Response:
    return client.post(**_push_request(fake_apns, provider_token, **request))


@contextmanager
def _event_loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def test_apns_accepts_a_push_over_http2_with_a_trusted_provider_token(
    fake_apns, apns_key, apns_client
):
    device_token = new_apns_device_token()

    response = _push(apns_client, fake_apns, _provider_token(apns_key), device_token=device_token)

    assert (response.status_code, response.http_version) == (200, "HTTP/2")
    assert response.headers["apns-id"]
    [request] = fake_apns.requests
    assert (request.device_token, request.payload) == (device_token, ALERT)
    assert request.headers["apns-topic"] == BUNDLE_ID


def test_pushes_from_many_threads_share_one_connection(fake_apns, apns_key, tls_ca_file):
    """The threads hand their pushes to one event loop's AsyncClient: httpx's sync Client is
    not safe with HTTP/2 across threads (encode/httpx#3002, TLS errors and stream ids out of
    order under load)."""
    push = _push_request(fake_apns, _provider_token(apns_key))
    tls = ssl.create_default_context(cafile=tls_ca_file)

    with _event_loop_thread() as loop:
        client = httpx.AsyncClient(http2=True, verify=tls)

        def push_from_a_thread(_: int) -> httpx.Response:
            return asyncio.run_coroutine_threadsafe(client.post(**push), loop).result()

        with ThreadPoolExecutor(max_workers=20) as threads:
            responses = list(threads.map(push_from_a_thread, range(20)))
        asyncio.run_coroutine_threadsafe(client.aclose(), loop).result()

    assert [r.status_code for r in responses] == [200] * 20
    assert fake_apns.connections_opened == 1
    assert len(fake_apns.requests) == 20


def _signed_with_another_key(key: ApnsKey) -> str:
    return _provider_token(key, p8=new_apns_key().p8)


def _over_an_hour_old(key: ApnsKey) -> str:
    return _provider_token(key, issued_at=time.time() - 3700)


@pytest.mark.parametrize(
    ("make_token", "topic", "status", "reason"),
    [
        (_signed_with_another_key, BUNDLE_ID, 403, "InvalidProviderToken"),
        (_over_an_hour_old, BUNDLE_ID, 403, "ExpiredProviderToken"),
        (_provider_token, "com.example.other", 400, "TopicDisallowed"),
    ],
    ids=["bad signature", "token over an hour old", "topic of another app"],
)
def test_apns_refuses_what_apple_refuses(
    fake_apns, apns_key, apns_client, make_token, topic, status, reason
):
    response = _push(apns_client, fake_apns, make_token(apns_key), topic=topic)

    assert (response.status_code, response.json()) == (status, {"reason": reason})


def test_expired_provider_tokens_are_refused_and_fresh_ones_accepted(
    fake_apns, apns_key, apns_client
):
    first = _provider_token(apns_key, issued_at=time.time() - 60)
    _push(apns_client, fake_apns, first)

    fake_apns.expire_provider_tokens()

    refused = _push(apns_client, fake_apns, first)
    assert (refused.status_code, refused.json()) == (403, {"reason": "ExpiredProviderToken"})
    assert _push(apns_client, fake_apns, _provider_token(apns_key)).status_code == 200


def test_scripted_apns_replies_come_in_order(fake_apns, apns_key, apns_client):
    device_token = new_apns_device_token()
    fake_apns.script(device_token, apns_error("TooManyRequests", retry_after=3))
    fake_apns.script(device_token, apns_error("Unregistered"))
    provider_token = _provider_token(apns_key)

    throttled, gone, accepted = (
        _push(apns_client, fake_apns, provider_token, device_token=device_token) for _ in range(3)
    )

    assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "3")
    assert (gone.status_code, gone.json()["reason"]) == (410, "Unregistered")
    assert isinstance(gone.json()["timestamp"], int)
    assert accepted.status_code == 200


def test_after_goaway_the_next_push_goes_over_a_new_connection(fake_apns, apns_key, apns_client):
    provider_token = _provider_token(apns_key)
    assert _push(apns_client, fake_apns, provider_token).status_code == 200

    fake_apns.goaway()

    assert _push(apns_client, fake_apns, provider_token).status_code == 200
    assert fake_apns.connections_opened == 2

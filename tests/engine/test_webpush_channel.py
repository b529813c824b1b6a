"""The Web Push channel against a real HTTP push service that decrypts what it receives."""

from __future__ import annotations

import base64
import json
import time

import pytest

from app.engine.channels import webpush
from app.engine.channels.base import PermanentFailure, TransientFailure
from app.engine.channels.destinations import DestinationGuard, DestinationPolicy
from app.engine.channels.guarded_http import GuardedHttp
from app.engine.channels.webpush import SubscriptionGone, send_web_push
from app.security import generate_vapid_key_pair
from tests.support.processes import free_port
from tests.support.sinks import FakeBrowser, PushService

SUBJECT = "mailto:ops@example.com"
# The push service listens on loopback, which only a policy allowing private addresses reaches.
LOOPBACK = GuardedHttp(DestinationGuard(DestinationPolicy(allow_private=True)))


def push(browser: FakeBrowser, private_key: str, payload: dict | None = None, **overrides) -> None:
    arguments = {
        "endpoint": browser.endpoint,
        "p256dh": browser.p256dh,
        "auth": browser.auth,
        "payload": payload or {"title": "Hi"},
        "vapid_private_key": private_key,
        "vapid_subject": SUBJECT,
        "timeout": 5,
        "http": LOOPBACK,
        **overrides,
    }
    send_web_push(**arguments)


def jwt_claims(authorization: str) -> dict:
    token = authorization.removeprefix("vapid t=").split(",")[0]
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_the_payload_arrives_encrypted_for_the_subscription_with_a_vapid_header(
    push_service: PushService,
):
    browser = push_service.new_browser()
    public_key, private_key = generate_vapid_key_pair()

    push(browser, private_key, {"title": "Order shipped", "data": {"id": 7}})

    assert browser.received == [{"title": "Order shipped", "data": {"id": 7}}]
    (authorization,) = push_service.vapid_headers
    assert authorization.endswith(f"k={public_key}")
    claims = jwt_claims(authorization)
    assert claims["aud"] == f"http://127.0.0.1:{push_service.port}"
    assert claims["sub"] == SUBJECT


def test_the_vapid_header_is_signed_once_per_key_and_push_service(push_service: PushService):
    browsers = [push_service.new_browser() for _ in range(3)]
    _, first_key = generate_vapid_key_pair()
    _, second_key = generate_vapid_key_pair()

    push(browsers[0], first_key)
    push(browsers[1], first_key)
    push(browsers[2], second_key)

    headers = push_service.vapid_headers
    assert headers[0] == headers[1]
    assert headers[2] != headers[0]


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (404, SubscriptionGone),
        (410, SubscriptionGone),
        (400, PermanentFailure),
        (413, PermanentFailure),
        (429, TransientFailure),
        (500, TransientFailure),
        (503, TransientFailure),
    ],
)
def test_push_service_answers_are_classified(
    push_service: PushService, status: int, failure: type[Exception]
):
    browser = push_service.new_browser()
    push_service.reply(browser, status)
    _, private_key = generate_vapid_key_pair()

    with pytest.raises(failure) as raised:
        push(browser, private_key)

    assert isinstance(raised.value, failure)
    if failure is not SubscriptionGone:
        assert not isinstance(raised.value, SubscriptionGone)


def test_an_unreachable_push_service_is_a_transient_failure(push_service: PushService):
    browser = push_service.new_browser()
    _, private_key = generate_vapid_key_pair()

    with pytest.raises(TransientFailure, match="unreachable"):
        push(browser, private_key, endpoint=f"http://127.0.0.1:{free_port()}/push/x")


def test_unusable_subscription_keys_are_a_permanent_failure(push_service: PushService):
    browser = push_service.new_browser()
    _, private_key = generate_vapid_key_pair()

    with pytest.raises(PermanentFailure, match="push refused"):
        push(browser, private_key, p256dh="bm90LWEta2V5")


def test_pushes_go_through_the_proxy_the_environment_names(
    push_service: PushService, monkeypatch: pytest.MonkeyPatch
):
    """The endpoint's host does not resolve: only the proxy (the push service) can deliver it."""
    browser = push_service.new_browser()
    token = browser.endpoint.rsplit("/", 1)[1]
    unresolvable = f"http://push.invalid/push/{token}"
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{push_service.port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    proxied = GuardedHttp(DestinationGuard(DestinationPolicy(allow_private=True)))
    _, private_key = generate_vapid_key_pair()

    push(browser, private_key, {"title": "via proxy"}, endpoint=unresolvable, http=proxied)

    assert browser.received == [{"title": "via proxy"}]
    assert jwt_claims(push_service.vapid_headers[0])["aud"] == "http://push.invalid"


def test_a_vapid_header_is_signed_anew_an_hour_before_it_expires(
    push_service: PushService, monkeypatch: pytest.MonkeyPatch
):
    browser = push_service.new_browser()
    _, private_key = generate_vapid_key_pair()
    now = time.time()
    monkeypatch.setattr(webpush.time, "time", lambda: now)
    push(browser, private_key)
    monkeypatch.setattr(webpush.time, "time", lambda: now + webpush.VAPID_LIFETIME_S - 3700)
    push(browser, private_key)
    monkeypatch.setattr(webpush.time, "time", lambda: now + webpush.VAPID_LIFETIME_S - 3500)
    push(browser, private_key)

    first, reused, renewed = push_service.vapid_headers
    assert first == reused  # still more than an hour to go
    assert renewed != first
    assert jwt_claims(renewed)["exp"] > jwt_claims(first)["exp"]

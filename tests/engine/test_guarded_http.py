"""Requests to user-supplied URLs against real loopback services: the connection goes to the
address the guard checked, TLS is verified against the URL's name, nothing else is followed or
read beyond a limit. The only addresses ever connected to are 127.0.0.1's."""

from __future__ import annotations

import socket

import pytest
import urllib3

from app.engine.channels.destinations import BlockedDestination, DestinationGuard, DestinationPolicy
from app.engine.channels.guarded_http import MAX_REPLY_BYTES, GuardedHttp
from app.engine.channels.webpush import send_web_push
from app.security import generate_vapid_key_pair
from tests.support.resolvers import StubResolver
from tests.support.sinks import PushService

NAME = "push.example.net"
# Loopback is where the test services are, so reaching them needs private addresses allowed.
LOOPBACK = DestinationPolicy(allow_private=True)


def guarded(policy: DestinationPolicy, resolver: StubResolver, ca_file: str) -> GuardedHttp:
    return GuardedHttp(DestinationGuard(policy, resolver=resolver), ca_certs=ca_file)


def post(http: GuardedHttp, url: str, *, timeout: float = 5) -> int:
    return http.post(url, body=b"not a push", headers={}, timeout=timeout).status


def test_a_push_goes_to_the_checked_address_with_tls_verified_against_the_endpoint_name(
    https_push_service: PushService, tls_ca_file: str
):
    resolver = StubResolver({NAME: ["127.0.0.1"]})
    http = guarded(LOOPBACK, resolver, tls_ca_file)
    browser = https_push_service.new_browser()
    _, private_key = generate_vapid_key_pair()

    send_web_push(
        endpoint=browser.endpoint,
        p256dh=browser.p256dh,
        auth=browser.auth,
        payload={"title": "Pinned"},
        vapid_private_key=private_key,
        vapid_subject="mailto:ops@example.com",
        timeout=5,
        http=http,
    )

    assert browser.endpoint.startswith(f"https://{NAME}:")
    assert browser.received == [{"title": "Pinned"}]
    assert https_push_service.host_headers == [f"{NAME}:{https_push_service.port}"]
    assert resolver.asked == [NAME]


def test_when_a_checked_address_refuses_the_connection_the_next_one_is_tried(
    https_push_service: PushService, tls_ca_file: str
):
    """Nothing listens at 127.0.0.2 (the service is bound to 127.0.0.1): as with an IPv6 answer
    on a host without an IPv6 route, the next checked address gets the request."""
    http = guarded(LOOPBACK, StubResolver({NAME: ["127.0.0.2", "127.0.0.1"]}), tls_ca_file)
    browser = https_push_service.new_browser()
    https_push_service.reply(browser, 204)

    assert post(http, browser.endpoint) == 204
    assert https_push_service.connections == 1


def test_a_certificate_for_another_name_is_refused_though_the_address_is_the_checked_one(
    https_push_service: PushService, tls_ca_file: str
):
    token = https_push_service.new_browser().endpoint.rsplit("/", 1)[1]
    http = guarded(LOOPBACK, StubResolver({"other.example.net": ["127.0.0.1"]}), tls_ca_file)

    with pytest.raises(urllib3.exceptions.SSLError):
        post(http, f"https://other.example.net:{https_push_service.port}/push/{token}")

    assert https_push_service.total_received() == 0


def test_a_blocked_destination_opens_no_connection(
    https_push_service: PushService, tls_ca_file: str
):
    strict = DestinationPolicy(ports=frozenset({443, https_push_service.port}))
    http = guarded(strict, StubResolver({NAME: ["127.0.0.1"]}), tls_ca_file)

    with pytest.raises(BlockedDestination, match="blocked_destination"):
        post(http, https_push_service.new_browser().endpoint)

    assert https_push_service.connections == 0


def test_redirects_are_answers_not_directions(https_push_service: PushService, tls_ca_file: str):
    http = guarded(LOOPBACK, StubResolver({NAME: ["127.0.0.1"]}), tls_ca_file)
    redirecting, elsewhere = https_push_service.new_browser(), https_push_service.new_browser()
    https_push_service.reply(redirecting, 307, headers={"Location": elsewhere.endpoint})

    assert post(http, redirecting.endpoint) == 307
    assert len(https_push_service.host_headers) == 1


def test_a_reply_is_read_up_to_the_limit_and_a_longer_one_does_not_keep_its_connection(
    https_push_service: PushService, tls_ca_file: str
):
    http = guarded(LOOPBACK, StubResolver({NAME: ["127.0.0.1"]}), tls_ca_file)
    browser = https_push_service.new_browser()
    https_push_service.reply(browser, 400, body=b"short", times=2)
    https_push_service.reply(browser, 400, body=b"x" * (MAX_REPLY_BYTES * 4))

    short = [http.post(browser.endpoint, body=b"", headers={}, timeout=5) for _ in range(2)]
    long = http.post(browser.endpoint, body=b"", headers={}, timeout=5)
    https_push_service.reply(browser, 400)
    post(http, browser.endpoint)

    assert [reply.body for reply in short] == [b"short", b"short"]
    assert long.body == b"x" * MAX_REPLY_BYTES
    assert https_push_service.connections == 2  # kept alive until the long reply


def test_a_push_service_that_never_answers_is_given_up_on_after_the_timeout(tls_ca_file: str):
    silent = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody ever replies
    try:
        port = silent.getsockname()[1]
        http = guarded(LOOPBACK, StubResolver({NAME: ["127.0.0.1"]}), tls_ca_file)

        with pytest.raises(urllib3.exceptions.HTTPError):
            post(http, f"https://{NAME}:{port}/push/x", timeout=0.3)
    finally:
        silent.close()


def test_through_a_proxy_a_name_resolving_to_a_private_address_is_refused_before_the_proxy(
    push_service: PushService, tls_ca_file: str, monkeypatch: pytest.MonkeyPatch
):
    """The proxy (the loopback push service standing in) would resolve the name itself; the
    guard still asks its own resolver first and refuses."""
    for variable in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(variable, f"http://127.0.0.1:{push_service.port}")
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    http = guarded(
        DestinationPolicy(), StubResolver({"push.corp.example": ["10.0.0.5"]}), tls_ca_file
    )

    with pytest.raises(BlockedDestination) as blocked:
        post(http, "https://push.corp.example/push/x")

    assert "resolves to a private address" in blocked.value.detail
    assert push_service.connections == 0

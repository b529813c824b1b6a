"""End users choose Web Push endpoints: registration refuses those leading inside the network,
and each send checks the name again, so rebinding it after registration reaches nothing.

The push service is real (https on loopback, certified for push.example.net by the test
authority); the runtime's push client is built as production builds it, from settings without
WEBPUSH_ALLOW_PRIVATE unless a test says otherwise, with a stub resolver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from flask.testing import FlaskClient

from app.engine.channels.destinations import DestinationGuard
from app.engine.channels.guarded_http import GuardedHttp
from app.runtime import Runtime, web_push_policy
from tests.support.factories import ORDER_CHANNELS, Tenant, approved_template
from tests.support.pipeline import batch
from tests.support.recipients import WEB_KEYS
from tests.support.resolvers import StubResolver
from tests.support.sinks import PushService, wait_until

NAME = "push.example.net"
PUBLIC = "93.184.216.34"


@pytest.fixture
def resolver() -> StubResolver:
    return StubResolver()


@pytest.fixture
def install_push_http(
    runtime: Runtime,
    resolver: StubResolver,
    tls_ca_file: str,
    https_push_service: PushService,
) -> Iterator[Callable[..., None]]:
    """Give the runtime a push client built from its settings with these changes (the https
    push service's port is allowed besides 443), the stub resolver and the test authority."""
    original = runtime.push_http

    def install(*, allow_private: bool = False) -> None:
        settings = replace(
            runtime.settings,
            webpush_allow_private=allow_private,
            webpush_allowed_ports=str(https_push_service.port),
        )
        guard = DestinationGuard(web_push_policy(settings), resolver=resolver)
        runtime.push_http = GuardedHttp(guard, ca_certs=tls_ca_file)

    install()
    yield install
    runtime.push_http = original


def register(client: FlaskClient, tenant: Tenant, endpoint: str, keys: dict = WEB_KEYS):
    body = {"push_subscription": {"platform": "web", "device_token": endpoint, "keys": keys}}
    return client.post("/push_subscriptions", json=body, headers=tenant.user_headers("u0"))


def subscriptions(client: FlaskClient, tenant: Tenant) -> list[dict]:
    listed = client.get("/push_subscriptions", headers=tenant.user_headers("u0")).get_json()
    return listed["push_subscriptions"]


def push_to_u0(client: FlaskClient, tenant: Tenant) -> dict:
    """Send a push-only notification to u0 and wait for its push delivery's outcome."""
    approved_template(client, tenant, channels={"push": ORDER_CHANNELS["push"]})
    sent = batch(client, tenant, [{"external_id": "u0"}])
    url = f"/api/notifications/{sent['notificationId']}/deliveries?channel=push"

    def outcome() -> dict | None:
        deliveries = client.get(url, headers=tenant.headers()).get_json()["deliveries"]
        done = [d for d in deliveries if d["status"] in ("sent", "failed")]
        return done[0] if done else None

    return wait_until(outcome, timeout=30)


@pytest.mark.parametrize(
    ("endpoint", "why"),
    [
        ("https://127.0.0.1/push/x", "127.0.0.1 is a loopback address"),
        ("https://10.0.0.5:443/admin/users", "10.0.0.5 is a private address"),
        ("https://[fd00::5]/push/x", "fd00::5 is a private address"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("https://[fe80::1]/push/x", "fe80::1 is a link-local address"),
        ("https://localhost/push/x", "localhost names this machine"),
        ("https://push.corp.example/push/x", "push.corp.example resolves to a private address"),
    ],
)
def test_registration_refuses_an_endpoint_leading_inside_the_network_and_says_why(
    client: FlaskClient,
    tenant: Tenant,
    resolver: StubResolver,
    install_push_http: Callable[..., None],
    endpoint: str,
    why: str,
):
    resolver.answers["push.corp.example"] = ["10.1.2.3"]

    response = register(client, tenant, endpoint)

    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert (error["code"], error["field"]) == ("ERR_VALIDATION", "push_subscription.device_token")
    assert why in error["message"]
    assert subscriptions(client, tenant) == []


@pytest.mark.usefixtures("install_push_http")
def test_the_loopback_push_service_is_refused_at_registration_without_allow_private(
    client: FlaskClient, tenant: Tenant, resolver: StubResolver, https_push_service: PushService
):
    resolver.answers[NAME] = ["127.0.0.1"]

    response = register(client, tenant, https_push_service.new_browser().endpoint)

    assert response.status_code == 422
    assert "resolves to a loopback address" in response.get_json()["errors"][0]["message"]
    assert https_push_service.connections == 0


def test_with_allow_private_the_push_reaches_the_loopback_service_over_verified_tls(
    client: FlaskClient,
    tenant: Tenant,
    resolver: StubResolver,
    install_push_http: Callable[..., None],
    https_push_service: PushService,
    worker,
):
    install_push_http(allow_private=True)
    resolver.answers[NAME] = ["127.0.0.1"]
    browser = https_push_service.new_browser()
    keys = browser.subscription_json()["keys"]
    assert register(client, tenant, browser.endpoint, keys).status_code == 201

    delivery = push_to_u0(client, tenant)

    assert delivery["status"] == "sent", delivery
    [payload] = browser.received
    assert (payload["title"], payload["body"]) == ("Order ORD-1", "Confirmed for Jane")
    assert https_push_service.host_headers == [f"{NAME}:{https_push_service.port}"]


@pytest.mark.usefixtures("install_push_http", "worker")
def test_a_name_rebound_to_loopback_after_registration_is_blocked_and_reaches_nothing(
    client: FlaskClient, tenant: Tenant, resolver: StubResolver, https_push_service: PushService
):
    resolver.answers[NAME] = [PUBLIC]
    assert register(client, tenant, https_push_service.new_browser().endpoint).status_code == 201
    resolver.answers[NAME] = ["127.0.0.1"]

    delivery = push_to_u0(client, tenant)

    assert (delivery["status"], delivery["reason"]) == ("failed", "blocked_destination")
    assert delivery["attempts"] == 1
    assert [s["discarded_at"] is not None for s in subscriptions(client, tenant)] == [True]
    assert https_push_service.connections == 0
    assert https_push_service.total_received() == 0

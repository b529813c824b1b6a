"""Seed 002 push subscriptions: device tokens and browser Web Push, user and admin sides."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from app.client_config import websocket_url
from app.push import service
from app.runtime import Runtime
from app.tenants.models import App
from tests.support.factories import Tenant
from tests.support.recipients import FCM_ENDPOINT, WEB_KEYS

URL = "/push_subscriptions"


def _register(client: FlaskClient, headers: dict[str, str], **fields):
    return client.post(URL, json={"push_subscription": fields}, headers=headers)


def _fields(response) -> list[str]:
    return sorted(error["field"] for error in response.get_json()["errors"])


def _set_hmac_required(runtime: Runtime, tenant: Tenant, value: bool) -> None:
    with runtime.database.transaction() as session:
        session.get(App, tenant.app_id).hmac_required = value


def test_registering_a_device_token_answers_201_then_200_with_the_same_subscription(
    client: FlaskClient, tenant: Tenant
):
    headers = tenant.user_headers("u-1")

    first = _register(client, headers, platform="ios", device_token="abc", app_bundle_id="a.b")
    again = _register(client, headers, platform="ios", device_token="abc", app_bundle_id="a.b")

    assert (first.status_code, again.status_code) == (201, 200)
    subscription = first.get_json()["push_subscription"]
    assert again.get_json()["push_subscription"]["id"] == subscription["id"]
    assert subscription["platform"] == "ios" and subscription["device_token"] == "abc"
    assert subscription["app_bundle_id"] == "a.b" and subscription["discarded_at"] is None
    listed = client.get(URL, headers=headers).get_json()["push_subscriptions"]
    assert [s["id"] for s in listed] == [subscription["id"]]


def test_a_users_own_subscriptions_list_in_pages(client: FlaskClient, tenant: Tenant):
    headers = tenant.user_headers("u-1")
    for token in ("t1", "t2", "t3"):
        _register(client, headers, platform="android", device_token=token)

    second = client.get(URL, query_string={"page": 2, "per_page": 2}, headers=headers)
    too_many = client.get(URL, query_string={"per_page": 500}, headers=headers)

    body = second.get_json()
    assert [s["device_token"] for s in body["push_subscriptions"]] == ["t3"]
    assert (body["total"], body["per_page"], body["current_page"], body["total_pages"]) == (
        3,
        2,
        2,
        2,
    )
    assert (too_many.status_code, _fields(too_many)) == (422, ["per_page"])


def test_a_browser_subscription_registers_with_its_endpoint_and_keys(
    client: FlaskClient, tenant: Tenant
):
    response = _register(
        client, tenant.user_headers("u-1"), platform="web", device_token=FCM_ENDPOINT, keys=WEB_KEYS
    )

    assert response.status_code == 201
    assert response.get_json()["push_subscription"]["device_token"] == FCM_ENDPOINT


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"platform": "ios", "device_token": "t" * 256}, ["push_subscription.device_token"]),
        ({"platform": "windows", "device_token": "t"}, ["push_subscription.platform"]),
        ({"platform": "android", "device_token": ""}, ["push_subscription.device_token"]),
        ({"device_token": "t"}, ["push_subscription.platform"]),
        (
            {"platform": "ios", "device_token": "t", "app_bundle_id": "b" * 156},
            ["push_subscription.app_bundle_id"],
        ),
        ({"platform": "ios", "device_token": "t", "keys": WEB_KEYS}, ["push_subscription.keys"]),
        ({"platform": "web", "device_token": FCM_ENDPOINT}, ["push_subscription.keys"]),
        (
            {"platform": "web", "device_token": "http://push.example.com/x", "keys": WEB_KEYS},
            ["push_subscription.device_token"],
        ),
        (
            {"platform": "web", "device_token": FCM_ENDPOINT + "x" * 2048, "keys": WEB_KEYS},
            ["push_subscription.device_token"],
        ),
        (
            {"platform": "web", "device_token": FCM_ENDPOINT, "keys": {"p256dh": "AAAA"}},
            ["push_subscription.keys.auth", "push_subscription.keys.p256dh"],
        ),
    ],
)
def test_invalid_registrations_are_422_naming_the_field(
    client: FlaskClient, tenant: Tenant, fields, expected
):
    response = _register(client, tenant.user_headers("u-1"), **fields)

    assert response.status_code == 422
    assert _fields(response) == expected


def test_token_limits_are_255_for_devices_and_2048_for_web_endpoints(
    client: FlaskClient, tenant: Tenant
):
    headers = tenant.user_headers("u-1")
    endpoint = FCM_ENDPOINT + "x" * (2048 - len(FCM_ENDPOINT))

    assert _register(client, headers, platform="android", device_token="t" * 255).status_code == 201
    web = _register(client, headers, platform="web", device_token=endpoint, keys=WEB_KEYS)
    assert web.status_code == 201


def test_re_registering_a_discarded_subscription_brings_it_back(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    headers = tenant.user_headers("u-1")
    created = _register(client, headers, platform="web", device_token=FCM_ENDPOINT, keys=WEB_KEYS)
    subscription_id = created.get_json()["push_subscription"]["id"]
    with runtime.database.transaction() as session:
        service.discard_subscriptions(session, subscription_ids=[subscription_id])
    listed = client.get(URL, headers=headers).get_json()["push_subscriptions"]
    assert isinstance(listed[0]["discarded_at"], int)

    again = _register(client, headers, platform="web", device_token=FCM_ENDPOINT, keys=WEB_KEYS)

    assert again.status_code == 200
    assert again.get_json()["push_subscription"]["id"] == subscription_id
    assert again.get_json()["push_subscription"]["discarded_at"] is None


def test_a_token_registered_by_a_new_user_stops_reaching_the_previous_one(
    client: FlaskClient, tenant: Tenant
):
    _register(client, tenant.user_headers("ann"), platform="ios", device_token="shared")
    _register(client, tenant.user_headers("bob"), platform="ios", device_token="shared")

    ann = client.get(URL, headers=tenant.user_headers("ann")).get_json()["push_subscriptions"]
    bob = client.get(URL, headers=tenant.user_headers("bob")).get_json()["push_subscriptions"]
    assert ann[0]["discarded_at"] is not None
    assert bob[0]["discarded_at"] is None


def test_delete_by_url_encoded_endpoint_or_by_id(client: FlaskClient, tenant: Tenant):
    headers = tenant.user_headers("u-1")
    _register(client, headers, platform="web", device_token=FCM_ENDPOINT, keys=WEB_KEYS)
    device = _register(client, headers, platform="ios", device_token="abc").get_json()

    by_token = client.delete(f"{URL}/{quote(FCM_ENDPOINT, safe='')}", headers=headers)
    by_id = client.delete(f"{URL}/{device['push_subscription']['id']}", headers=headers)

    assert (by_token.status_code, by_token.get_data()) == (204, b"")
    assert by_id.status_code == 204
    assert client.get(URL, headers=headers).get_json()["push_subscriptions"] == []
    assert client.delete(f"{URL}/abc", headers=headers).status_code == 404


def test_a_user_cannot_see_or_delete_another_users_subscriptions(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    ann = _register(client, tenant.user_headers("ann"), platform="ios", device_token="t1")
    ann_id = ann.get_json()["push_subscription"]["id"]

    for headers in (tenant.user_headers("bob"), other_tenant.user_headers("ann")):
        assert client.get(URL, headers=headers).get_json()["push_subscriptions"] == []
        assert client.delete(f"{URL}/{ann_id}", headers=headers).status_code == 404
        assert client.delete(f"{URL}/t1", headers=headers).status_code == 404
    assert (
        len(client.get(URL, headers=tenant.user_headers("ann")).get_json()["push_subscriptions"])
        == 1
    )


def test_admin_lists_a_users_subscriptions_paginated_and_deletes_one(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    headers = tenant.user_headers("u-1")
    ids = [
        _register(client, headers, platform="android", device_token=f"t{n}").get_json()[
            "push_subscription"
        ]["id"]
        for n in range(3)
    ]
    with runtime.database.transaction() as session:
        service.discard_subscriptions(session, subscription_ids=[ids[0]])

    page = client.get(
        "/users/external_id:u-1/push_subscriptions?per_page=2", headers=tenant.headers()
    ).get_json()
    deleted = client.delete(
        f"/users/external_id:u-1/push_subscriptions/{ids[1]}", headers=tenant.headers()
    )

    assert [s["id"] for s in page["push_subscriptions"]] == ids[:2]
    assert page["push_subscriptions"][0]["discarded_at"] is not None
    assert (page["total"], page["total_pages"]) == (3, 2)
    assert deleted.status_code == 204
    listed = client.get(URL, headers=headers).get_json()["push_subscriptions"]
    assert [s["id"] for s in listed] == [ids[0], ids[2]]


def test_admin_push_subscription_calls_404_for_unknown_users_and_ids(
    client: FlaskClient, tenant: Tenant
):
    _register(client, tenant.user_headers("u-1"), platform="ios", device_token="t")

    missing_user = client.get(
        "/users/external_id:nobody/push_subscriptions", headers=tenant.headers()
    )
    missing_sub = client.delete(
        "/users/external_id:u-1/push_subscriptions/no-such-id", headers=tenant.headers()
    )

    assert (missing_user.status_code, missing_sub.status_code) == (404, 404)


def test_hmac_required_optional_and_wrong(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    bare = {"X-API-Key": tenant.api_key, "X-User-External-ID": "u-1"}
    wrong = {**bare, "X-User-HMAC": tenant.user_headers("u-2")["X-User-HMAC"]}

    assert client.get(URL, headers=bare).status_code == 401
    assert client.get(URL, headers=wrong).status_code == 403
    _set_hmac_required(runtime, tenant, False)
    assert client.get(URL, headers=bare).status_code == 200
    assert client.get(URL, headers=wrong).status_code == 403


def test_config_gives_the_vapid_public_key_and_websocket_url(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    response = client.get("/config", headers=tenant.user_headers("u-1"))

    with runtime.database.transaction() as session:
        vapid_public_key = session.get(App, tenant.app_id).vapid_public_key
    assert response.get_json() == {
        "config": {
            "vapid_public_key": vapid_public_key,
            "ws_url": websocket_url(runtime.settings.public_url),
        }
    }
    assert client.get("/config", headers={"X-API-Key": tenant.api_key}).status_code == 400


def test_websocket_url_follows_the_public_url_scheme():
    assert websocket_url("https://herald.example.com") == "wss://herald.example.com/ws"
    assert websocket_url("http://127.0.0.1:5000/") == "ws://127.0.0.1:5000/ws"
    assert websocket_url("https://example.com/herald") == "wss://example.com/herald/ws"

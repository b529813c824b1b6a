"""Seed 002 notification preferences: merged by category and channel; critical ones stay on."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.runtime import Runtime
from app.tenants.models import App
from tests.support.factories import Tenant

URL = "/notification_preferences"


def _put(client: FlaskClient, headers: dict[str, str], categories):
    return client.put(
        URL, json={"notification_preferences": {"categories": categories}}, headers=headers
    )


def _category(slug: str, **channels: bool) -> dict:
    return {"slug": slug, "channels": [{"slug": c, "enabled": e} for c, e in channels.items()]}


def _stored(client: FlaskClient, headers: dict[str, str]) -> dict[str, dict[str, bool]]:
    body = client.get(URL, headers=headers).get_json()["notification_preferences"]
    return {
        category["slug"]: {channel["slug"]: channel["enabled"] for channel in category["channels"]}
        for category in body["categories"]
    }


def test_a_new_user_has_no_categories_so_everything_is_enabled(client: FlaskClient, tenant: Tenant):
    response = client.get(URL, headers=tenant.user_headers("u-1"))

    assert response.status_code == 200
    assert response.get_json() == {"notification_preferences": {"categories": []}}


def test_put_answers_every_channel_of_each_category_set(client: FlaskClient, tenant: Tenant):
    response = _put(client, tenant.user_headers("u-1"), [_category("billing", email=False)])

    assert response.status_code == 200
    assert response.get_json()["notification_preferences"]["categories"] == [
        {
            "slug": "billing",
            "channels": [
                {"slug": "in_app", "enabled": True},
                {"slug": "email", "enabled": False},
                {"slug": "web_push", "enabled": True},
                {"slug": "mobile_push", "enabled": True},
            ],
        }
    ]


def test_put_merges_categories_and_channels_not_sent_keep_their_settings(
    client: FlaskClient, tenant: Tenant
):
    headers = tenant.user_headers("u-1")
    _put(client, headers, [_category("billing", email=False), _category("news", in_app=False)])

    _put(client, headers, [_category("billing", web_push=False)])
    _put(client, headers, [_category("news", in_app=True)])

    assert _stored(client, headers) == {
        "billing": {"in_app": True, "email": False, "web_push": False, "mobile_push": True},
        "news": {"in_app": True, "email": True, "web_push": True, "mobile_push": True},
    }


def test_invalid_preferences_are_422_with_their_fields(client: FlaskClient, tenant: Tenant):
    response = _put(
        client,
        tenant.user_headers("u-1"),
        [
            {"slug": "billing", "channels": [{"slug": "sms", "enabled": False}]},
            {"slug": "x" * 101, "channels": [{"slug": "email"}]},
            {"channels": []},
        ],
    )

    assert response.status_code == 422
    assert sorted(e["field"] for e in response.get_json()["errors"]) == [
        "notification_preferences.categories.0.channels.0.slug",
        "notification_preferences.categories.1.channels.0.enabled",
        "notification_preferences.categories.1.slug",
        "notification_preferences.categories.2.slug",
    ]


def test_repeated_categories_or_channels_and_missing_wrappers_are_422(
    client: FlaskClient, tenant: Tenant
):
    headers = tenant.user_headers("u-1")
    twice = _put(client, headers, [_category("billing"), _category("billing")])
    channel_twice = _put(
        client,
        headers,
        [{"slug": "b", "channels": [{"slug": "email", "enabled": True}] * 2}],
    )
    unwrapped = client.put(URL, json={"categories": []}, headers=headers)

    assert twice.status_code == channel_twice.status_code == unwrapped.status_code == 422
    assert twice.get_json()["errors"][0]["field"] == "notification_preferences.categories"
    assert channel_twice.get_json()["errors"][0]["field"] == (
        "notification_preferences.categories.0.channels"
    )


def test_critical_categories_cannot_be_disabled(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    with runtime.database.transaction() as session:
        session.get(App, tenant.app_id).critical_categories = ["security"]
    headers = tenant.user_headers("u-1")

    refused = _put(client, headers, [_category("news"), _category("security", email=False)])
    allowed = _put(client, headers, [_category("security", email=True)])

    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "notification_preferences.categories.1.slug"
    assert allowed.status_code == 200
    assert "news" not in _stored(client, headers)


def test_a_category_made_critical_later_reads_as_enabled(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    headers = tenant.user_headers("u-1")
    _put(client, headers, [_category("security", email=False)])
    with runtime.database.transaction() as session:
        session.get(App, tenant.app_id).critical_categories = ["security"]

    assert _stored(client, headers)["security"]["email"] is True


def test_users_never_see_or_change_each_others_preferences(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    ann = tenant.user_headers("ann")
    _put(client, ann, [_category("billing", email=False)])

    _put(client, tenant.user_headers("bob"), [_category("billing", email=True)])
    _put(client, other_tenant.user_headers("ann"), [_category("billing", in_app=False)])

    assert _stored(client, ann)["billing"] == {
        "in_app": True,
        "email": False,
        "web_push": True,
        "mobile_push": True,
    }
    assert _stored(client, other_tenant.user_headers("ann"))["billing"]["email"] is True


def test_preferences_need_a_valid_user_hmac(client: FlaskClient, tenant: Tenant):
    bare = {"X-API-Key": tenant.api_key, "X-User-External-ID": "u-1"}

    assert client.get(URL, headers=bare).status_code == 401
    wrong = {**bare, "X-User-HMAC": "d3Jvbmc="}
    assert _put(client, wrong, [_category("billing", email=False)]).status_code == 403

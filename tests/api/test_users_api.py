"""Seed 002 users: admin create, read, list, update and delete, with every field limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.preferences.models import NotificationPreference
from app.push.models import PushSubscription
from app.runtime import Runtime
from app.topics.models import TopicSubscription
from app.users.models import User
from tests.support.factories import Tenant, make_key
from tests.support.recipients import make_user


def _create(client: FlaskClient, tenant: Tenant, **fields):
    return client.post("/users", json={"user": fields}, headers=tenant.headers())


def _fields(response) -> list[str]:
    return sorted(error["field"] for error in response.get_json()["errors"])


def test_create_answers_201_with_the_user_and_epoch_timestamps(client: FlaskClient, tenant: Tenant):
    response = _create(
        client,
        tenant,
        external_id="u-1",
        email="ann@example.com",
        first_name="Ann",
        custom_attributes={"plan": {"name": "pro"}},
        phone_numbers=["+15550100"],
    )

    assert response.status_code == 201
    user = response.get_json()["user"]
    assert user["external_id"] == "u-1" and user["email"] == "ann@example.com"
    assert user["custom_attributes"] == {"plan": {"name": "pro"}}
    assert user["phone_numbers"] == ["+15550100"] and user["last_name"] is None
    assert isinstance(user["created_at"], int)
    assert user["last_seen_at"] is None and user["last_notified_at"] is None


def test_create_needs_an_email_or_an_external_id(client: FlaskClient, tenant: Tenant):
    response = _create(client, tenant, first_name="Nobody")

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["code"] == "ERR_VALIDATION"
    assert _fields(response) == ["user.external_id"]


def test_every_field_limit_is_reported_together(client: FlaskClient, tenant: Tenant):
    response = _create(
        client,
        tenant,
        external_id="x" * 256,
        email="not-an-email",
        first_name="f" * 51,
        last_name="l" * 51,
        phone_numbers=["+1"] * 51,
        custom_attributes=["not", "an", "object"],
        colour="red",
    )

    assert response.status_code == 422
    assert _fields(response) == [
        "user.colour",
        "user.custom_attributes",
        "user.email",
        "user.external_id",
        "user.first_name",
        "user.last_name",
        "user.phone_numbers",
    ]


def test_limits_themselves_are_accepted(client: FlaskClient, tenant: Tenant):
    email = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 59 + ".io"
    response = _create(
        client,
        tenant,
        external_id="x" * 255,
        email=email,
        first_name="f" * 50,
        phone_numbers=["+1"] * 50,
    )

    assert len(email) == 255
    assert response.status_code == 201


def test_a_taken_external_id_or_email_is_refused(client: FlaskClient, tenant: Tenant):
    _create(client, tenant, external_id="u-1", email="ann@example.com")

    assert _fields(_create(client, tenant, external_id="u-1")) == ["user.external_id"]
    assert _fields(_create(client, tenant, external_id="u-2", email="ann@example.com")) == [
        "user.email"
    ]


def test_identifiers_are_unique_per_app_only(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    _create(client, tenant, external_id="u-1")

    assert _create(client, other_tenant, external_id="u-1").status_code == 201


def test_a_user_is_found_by_id_email_or_external_id(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    user_id = make_user(runtime, tenant, external_id="org/42", email="ann@example.com")

    for ref in (user_id, "email:ann@example.com", "external_id:org%2F42"):
        response = client.get(f"/users/{ref}", headers=tenant.headers())
        assert response.status_code == 200, ref
        assert response.get_json()["user"]["id"] == user_id


def test_unknown_and_other_apps_users_are_404(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    theirs = make_user(runtime, other_tenant, external_id="u-1")

    for ref in (theirs, "external_id:u-1", "email:nobody@example.com", "no-such-id"):
        response = client.get(f"/users/{ref}", headers=tenant.headers())
        assert response.status_code == 404
        assert response.get_json()["errors"][0]["code"] == "ERR_USER_NOT_FOUND"


def test_put_by_email_changes_only_the_given_fields(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    make_user(runtime, tenant, email="ann@example.com", first_name="Ann", last_name="Lee")

    response = client.put(
        "/users/email:ann@example.com",
        json={"user": {"external_id": "u-7", "last_name": None, "phone_numbers": None}},
        headers=tenant.headers(),
    )

    assert response.status_code == 200
    user = response.get_json()["user"]
    assert (user["external_id"], user["first_name"], user["last_name"]) == ("u-7", "Ann", None)
    assert user["phone_numbers"] == []


def test_put_by_external_id_may_change_the_email(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    make_user(runtime, tenant, external_id="u-1", email="old@example.com")

    response = client.put(
        "/users/external_id:u-1",
        json={"user": {"email": "new@example.com"}},
        headers=tenant.headers(),
    )

    assert response.get_json()["user"]["email"] == "new@example.com"
    assert client.get("/users/email:new@example.com", headers=tenant.headers()).status_code == 200


def test_put_refuses_a_taken_email_and_losing_both_identifiers(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    make_user(runtime, tenant, external_id="u-1", email="ann@example.com")
    make_user(runtime, tenant, external_id="u-2")

    taken = client.put(
        "/users/external_id:u-2",
        json={"user": {"email": "ann@example.com"}},
        headers=tenant.headers(),
    )
    anonymous = client.put(
        "/users/external_id:u-2", json={"user": {"external_id": None}}, headers=tenant.headers()
    )

    assert (taken.status_code, _fields(taken)) == (422, ["user.email"])
    assert (anonymous.status_code, _fields(anonymous)) == (422, ["user"])


def test_put_validates_like_create_and_404s_unknown_users(client: FlaskClient, tenant: Tenant):
    invalid = client.put(
        "/users/external_id:u-1", json={"user": {"first_name": "f" * 51}}, headers=tenant.headers()
    )
    unknown = client.put(
        "/users/external_id:u-1", json={"user": {"first_name": "F"}}, headers=tenant.headers()
    )

    assert (invalid.status_code, _fields(invalid)) == (422, ["user.first_name"])
    assert unknown.status_code == 404


def test_delete_removes_the_user_with_subscriptions_and_preferences(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    make_user(runtime, tenant, external_id="u-1")
    user_headers = tenant.user_headers("u-1")
    client.post(
        "/push_subscriptions",
        json={"push_subscription": {"platform": "ios", "device_token": "t1"}},
        headers=user_headers,
    )
    client.post(
        "/subscriptions",
        json={"subscription": {"topic": "t", "categories": []}},
        headers=user_headers,
    )
    client.put(
        "/notification_preferences",
        json={"notification_preferences": {"categories": [{"slug": "b", "channels": []}]}},
        headers=user_headers,
    )
    client.put(
        "/notification_preferences",
        json={
            "notification_preferences": {
                "categories": [{"slug": "b", "channels": [{"slug": "email", "enabled": False}]}]
            }
        },
        headers=user_headers,
    )

    response = client.delete("/users/external_id:u-1", headers=tenant.headers())

    assert (response.status_code, response.get_data()) == (204, b"")
    assert client.get("/users/external_id:u-1", headers=tenant.headers()).status_code == 404
    with runtime.database.transaction() as session:
        for model in (User, PushSubscription, TopicSubscription, NotificationPreference):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model


def test_delete_of_an_unknown_user_is_404(client: FlaskClient, tenant: Tenant):
    assert (
        client.delete("/users/email:none@example.com", headers=tenant.headers()).status_code == 404
    )


def test_list_is_paginated_newest_first(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    for n in range(5):
        make_user(runtime, tenant, external_id=f"u-{n}")

    page = client.get("/users?page=2&per_page=2", headers=tenant.headers()).get_json()

    assert [u["external_id"] for u in page["users"]] == ["u-2", "u-1"]
    assert (page["total"], page["per_page"], page["current_page"], page["total_pages"]) == (
        5,
        2,
        2,
        3,
    )


def test_list_rejects_out_of_range_pages_and_unknown_orders(client: FlaskClient, tenant: Tenant):
    for query, field in (
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=0", "page"),
        ("page=100000000000000000000", "page"),
        ("order_by=email,ASC", "order_by"),
        ("last_seen_at:before=yesterday", "last_seen_at:before"),
    ):
        response = client.get(f"/users?{query}", headers=tenant.headers())
        assert (response.status_code, _fields(response)) == (422, [field]), query


def test_list_filters_and_orders_by_last_seen_and_last_notified(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    now = datetime.now(UTC)
    make_user(runtime, tenant, external_id="old", last_seen_at=now - timedelta(days=3))
    make_user(runtime, tenant, external_id="recent", last_seen_at=now - timedelta(hours=1))
    make_user(runtime, tenant, external_id="never")
    make_user(runtime, tenant, external_id="notified", last_notified_at=now - timedelta(days=2))
    cutoff = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")

    def ids(query: str) -> list[str]:
        body = client.get(f"/users?{query}", headers=tenant.headers()).get_json()
        return [u["external_id"] for u in body["users"]]

    assert ids(f"last_seen_at:before={cutoff}") == ["old"]
    assert ids(f"last_seen_at:after={int((now - timedelta(days=1)).timestamp())}") == ["recent"]
    assert ids(f"last_notified_at:before={cutoff}") == ["notified"]
    assert ids(f"last_notified_at:after={cutoff}") == []
    assert ids("order_by=last_seen_at,ASC")[:2] == ["old", "recent"]
    assert ids("order_by=last_seen_at,DESC")[:2] == ["recent", "old"]
    assert ids("order_by=created_at,ASC") == ["old", "recent", "never", "notified"]


def test_writes_need_manage_users_and_reads_need_read(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    reader = {"X-API-Key": tenant.api_key, "X-API-Secret": make_key(runtime, tenant, ["read"])}
    sender = {
        "X-API-Key": tenant.api_key,
        "X-API-Secret": make_key(runtime, tenant, ["send_notifications"]),
    }

    assert (
        client.post("/users", json={"user": {"email": "a@x.io"}}, headers=reader).status_code == 403
    )
    assert client.get("/users", headers=reader).status_code == 200
    assert client.get("/users", headers=sender).status_code == 403
    assert client.get("/users").status_code == 401


def test_a_user_call_updates_last_seen_at(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    make_user(runtime, tenant, external_id="u-1")

    client.get("/notification_preferences", headers=tenant.user_headers("u-1"))

    user = client.get("/users/external_id:u-1", headers=tenant.headers()).get_json()["user"]
    assert abs(user["last_seen_at"] - datetime.now(UTC).timestamp()) < 60


def test_user_calls_within_a_minute_leave_last_seen_at_alone(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    seen = datetime.now(UTC) - timedelta(seconds=30)
    make_user(runtime, tenant, external_id="u-1", last_seen_at=seen)

    client.get("/notification_preferences", headers=tenant.user_headers("u-1"))

    user = client.get("/users/external_id:u-1", headers=tenant.headers()).get_json()["user"]
    assert abs(user["last_seen_at"] - seen.timestamp()) < 1

"""The user inbox API (seed 002 notifications): listing, filters, counts, state changes."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.factories import Tenant
from tests.support.inbox import fill_inbox, put_in_inbox


def inbox(client: FlaskClient, tenant: Tenant, user: str = "u1", query: str = "") -> dict:
    response = client.get(f"/notifications{query}", headers=tenant.user_headers(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def titles(body: dict) -> list[str]:
    return [n["title"] for n in body["notifications"]]


def act(client: FlaskClient, tenant: Tenant, path: str, user: str = "u1", method: str = "POST"):
    return client.open(path, method=method, headers=tenant.user_headers(user))


def test_the_inbox_lists_newest_first_in_pages_of_15_with_counts(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    fill_inbox(runtime, tenant, "u1", 17)

    first = inbox(client, tenant)
    second = inbox(client, tenant, query="?page=2")

    assert titles(first) == [f"n{i}" for i in range(16, 1, -1)]
    assert titles(second) == ["n1", "n0"]
    assert {k: v for k, v in first.items() if k != "notifications"} == {
        "total": 17,
        "per_page": 15,
        "current_page": 1,
        "total_pages": 2,
        "unseen_count": 17,
        "unread_count": 17,
    }


def test_a_notification_has_the_seed_fields_with_epoch_timestamps(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    put_in_inbox(
        runtime,
        tenant,
        "u1",
        title="Order shipped",
        content="<p>On its way</p>",
        action_url="https://shop.example/orders/1",
        category="orders",
        topic="order-1",
        custom_attributes={"order": {"id": 1}},
    )

    [notification] = inbox(client, tenant)["notifications"]

    assert set(notification) == {
        "id",
        "title",
        "content",
        "action_url",
        "category",
        "topic",
        "custom_attributes",
        "sent_at",
        "seen_at",
        "read_at",
        "archived_at",
    }
    assert notification["custom_attributes"] == {"order": {"id": 1}}
    assert isinstance(notification["sent_at"], int)
    assert notification["read_at"] is notification["seen_at"] is None
    shown = client.get(f"/notifications/{notification['id']}", headers=tenant.user_headers("u1"))
    assert shown.get_json() == {"notification": notification}


@pytest.mark.parametrize("per_page", ["0", "101", "x"])
def test_per_page_outside_1_to_100_is_422(client: FlaskClient, tenant: Tenant, per_page: str):
    response = client.get(f"/notifications?per_page={per_page}", headers=tenant.user_headers("u"))

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "per_page"


def test_per_page_100_and_a_page_past_the_end(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    fill_inbox(runtime, tenant, "u1", 3)

    assert len(inbox(client, tenant, query="?per_page=100")["notifications"]) == 3
    past = inbox(client, tenant, query="?per_page=2&page=3")
    assert (past["notifications"], past["total"], past["total_pages"]) == ([], 3, 2)


def test_state_filters_select_read_seen_and_archived(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    read, seen, archived, fresh = fill_inbox(runtime, tenant, "u1", 4)
    for path in (f"{read}/read", f"{seen}/read", f"{seen}/unread", f"{archived}/archive"):
        assert act(client, tenant, f"/notifications/{path}").status_code == 204

    def ids(query: str) -> list[str]:
        return [n["id"] for n in inbox(client, tenant, query=query)["notifications"]]

    assert ids("?read=true") == [read]
    assert ids("?read=false") == [seen, archived, fresh]
    assert ids("?seen=true") == [read, seen]
    assert ids("?seen=false&archived=false") == [fresh]
    assert ids("?archived=true") == [archived]
    assert ids("?read=false&seen=true") == [seen]


def test_category_and_topic_filters_take_lists_in_every_form(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    put_in_inbox(runtime, tenant, "u1", title="billing", category="billing", minutes_ago=4)
    put_in_inbox(runtime, tenant, "u1", title="orders", category="orders", minutes_ago=3)
    put_in_inbox(runtime, tenant, "u1", title="none", minutes_ago=2)
    put_in_inbox(runtime, tenant, "u1", title="order-7", category="orders", topic="order-7")

    def shown(query: str) -> list[str]:
        return titles(inbox(client, tenant, query=query))

    assert shown("?categories=billing,uncategorized") == ["none", "billing"]
    assert shown("?categories=billing&categories=orders") == ["order-7", "orders", "billing"]
    assert shown("?categories[]=orders&categories[]=billing") == ["order-7", "orders", "billing"]
    assert shown("?categories=uncategorized") == ["none"]
    assert shown("?topics=order-7") == ["order-7"]
    assert shown("?categories=orders&topics=order-7,order-8") == ["order-7"]


def test_a_boolean_filter_that_is_not_a_boolean_is_422(client: FlaskClient, tenant: Tenant):
    response = client.get("/notifications?read=maybe", headers=tenant.user_headers("u"))

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "read"


def test_counts_leave_archived_notifications_out_and_follow_category_filters(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    put_in_inbox(runtime, tenant, "u1", category="billing")
    put_in_inbox(runtime, tenant, "u1", category="orders")
    archived = put_in_inbox(runtime, tenant, "u1", category="orders")
    act(client, tenant, f"/notifications/{archived}/archive")

    everything = inbox(client, tenant)
    orders = inbox(client, tenant, query="?categories=orders&read=true")

    assert (everything["unread_count"], everything["unseen_count"]) == (2, 2)
    assert (orders["total"], orders["unread_count"], orders["unseen_count"]) == (0, 1, 1)


def test_reading_marks_seen_and_unreading_keeps_it_seen(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    id_ = put_in_inbox(runtime, tenant, "u1")

    assert act(client, tenant, f"/notifications/{id_}/read").status_code == 204
    read = inbox(client, tenant)["notifications"][0]
    assert act(client, tenant, f"/notifications/{id_}/unread").status_code == 204
    unread = inbox(client, tenant)

    assert read["read_at"] is not None and read["seen_at"] == read["read_at"]
    assert unread["notifications"][0]["read_at"] is None
    assert unread["notifications"][0]["seen_at"] == read["seen_at"]
    assert (unread["unread_count"], unread["unseen_count"]) == (1, 0)


def test_archive_unarchive_and_delete(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    id_ = put_in_inbox(runtime, tenant, "u1")

    archived = act(client, tenant, f"/notifications/{id_}/archive")
    archived_at = inbox(client, tenant)["notifications"][0]["archived_at"]
    unarchived = act(client, tenant, f"/notifications/{id_}/unarchive")
    after_unarchive = inbox(client, tenant)["notifications"][0]["archived_at"]
    deleted = act(client, tenant, f"/notifications/{id_}", method="DELETE")

    assert [archived.status_code, unarchived.status_code, deleted.status_code] == [204] * 3
    assert archived.data == unarchived.data == deleted.data == b""
    assert archived_at is not None and after_unarchive is None
    assert act(client, tenant, f"/notifications/{id_}", method="GET").status_code == 404
    assert inbox(client, tenant)["total"] == 0


def test_mark_all_read_with_filters_changes_only_the_matching_notifications(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    put_in_inbox(runtime, tenant, "u1", title="billing", category="billing", minutes_ago=1)
    put_in_inbox(runtime, tenant, "u1", title="orders", category="orders")
    put_in_inbox(runtime, tenant, "u2", title="theirs", category="billing")

    response = client.post(
        "/notifications/read?categories=billing", headers=tenant.user_headers("u1")
    )

    assert (response.status_code, response.data) == (204, b"")
    assert titles(inbox(client, tenant, query="?read=true")) == ["billing"]
    assert titles(inbox(client, tenant, query="?seen=true")) == ["billing"]
    assert inbox(client, tenant, "u2")["unread_count"] == 1


def test_mark_all_seen_leaves_notifications_unread(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    fill_inbox(runtime, tenant, "u1", 3)

    assert client.post("/notifications/seen", headers=tenant.user_headers("u1")).status_code == 204

    body = inbox(client, tenant)
    assert (body["unseen_count"], body["unread_count"]) == (0, 3)
    assert all(n["seen_at"] is not None and n["read_at"] is None for n in body["notifications"])


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("DELETE", ""),
        ("POST", "/read"),
        ("POST", "/unread"),
        ("POST", "/archive"),
        ("POST", "/unarchive"),
    ],
)
def test_another_users_or_apps_notification_is_not_found_and_stays_untouched(
    client: FlaskClient,
    runtime: Runtime,
    tenant: Tenant,
    other_tenant: Tenant,
    method: str,
    suffix: str,
):
    id_ = put_in_inbox(runtime, tenant, "owner")
    path = f"/notifications/{id_}{suffix}"

    neighbour = act(client, tenant, path, user="neighbour", method=method)
    same_id_elsewhere = act(client, other_tenant, path, user="owner", method=method)

    assert neighbour.status_code == same_id_elsewhere.status_code == 404
    assert neighbour.get_json()["errors"][0]["code"] == "ERR_NOTIFICATION_NOT_FOUND"
    [untouched] = inbox(client, tenant, "owner")["notifications"]
    assert untouched["read_at"] is untouched["archived_at"] is None


def test_lists_and_mark_all_stay_within_the_callers_app_and_user(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    put_in_inbox(runtime, tenant, "u1", title="mine")
    put_in_inbox(runtime, tenant, "u2", title="neighbour's")
    put_in_inbox(runtime, other_tenant, "u1", title="other app's")

    client.post("/notifications/read", headers=other_tenant.user_headers("u1"))

    assert titles(inbox(client, tenant)) == ["mine"]
    assert inbox(client, tenant)["unread_count"] == 1
    assert inbox(client, tenant, "u2")["unread_count"] == 1
    assert inbox(client, other_tenant)["unread_count"] == 0


def test_the_inbox_is_a_user_call(client: FlaskClient, tenant: Tenant):
    without_hmac = client.get(
        "/notifications", headers={"X-API-Key": tenant.api_key, "X-User-External-ID": "u1"}
    )
    wrong_hmac = client.get(
        "/notifications",
        headers={**tenant.user_headers("u1"), "X-User-External-ID": "u2"},
    )

    assert without_hmac.status_code == 401
    assert (
        without_hmac.get_json()["errors"][0]["code"] == "neither_user_hmac_nor_api_secret_provided"
    )
    assert wrong_hmac.status_code == 403

"""The dashboard's users pages through the Flask test client: finding users by the start of
their external id or email, paging, a user's page with what the services know of them, push
tokens shown only by their start, and another app's user answering 404."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.dashboard import sign_in
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import SEND, send_request
from tests.support.recipients import FCM_ENDPOINT, WEB_KEYS

USERS = "/dashboard/users"
DEVICE_TOKEN = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0"


def create_user(client: FlaskClient, tenant: Tenant, **fields: object) -> str:
    response = client.post("/users", json={"user": fields}, headers=tenant.headers())
    assert response.status_code == 201, response.get_json()
    return response.get_json()["user"]["id"]


def page_text(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_users_are_found_by_the_start_of_their_external_id_or_email(
    client: FlaskClient, tenant: Tenant
):
    create_user(client, tenant, external_id="ada-1", email="lovelace@example.com")
    create_user(client, tenant, external_id="grace-2", email="ada.hopper@example.com")
    create_user(client, tenant, external_id="alan-3", email="turing@example.com")
    sign_in(client, tenant.secret)

    by_prefix = page_text(client, f"{USERS}?q=ada")
    literal = page_text(client, f"{USERS}?q=a_a")
    percent = page_text(client, f"{USERS}?q=%25")
    everyone = page_text(client, USERS)

    assert "2 users whose external id or email starts with" in by_prefix
    assert "ada-1" in by_prefix and "grace-2" in by_prefix and "alan-3" not in by_prefix
    assert "0 users" in literal  # `_` is a character to match, not LIKE's wildcard
    assert "0 users" in percent  # nor is `%`
    assert "3 users" in everyone


def test_the_search_pages_twenty_users_at_a_time_and_keeps_its_query(
    client: FlaskClient, tenant: Tenant
):
    for number in range(23):
        create_user(client, tenant, external_id=f"member-{number:02d}")
    sign_in(client, tenant.secret)

    first = page_text(client, f"{USERS}?q=member")
    second = page_text(client, f"{USERS}?q=member&page=2")

    assert "Page 1 of 2" in first and "q=member&amp;page=2" in first
    assert first.count("<code>member-") == 20
    assert "Page 2 of 2" in second and second.count("<code>member-") == 3


def test_a_users_page_shows_profile_preferences_subscriptions_deliveries_and_inbox(
    client: FlaskClient, tenant: Tenant
):
    user_id = create_user(
        client,
        tenant,
        external_id="jane-7",
        email="jane@example.com",
        first_name="Jane",
        custom_attributes={"plan": "gold", "seats": 3},
    )
    headers = tenant.user_headers("jane-7")
    preferences = {
        "categories": [{"slug": "orders", "channels": [{"slug": "email", "enabled": False}]}]
    }
    assert (
        client.put(
            "/notification_preferences",
            json={"notification_preferences": preferences},
            headers=headers,
        ).status_code
        == 200
    )
    for fields in (
        {"platform": "ios", "device_token": DEVICE_TOKEN, "app_bundle_id": "com.example"},
        {"platform": "web", "device_token": FCM_ENDPOINT, "keys": WEB_KEYS},
    ):
        registered = client.post(
            "/push_subscriptions", json={"push_subscription": fields}, headers=headers
        )
        assert registered.status_code == 201, registered.get_json()
    approved_template(client, tenant)
    send = send_request(["jane-7"], "realtime", variables={"customerName": "Jane", "orderId": "7"})
    sent = client.post(SEND, json=send, headers=tenant.headers())
    assert sent.status_code == 200, sent.get_json()
    sign_in(client, tenant.secret)

    page = page_text(client, f"{USERS}/{user_id}")

    for shown in (
        "jane-7",
        "jane@example.com",
        "Jane",
        "<dt>plan</dt><dd><code>gold</code>",
        "<code>3</code>",
    ):
        assert shown in page, shown
    assert "orders" in page and ">off<" in page
    assert "2 subscriptions" in page and ">ios<" in page and ">web<" in page
    assert DEVICE_TOKEN[:8] + "…" in page and DEVICE_TOKEN not in page
    assert FCM_ENDPOINT not in page and "fcm.googleapis.com/…/dQw4w9Wg…" in page
    assert sent.get_json()["notificationId"] in page
    assert "1 notification sent to this user" in page
    assert "Order 7 confirmed" in page and "1 in-app notification" in page


def test_another_apps_user_answers_404(client: FlaskClient, tenant: Tenant, other_tenant: Tenant):
    theirs = create_user(client, other_tenant, external_id="someone-else")
    sign_in(client, tenant.secret)

    response = client.get(f"{USERS}/{theirs}")
    found = page_text(client, f"{USERS}?q=someone")

    assert response.status_code == 404 and "someone-else" not in response.get_data(as_text=True)
    assert "0 users" in found


def test_the_nav_links_to_the_users(client: FlaskClient, tenant: Tenant):
    sign_in(client, tenant.secret)

    page = page_text(client, USERS)

    assert f'<a href="{USERS}" aria-current="page">Users</a>' in page

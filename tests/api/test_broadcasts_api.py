"""`POST /broadcasts` and `POST /notifications`: seed 002's limits, recipients, views, scopes."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.runtime import Runtime
from app.users.models import User
from tests.support.factories import Tenant, make_key, make_tenant

SEED_EXAMPLE = {
    "broadcast": {
        "title": "Task assigned to you: Upgrade to Startup plan",
        "content": "Hello, can you upgrade us to the Startup plan. Thank you.",
        "category": "billing",
        "action_url": "https://magicbell.com/pricing",
        "recipients": [{"email": "mary@example.com"}, {"email": "richard@example.com"}],
    }
}


def broadcast(client: FlaskClient, tenant: Tenant, **fields) -> tuple[int, dict]:
    body = {"broadcast": {"title": "Hi", "recipients": [{"external_id": "u1"}], **fields}}
    response = client.post("/broadcasts", json=body, headers=tenant.headers())
    return response.status_code, response.get_json()


def fields_in_error(body: dict) -> list[str]:
    return [e.get("field") for e in body["errors"]]


def create_user(client: FlaskClient, tenant: Tenant, external_id: str, email: str) -> None:
    body = {"user": {"external_id": external_id, "email": email}}
    client.post("/users", json=body, headers=tenant.headers())


def direct_send(client: FlaskClient, tenant: Tenant) -> dict:
    """An email through the direct send API (no broadcast); its answer's data."""
    body = {"channels": ["email"], "to": ["a@example.com"], "subject": "direct", "body": "b"}
    response = client.post("/api/v1/notifications/send", json=body, headers=tenant.headers())
    return response.get_json()["data"]


def subscribe(client: FlaskClient, tenant: Tenant, external_id: str, topic: str) -> None:
    """The user subscribes to the topic, as the user."""
    body = {"subscription": {"topic": topic, "categories": []}}
    client.post("/subscriptions", json=body, headers=tenant.user_headers(external_id))


def test_the_seed_example_is_accepted_enqueued_with_its_fields(client: FlaskClient, tenant: Tenant):
    response = client.post("/broadcasts", json=SEED_EXAMPLE, headers=tenant.headers())

    assert response.status_code == 201, response.get_json()
    view = response.get_json()["broadcast"]
    assert {k: view[k] for k in ("title", "content", "category", "action_url", "topic")} == {
        **{k: v for k, v in SEED_EXAMPLE["broadcast"].items() if k != "recipients"},
        "topic": None,
    }
    assert view["recipients"] == SEED_EXAMPLE["broadcast"]["recipients"]
    assert view["status"] == {
        "status": "enqueued",
        "summary": {"total": 2, "failures": 0},
        "errors": [],
    }
    assert isinstance(view["sent_at"], int)


def test_the_minimal_seed_example_with_only_a_title_works(client: FlaskClient, tenant: Tenant):
    body = {
        "broadcast": {"title": "Ticket assigned to you", "recipients": [{"email": "r@example.com"}]}
    }

    response = client.post("/broadcasts", json=body, headers=tenant.headers())

    assert response.status_code == 201


def test_post_notifications_is_a_broadcast_named_notification(client: FlaskClient, tenant: Tenant):
    body = {"notification": SEED_EXAMPLE["broadcast"]}

    response = client.post("/notifications", json=body, headers=tenant.headers())
    created = response.get_json()["notification"]
    fetched = client.get(f"/broadcasts/{created['id']}", headers=tenant.headers())

    assert response.status_code == 201
    assert fetched.get_json()["broadcast"]["title"] == SEED_EXAMPLE["broadcast"]["title"]


def test_the_seed_ruby_example_posted_to_the_root_url_creates_the_notification(
    client: FlaskClient, tenant: Tenant
):
    body = {"notification": SEED_EXAMPLE["broadcast"]}

    response = client.post("/", data=json.dumps(body), headers=tenant.headers())

    assert response.status_code == 201
    assert response.get_json()["notification"]["title"] == SEED_EXAMPLE["broadcast"]["title"]


def test_a_notifications_custom_attributes_hold_at_most_6_kb(client: FlaskClient, tenant: Tenant):
    def create(size: int):
        fields = {**SEED_EXAMPLE["broadcast"], "custom_attributes": {"k": "x" * size}}
        return client.post(
            "/notifications", json={"notification": fields}, headers=tenant.headers()
        )

    assert create(6 * 1024 - 20).status_code == 201
    refused = create(6 * 1024)
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "notification.custom_attributes"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "x" * 256}, "broadcast.title"),
        ({"title": ""}, "broadcast.title"),
        ({"content": "x" * 4_194_305}, "broadcast.content"),
        ({"action_url": "https://e.example/" + "x" * 2031}, "broadcast.action_url"),
        ({"category": "c" * 101}, "broadcast.category"),
        ({"topic": "t" * 101}, "broadcast.topic"),
        ({"custom_attributes": {"blob": "x" * 262_140}}, "broadcast.custom_attributes"),
        ({"recipients": []}, "broadcast.recipients"),
        ({"recipients": [{"external_id": f"u{i}"} for i in range(1001)]}, "broadcast.recipients"),
        ({"recipients": [{"first_name": "Mary"}]}, "broadcast.recipients.0.email"),
        ({"recipients": [{"email": "not-an-email"}]}, "broadcast.recipients.0.email"),
        (
            {"recipients": [{"topic": "t", "email": "a@example.com"}]},
            "broadcast.recipients.0.topic",
        ),
        (
            {"recipients": [{"external_id": "u", "first_name": "x" * 51}]},
            "broadcast.recipients.0.first_name",
        ),
        (
            {"overrides": {"channels": {"email": {"title": "x" * 256}}}},
            "broadcast.overrides.channels.email.title",
        ),
        ({"overrides": {"channels": {"sms": {}}}}, "broadcast.overrides.channels.sms"),
    ],
)
def test_each_seed_limit_is_enforced_with_422_naming_the_field(
    client: FlaskClient, tenant: Tenant, fields: dict, field: str
):
    status, body = broadcast(client, tenant, **fields)

    assert status == 422, body
    assert field in fields_in_error(body)


def test_values_at_each_limit_are_accepted(client: FlaskClient, tenant: Tenant, runtime: Runtime):
    status, body = broadcast(
        client,
        tenant,
        title="x" * 255,
        content="y" * 4_194_304,
        action_url="https://e.example/" + "z" * 2030,
        category="c" * 100,
        topic="t" * 100,
        custom_attributes={"blob": "x" * 262_000},
        recipients=[{"external_id": f"u{i}"} for i in range(1000)],
    )

    assert status == 201, body
    assert body["broadcast"]["status"]["summary"]["total"] == 1000
    with runtime.database.session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1000


def test_a_body_without_the_broadcast_wrapper_is_422(client: FlaskClient, tenant: Tenant):
    response = client.post("/broadcasts", json={"title": "Hi"}, headers=tenant.headers())

    assert response.status_code == 422
    assert "broadcast" in fields_in_error(response.get_json())


def test_two_entries_naming_one_user_are_one_recipient(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    create_user(client, tenant, "u1", "u1@example.com")

    status, body = broadcast(
        client,
        tenant,
        recipients=[{"external_id": "u1"}, {"email": "u1@example.com"}, {"external_id": "u1"}],
    )

    assert status == 201
    assert body["broadcast"]["status"]["summary"]["total"] == 1


def test_unknown_recipients_are_created_with_their_attributes(client: FlaskClient, tenant: Tenant):
    status, _ = broadcast(
        client,
        tenant,
        recipients=[
            {
                "external_id": "new-1",
                "email": "new@example.com",
                "first_name": "Nia",
                "custom_attributes": {"plan": "pro"},
            }
        ],
    )

    user = client.get("/users/external_id:new-1", headers=tenant.headers()).get_json()["user"]
    assert status == 201
    assert (user["email"], user["first_name"], user["custom_attributes"]) == (
        "new@example.com",
        "Nia",
        {"plan": "pro"},
    )


def test_a_topic_recipient_means_its_subscribers(client: FlaskClient, tenant: Tenant):
    for user in ("s1", "s2"):
        subscribe(client, tenant, user, "launch")

    status, body = broadcast(
        client, tenant, recipients=[{"topic": "launch"}, {"external_id": "s1"}]
    )
    empty_status, empty = broadcast(client, tenant, recipients=[{"topic": "nobody-here"}])

    assert status == 201 and body["broadcast"]["status"]["summary"]["total"] == 2
    assert empty_status == 201 and empty["broadcast"]["status"]["summary"]["total"] == 0


def test_topic_subscribers_beyond_the_apps_batch_limit_are_refused(
    client: FlaskClient, tenant: Tenant
):
    client.patch("/api/apps/current", json={"batchTargetLimit": 2}, headers=tenant.headers())
    for user in ("s1", "s2", "s3"):
        subscribe(client, tenant, user, "launch")

    status, body = broadcast(client, tenant, recipients=[{"topic": "launch"}])

    assert status == 422
    assert body["errors"][0] == {
        "code": "ERR_TARGET_LIMIT_EXCEEDED",
        "message": "A broadcast reaches at most 2 recipients; got 3.",
        "field": "broadcast.recipients",
    }


def test_the_allow_list_screens_email_recipients(client: FlaskClient, tenant: Tenant):
    allow_list = {"enabled": True, "domains": ["example.com"], "emails": []}
    put = client.put("/api/apps/current/allow_list", json=allow_list, headers=tenant.headers())
    assert put.status_code == 200, put.get_json()

    status, body = broadcast(
        client, tenant, recipients=[{"email": "ok@example.com"}, {"email": "no@elsewhere.org"}]
    )
    refused_status, refused = broadcast(client, tenant, recipients=[{"email": "no@elsewhere.org"}])

    assert status == 201
    assert body["broadcast"]["status"]["summary"]["total"] == 1
    assert body["broadcast"]["status"]["errors"] == [
        {
            "code": "not_in_allow_list",
            "message": "no@elsewhere.org: not in allow list",
            "recipient": "no@elsewhere.org",
        }
    ]
    assert refused_status == 422
    assert refused["errors"][0]["code"] == "ERR_NO_ALLOWED_TARGETS"


def test_broadcasting_needs_the_send_notifications_scope(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    reader = make_key(runtime, tenant, ["read"])

    response = client.post(
        "/broadcasts", json=SEED_EXAMPLE, headers={"Authorization": f"Bearer {reader}"}
    )
    listed = client.get("/broadcasts", headers={"Authorization": f"Bearer {reader}"})

    assert response.status_code == 403
    assert listed.status_code == 200


def test_broadcasts_are_listed_newest_first_in_pages(client: FlaskClient, tenant: Tenant):
    for title in ("first", "second", "third"):
        broadcast(client, tenant, title=title)
    direct_send(client, tenant)

    page = client.get("/broadcasts?per_page=2", headers=tenant.headers()).get_json()
    rest = client.get("/broadcasts?per_page=2&page=2", headers=tenant.headers()).get_json()

    assert [b["title"] for b in page["broadcasts"]] == ["third", "second"]
    assert [b["title"] for b in rest["broadcasts"]] == ["first"]
    assert (page["total"], page["per_page"], page["current_page"], page["total_pages"]) == (
        3,
        2,
        1,
        2,
    )


def test_per_page_of_broadcasts_defaults_to_20_and_is_checked(client: FlaskClient, tenant: Tenant):
    listed = client.get("/broadcasts", headers=tenant.headers()).get_json()
    refused = client.get("/broadcasts?per_page=101", headers=tenant.headers())

    assert listed["per_page"] == 20
    assert refused.status_code == 422


def test_another_apps_broadcast_is_not_found(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    globex = make_tenant(runtime, "globex")
    _, body = broadcast(client, tenant)
    broadcast_id = body["broadcast"]["id"]

    shown = client.get(f"/broadcasts/{broadcast_id}", headers=globex.headers())
    recipients = client.get(f"/broadcasts/{broadcast_id}/notifications", headers=globex.headers())
    listed = client.get("/broadcasts", headers=globex.headers()).get_json()

    assert shown.status_code == recipients.status_code == 404
    assert shown.get_json()["errors"][0]["code"] == "ERR_BROADCAST_NOT_FOUND"
    assert listed["total"] == 0


def test_a_templated_notification_is_not_a_broadcast(client: FlaskClient, tenant: Tenant):
    sent = direct_send(client, tenant)

    response = client.get(f"/broadcasts/{sent['notification_id']}", headers=tenant.headers())

    assert response.status_code == 404


def test_null_identifiers_are_absent_ones(client: FlaskClient, tenant: Tenant):
    status, body = broadcast(
        client,
        tenant,
        recipients=[{"external_id": "u1", "email": None}, {"topic": "t", "external_id": None}],
    )
    refused, errors = broadcast(client, tenant, recipients=[{"email": None, "external_id": None}])

    assert status == 201, body
    assert body["broadcast"]["status"]["summary"]["total"] == 1
    assert refused == 422 and fields_in_error(errors) == ["broadcast.recipients.0.email"]


def test_recipients_and_topics_are_looked_up_in_the_callers_app_only(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    create_user(client, other_tenant, "u1", "u1@globex.example")
    subscribe(client, other_tenant, "sub", "launch")

    status, body = broadcast(
        client, tenant, recipients=[{"external_id": "u1"}, {"topic": "launch"}]
    )

    assert status == 201 and body["broadcast"]["status"]["summary"]["total"] == 1
    mine = client.get("/users/external_id:u1", headers=tenant.headers()).get_json()["user"]
    theirs = client.get("/users/external_id:u1", headers=other_tenant.headers()).get_json()["user"]
    assert mine["id"] != theirs["id"] and mine["email"] is None

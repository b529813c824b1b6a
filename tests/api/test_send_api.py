"""POST /api/notifications/send as seed 004 documents it: request, response, the scope it
needs, idempotent replays, and the notifications it leaves to read. Its refusals, with their
error codes, are specified in test_send_api_refusals.py."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.engine.models import Delivery, Notification
from app.inbox.models import InboxNotification
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template, make_key
from tests.support.send_api import SEED_EXAMPLE, URL, error_codes


def seed_headers(tenant: Tenant) -> dict[str, str]:
    return {"appid": tenant.app_id, "apikey": tenant.secret}


def test_seed_example_realtime_send_answers_200_with_the_seed_fields(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime
):
    response = client.post(URL, json=SEED_EXAMPLE, headers=seed_headers(tenant))

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["templateKey"] == "order-confirmation"
    assert body["channels"] == ["in_app", "email", "push"]
    assert (body["mode"], body["title"], body["tag"], body["sentFrom"]) == (
        "realtime",
        "Order Confirmed",
        "orders",
        "api",
    )
    assert body["createdAt"].endswith("Z") and body["notificationId"]
    assert (body["targets"], body["rejected"]) == (1, [])
    with runtime.database.transaction() as session:
        inbox = session.scalars(select(InboxNotification)).one()
    assert inbox.title == "Order ORD-12345 confirmed"
    assert inbox.content == "Thanks Jane!"


def test_realtime_send_records_unreachable_channels_as_skipped(
    client: FlaskClient, tenant: Tenant, template: dict
):
    body = client.post(URL, json=SEED_EXAMPLE, headers=seed_headers(tenant)).get_json()

    progress = client.get(
        f"/api/notifications/{body['notificationId']}", headers=tenant.headers()
    ).get_json()["progress"]
    assert progress["in_app"]["sent"] == 1
    assert progress["email"]["skipped"] == 1
    assert progress["push"]["skipped"] == 1
    deliveries = client.get(
        f"/api/notifications/{body['notificationId']}/deliveries?status=skipped",
        headers=tenant.headers(),
    ).get_json()["deliveries"]
    assert sorted(d["reason"] for d in deliveries) == ["no_email_address", "no_push_subscription"]
    assert {d["target"] for d in deliveries} == {"user-jane-123"}


def test_an_action_url_rendered_past_its_column_fails_that_recipient_not_the_send(
    client: FlaskClient, tenant: Tenant
):
    channels = {
        "in_app": {"title": "Hi", "action_url": "https://shop.example/{{ path }}"},
        "email": {"subject": "Hi", "html": "<p>Hi</p>"},
    }
    schema = {"type": "object", "properties": {"path": {"type": "string"}}}
    approved_template(client, tenant, key="long-link", channels=channels, schema=schema)
    request = {
        "template": {"key": "long-link", "variables": {"path": "a" * 3000}},
        "targets": [{"external_id": "u-1", "email": "u1@example.com"}],
        "mode": "realtime",
    }

    response = client.post(URL, json=request, headers=seed_headers(tenant))

    assert response.status_code == 200, response.get_json()
    deliveries = client.get(
        f"/api/notifications/{response.get_json()['notificationId']}/deliveries",
        headers=tenant.headers(),
    ).get_json()["deliveries"]
    statuses = {d["channel"]: d["status"] for d in deliveries}
    assert statuses == {"in_app": "failed", "email": "queued"}
    in_app = next(d for d in deliveries if d["channel"] == "in_app")
    assert "action_url" in in_app["reason"]


def test_send_by_template_id_works_like_by_key(client: FlaskClient, tenant: Tenant, template: dict):
    request = {**SEED_EXAMPLE, "template": {**SEED_EXAMPLE["template"], "id": template["id"]}}
    del request["template"]["key"]

    assert client.post(URL, json=request, headers=seed_headers(tenant)).status_code == 200


def test_batch_send_answers_202_before_any_delivery(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime
):
    request = {**SEED_EXAMPLE, "mode": "batch", "targets": [f"u{i}" for i in range(300)]}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert response.status_code == 202
    assert response.get_json()["status"] == "queued"
    assert response.get_json()["targets"] == 300
    with runtime.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_duplicate_targets_are_sent_once(client: FlaskClient, tenant: Tenant, template: dict):
    request = {**SEED_EXAMPLE, "mode": "batch", "targets": ["a", "b", "a", {"external_id": "b"}]}

    assert client.post(URL, json=request, headers=tenant.headers()).get_json()["targets"] == 2


def test_sending_needs_the_send_notifications_scope(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, template: dict
):
    secret = make_key(runtime, tenant, ["read"])

    response = client.post(URL, json=SEED_EXAMPLE, headers={"Authorization": f"Bearer {secret}"})

    assert (response.status_code, error_codes(response)) == (403, ["forbidden"])


def test_idempotent_replay_returns_the_first_response_and_sends_nothing_new(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime
):
    headers = {**tenant.headers(), "Idempotency-Key": "k-1"}
    first = client.post(URL, json=SEED_EXAMPLE, headers=headers)
    second = client.post(URL, json=SEED_EXAMPLE, headers=headers)

    assert second.status_code == first.status_code == 200
    assert second.get_json() == first.get_json()
    with runtime.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 1


def test_an_idempotent_refusal_is_replayed_and_a_corrected_body_needs_a_new_key(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime
):
    headers = {**tenant.headers(), "Idempotency-Key": "k-refused"}
    bad = {**SEED_EXAMPLE, "mode": "someday"}
    first = client.post(URL, json=bad, headers=headers)

    again = client.post(URL, json=bad, headers=headers)
    corrected = client.post(URL, json=SEED_EXAMPLE, headers=headers)

    assert (first.status_code, error_codes(first)) == (400, ["ERR_INVALID_MODE"])
    assert (again.status_code, again.get_json()) == (400, first.get_json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (corrected.status_code, error_codes(corrected)) == (409, ["idempotency_key_reused"])
    with runtime.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 0


def test_idempotency_key_with_a_different_body_is_409_reused(
    client: FlaskClient, tenant: Tenant, template: dict
):
    headers = {**tenant.headers(), "Idempotency-Key": "k-2"}
    client.post(URL, json=SEED_EXAMPLE, headers=headers)

    response = client.post(URL, json={**SEED_EXAMPLE, "title": "Other"}, headers=headers)

    assert (response.status_code, error_codes(response)) == (409, ["idempotency_key_reused"])


def test_idempotency_keys_are_scoped_per_app(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant, template: dict
):
    approved_template(client, other_tenant)
    client.post(URL, json=SEED_EXAMPLE, headers={**tenant.headers(), "Idempotency-Key": "shared"})

    response = client.post(
        URL, json=SEED_EXAMPLE, headers={**other_tenant.headers(), "Idempotency-Key": "shared"}
    )

    assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers


def test_notifications_of_another_app_are_not_found(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant, template: dict
):
    sent = client.post(URL, json=SEED_EXAMPLE, headers=tenant.headers()).get_json()

    response = client.get(
        f"/api/notifications/{sent['notificationId']}", headers=other_tenant.headers()
    )

    assert response.status_code == 404


def test_notification_list_is_paginated_newest_first(
    client: FlaskClient, tenant: Tenant, template: dict
):
    ids = [
        client.post(URL, json=SEED_EXAMPLE, headers=tenant.headers()).get_json()["notificationId"]
        for _ in range(3)
    ]

    page = client.get("/api/notifications?perPage=2", headers=tenant.headers()).get_json()

    assert (page["total"], page["perPage"], page["page"]) == (3, 2, 1)
    assert [n["notificationId"] for n in page["notifications"]] == ids[::-1][:2]


def test_unknown_delivery_filters_are_refused(client: FlaskClient, tenant: Tenant, template: dict):
    sent = client.post(URL, json=SEED_EXAMPLE, headers=tenant.headers()).get_json()

    response = client.get(
        f"/api/notifications/{sent['notificationId']}/deliveries?channel=fax",
        headers=tenant.headers(),
    )

    assert response.status_code == 400

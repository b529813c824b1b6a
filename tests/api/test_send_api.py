"""POST /api/notifications/send as seed 004 documents it: request, response, five error codes."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.engine.models import Delivery, Notification
from app.inbox.models import InboxNotification
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template, make_key

URL = "/api/notifications/send"
SEED_EXAMPLE = {
    "template": {
        "key": "order-confirmation",
        "variables": {"customerName": "Jane", "orderId": "ORD-12345"},
    },
    "targets": ["user-jane-123"],
    "mode": "realtime",
    "title": "Order Confirmed",
    "tag": "orders",
}


def seed_headers(tenant: Tenant) -> dict[str, str]:
    return {"appid": tenant.app_id, "apikey": tenant.secret}


def error_codes(response) -> list[str]:
    return [e["code"] for e in response.get_json()["errors"]]


@pytest.fixture
def template(client: FlaskClient, tenant: Tenant) -> dict:
    return approved_template(client, tenant)


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


@pytest.mark.parametrize(
    "change, field",
    [
        ({"template": None}, "template"),
        ({"template": {"variables": {}}}, "template"),
        ({"template": {"key": "order-confirmation", "id": "x", "variables": {}}}, "template"),
        ({"targets": []}, "targets"),
        ({"targets": "user-1"}, "targets"),
        ({"targets": [{"first_name": "No id"}]}, "targets.0"),
        ({"targets": [{"external_id": "u", "email": "not-an-email"}]}, "targets.0.email"),
        ({"title": 7}, "title"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_malformed_requests_are_err_bad_request_naming_the_field(
    client: FlaskClient, tenant: Tenant, template: dict, change: dict, field: str
):
    request = {**SEED_EXAMPLE, **change}
    request = {k: v for k, v in request.items() if v is not None}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert response.status_code == 400
    assert error_codes(response)[0] == "ERR_BAD_REQUEST"
    assert any(e.get("field", "").startswith(field) for e in response.get_json()["errors"])


def test_malformed_json_is_err_bad_request(client: FlaskClient, tenant: Tenant):
    response = client.post(URL, data="{", content_type="application/json", headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (400, ["ERR_BAD_REQUEST"])


@pytest.mark.parametrize("mode", [None, "later", 3])
def test_missing_or_unknown_mode_is_err_invalid_mode(
    client: FlaskClient, tenant: Tenant, template: dict, mode
):
    request = (
        {**SEED_EXAMPLE, "mode": mode}
        if mode is not None
        else {k: v for k, v in SEED_EXAMPLE.items() if k != "mode"}
    )

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (400, ["ERR_INVALID_MODE"])


def test_realtime_with_two_targets_is_err_target_limit_exceeded(
    client: FlaskClient, tenant: Tenant, template: dict
):
    request = {**SEED_EXAMPLE, "targets": ["a", "b"]}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (400, ["ERR_TARGET_LIMIT_EXCEEDED"])


def test_batch_over_10000_targets_is_refused(client: FlaskClient, tenant: Tenant, template: dict):
    request = {**SEED_EXAMPLE, "mode": "batch", "targets": [f"u{i}" for i in range(10_001)]}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (400, ["ERR_TARGET_LIMIT_EXCEEDED"])


def test_batch_of_exactly_10000_targets_is_accepted(
    client: FlaskClient, tenant: Tenant, template: dict
):
    request = {**SEED_EXAMPLE, "mode": "batch", "targets": [f"u{i}" for i in range(10_000)]}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, response.get_json()["targets"]) == (202, 10_000)


def test_target_limits_follow_the_app_settings(client: FlaskClient, tenant: Tenant, template: dict):
    client.patch("/api/apps/current", json={"batchTargetLimit": 2}, headers=tenant.headers())
    request = {**SEED_EXAMPLE, "mode": "batch", "targets": ["a", "b", "c"]}

    assert error_codes(client.post(URL, json=request, headers=tenant.headers())) == [
        "ERR_TARGET_LIMIT_EXCEEDED"
    ]


def test_unknown_template_is_err_template_not_found(client: FlaskClient, tenant: Tenant):
    request = {**SEED_EXAMPLE, "template": {"key": "nope", "variables": {}}}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (404, ["ERR_TEMPLATE_NOT_FOUND"])


def test_archived_template_is_err_template_not_found(
    client: FlaskClient, tenant: Tenant, template: dict
):
    client.delete("/api/templates/order-confirmation", headers=tenant.headers())

    response = client.post(URL, json=SEED_EXAMPLE, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (404, ["ERR_TEMPLATE_NOT_FOUND"])


def test_template_of_another_app_is_not_found(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant, template: dict
):
    response = client.post(URL, json=SEED_EXAMPLE, headers=other_tenant.headers())

    assert error_codes(response) == ["ERR_TEMPLATE_NOT_FOUND"]


def test_unapproved_template_is_err_template_not_approved(client: FlaskClient, tenant: Tenant):
    client.post(
        "/api/templates",
        json={
            "key": "draft-only",
            "name": "Draft",
            "channels": {"in_app": {"title": "Hi"}},
            "variableSchema": {"type": "object", "properties": {}},
        },
        headers=tenant.headers(),
    )
    request = {**SEED_EXAMPLE, "template": {"key": "draft-only", "variables": {}}}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (422, ["ERR_TEMPLATE_NOT_APPROVED"])


def test_missing_and_wrongly_typed_variables_are_each_named(
    client: FlaskClient, tenant: Tenant, template: dict
):
    request = {
        **SEED_EXAMPLE,
        "template": {"key": "order-confirmation", "variables": {"orderId": 12345}},
    }

    response = client.post(URL, json=request, headers=tenant.headers())

    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert {e["code"] for e in errors} == {"ERR_INVALID_VARIABLES"}
    assert {e["field"] for e in errors} == {
        "template.variables.customerName",
        "template.variables.orderId",
    }


def test_missing_variables_object_counts_as_empty(
    client: FlaskClient, tenant: Tenant, template: dict
):
    request = {**SEED_EXAMPLE, "template": {"key": "order-confirmation"}}

    assert (
        error_codes(client.post(URL, json=request, headers=tenant.headers()))[0]
        == "ERR_INVALID_VARIABLES"
    )


def test_a_refused_send_stores_nothing(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime
):
    client.post(URL, json={**SEED_EXAMPLE, "targets": ["a", "b"]}, headers=tenant.headers())

    with runtime.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 0


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

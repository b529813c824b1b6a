"""Preferences and topic unsubscriptions stop deliveries in a real batch through the worker."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.factories import ORDER_CHANNELS, ORDER_SCHEMA, Tenant, approved_template
from tests.support.pipeline import deliveries, finished
from tests.support.sinks import SmtpSink

SHIPPING = {**ORDER_CHANNELS, "in_app": {**ORDER_CHANNELS["in_app"], "topic": "shipping"}}


def send(client: FlaskClient, tenant: Tenant, key: str, count: int) -> str:
    request = {
        "template": {"key": key, "variables": {"customerName": "Jane", "orderId": "O-1"}},
        "targets": [{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(count)],
        "mode": "batch",
    }
    response = client.post("/api/notifications/send", json=request, headers=tenant.headers())
    assert response.status_code == 202, response.get_json()
    return response.get_json()["notificationId"]


def test_a_disabled_channel_is_skipped_as_preference(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    approved_template(client, tenant)
    preferences = {
        "notification_preferences": {
            "categories": [{"slug": "orders", "channels": [{"slug": "email", "enabled": False}]}]
        }
    }
    assert (
        client.put(
            "/notification_preferences", json=preferences, headers=tenant.user_headers("u1")
        ).status_code
        == 200
    )

    notification_id = send(client, tenant, "order-confirmation", 3)
    finished(client, tenant, notification_id)

    assert sorted(smtp_sink.recipients()) == ["u0@example.com", "u2@example.com"]
    skipped = deliveries(client, tenant, notification_id, "&status=skipped&channel=email")
    assert [(d["target"], d["reason"]) for d in skipped] == [("u1", "preference")]
    in_app = deliveries(client, tenant, notification_id, "&channel=in_app&status=sent")
    assert len(in_app) == 3


def test_a_critical_category_cannot_be_switched_off(client: FlaskClient, tenant: Tenant):
    client.patch(
        "/api/apps/current", json={"criticalCategories": ["orders"]}, headers=tenant.headers()
    )
    preferences = {
        "notification_preferences": {
            "categories": [{"slug": "orders", "channels": [{"slug": "email", "enabled": False}]}]
        }
    }

    response = client.put(
        "/notification_preferences", json=preferences, headers=tenant.user_headers("u1")
    )

    assert response.status_code == 422


def test_a_topic_unsubscription_stops_every_channel(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    approved_template(client, tenant, key="shipped", channels=SHIPPING, schema=ORDER_SCHEMA)
    unsubscribe = client.post(
        "/subscriptions/shipping/unsubscribe",
        json={"subscription": {"categories": []}},
        headers=tenant.user_headers("u2"),
    )
    assert unsubscribe.status_code == 200, unsubscribe.get_json()

    notification_id = send(client, tenant, "shipped", 3)
    finished(client, tenant, notification_id)

    assert "u2@example.com" not in smtp_sink.recipients()
    skipped = deliveries(client, tenant, notification_id, "&status=skipped")
    assert {(d["target"], d["reason"]) for d in skipped if d["target"] == "u2"} == {
        ("u2", "unsubscribed")
    }
    assert {d["channel"] for d in skipped if d["target"] == "u2"} == {"in_app", "email", "push"}


def test_user_notification_history_shows_each_channels_delivery(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    approved_template(client, tenant)
    notification_id = send(client, tenant, "order-confirmation", 2)
    finished(client, tenant, notification_id)

    body = client.get("/users/external_id:u1/notifications", headers=tenant.headers()).get_json()

    assert (body["total"], body["current_page"]) == (1, 1)
    [item] = body["notifications"]
    assert item["id"] == notification_id
    assert {d["channel"]: d["status"] for d in item["deliveries"]} == {
        "email": "sent",
        "in_app": "sent",
        "push": "skipped",
    }

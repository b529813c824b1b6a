"""The outbox: events written with the change they report, for the apps whose endpoints
subscribed to them, and for no other app."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.engine import states
from app.engine.models import Delivery
from app.engine.webhook_batches import BATCH_SIZE, form_messages
from app.runtime import Runtime
from app.suppressions.links import UnsubscribeLink
from app.suppressions.unsubscribe import unsubscribe
from app.users.service import find_or_create_user
from app.webhooks.models import WebhookMessage
from app.webhooks.outbox import Event
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import batch, cancel, fan_out_now
from tests.support.sinks import SmtpSink
from tests.support.webhooks import (
    TARGETS,
    TARGETS_EVENTS,
    create_webhook,
    outbox_rows,
    pending_events,
    refuse_cy,
)
from workers.actors import Actors

NOWHERE = "http://127.0.0.1:9/hooks"  # the events wait in the outbox: no worker runs here


@pytest.fixture(autouse=True)
def _thread_connections_closed(runtime: Runtime) -> Iterator[None]:
    """These tests send from their own thread, as a worker thread does; its SMTP connection is
    closed afterwards, as a worker's middleware closes its threads' connections."""
    yield
    runtime.senders.close_thread_connections()


def send_and_deliver(client: FlaskClient, runtime: Runtime, actors: Actors, tenant: Tenant) -> str:
    """A batch to TARGETS, fanned out and sent as a worker would; its notification id."""
    approved_template(client, tenant)
    notification_id = batch(client, tenant, TARGETS)["notificationId"]
    fan_out_now(runtime, actors, notification_id)
    with runtime.database.transaction() as session:
        emails = session.execute(
            select(Delivery.id, Delivery.app_id).where(
                Delivery.notification_id == notification_id,
                Delivery.channel == "email",
                Delivery.status == "queued",
            )
        ).all()
    for delivery_id, app_id in emails:
        actors.delivery.deliver_email(delivery_id, app_id=app_id)
    runtime.advancer.flush()
    return notification_id


def test_an_app_without_webhooks_writes_nothing_while_another_app_gets_every_outcome(
    client: FlaskClient,
    runtime: Runtime,
    actors: Actors,
    tenant: Tenant,
    other_tenant: Tenant,
    smtp_sink: SmtpSink,
):
    create_webhook(client, other_tenant, NOWHERE)
    refuse_cy(smtp_sink)

    send_and_deliver(client, runtime, actors, tenant)
    assert outbox_rows(runtime) == 0
    notification_id = send_and_deliver(client, runtime, actors, other_tenant)

    events = pending_events(runtime)
    assert {e["appId"] for e in events} == {other_tenant.app_id}
    kinds = Counter((e["type"], e["data"].get("channel")) for e in events)
    assert kinds == TARGETS_EVENTS
    [failed] = [e for e in events if e["type"] == "delivery.failed"]
    assert failed["data"]["recipient"] == {"externalId": "cy", "email": "cy@example.com"}
    assert (failed["data"]["notificationId"], failed["data"]["attempts"]) == (notification_id, 1)
    assert "550" in failed["data"]["reason"]
    [skipped_push] = [
        e
        for e in events
        if e["type"] == "delivery.skipped"
        and e["data"]["recipient"]["externalId"] == "bob"
        and e["data"]["channel"] == "push"
    ]
    assert skipped_push["data"]["recipient"] == {"externalId": "bob", "subscriptionIds": []}
    assert skipped_push["data"]["reason"] == "no_push_subscription"
    [completed] = [e for e in events if e["type"] == "notification.completed"]
    assert completed["data"]["status"] == "completed_with_errors"
    assert completed["data"]["progress"]["email"] == {
        "total": 3, "queued": 0, "retrying": 0, "sent": 1, "failed": 1, "skipped": 1,
        "cancelled": 0,
    }  # fmt: skip
    assert all(e["id"].startswith("evt_") and e["timestamp"].endswith("Z") for e in events)
    assert len({e["id"] for e in events}) == len(events)


def test_only_the_types_an_endpoint_subscribed_to_are_written(
    client: FlaskClient, runtime: Runtime, actors: Actors, tenant: Tenant, smtp_sink: SmtpSink
):
    create_webhook(client, tenant, NOWHERE, ["delivery.failed", "notification.completed"])
    refuse_cy(smtp_sink)

    send_and_deliver(client, runtime, actors, tenant)

    assert sorted(e["type"] for e in pending_events(runtime)) == [
        "delivery.failed",
        "notification.completed",
    ]


def test_a_transient_failure_is_told_as_retrying_then_sent(
    client: FlaskClient, runtime: Runtime, actors: Actors, tenant: Tenant, smtp_sink: SmtpSink
):
    create_webhook(client, tenant, NOWHERE, ["delivery.retrying", "delivery.sent"])
    smtp_sink.fail("ann@example.com", "451 4.7.1 Greylisted", times=1)
    send_and_deliver(client, runtime, actors, tenant)
    with runtime.database.transaction() as session:
        retrying = session.scalar(select(Delivery.id).where(Delivery.status == "retrying"))
    actors.delivery.deliver_email(retrying, app_id=tenant.app_id)

    ann = [e for e in pending_events(runtime) if e["data"]["recipient"]["externalId"] == "ann"]
    email = [(e["type"], e["data"]["attempts"]) for e in ann if e["data"]["channel"] == "email"]
    assert email == [("delivery.retrying", 1), ("delivery.sent", 2)]


def test_a_disabled_endpoint_gets_no_events(
    client: FlaskClient, runtime: Runtime, actors: Actors, tenant: Tenant, smtp_sink: SmtpSink
):
    created = create_webhook(client, tenant, NOWHERE)
    client.patch(
        f"/api/webhooks/{created['id']}", json={"enabled": False}, headers=tenant.headers()
    )

    send_and_deliver(client, runtime, actors, tenant)

    assert outbox_rows(runtime) == 0


def test_suppressions_and_unsubscribes_are_told_once_each(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    create_webhook(client, tenant, NOWHERE, ["suppression.added", "user.unsubscribed"])
    with runtime.database.transaction() as session:
        user = find_or_create_user(
            session=session, app_id=tenant.app_id, external_id="dee", email="dee@example.com"
        )
    for _ in range(2):  # the second time changes nothing, and tells nothing
        client.post(
            "/api/suppressions", json={"emails": ["eve@example.com"]}, headers=tenant.headers()
        )
        with runtime.database.transaction() as session:
            unsubscribe(session, UnsubscribeLink(tenant.app_id, user.id, "orders"))
        with runtime.database.transaction() as session:
            unsubscribe(session, UnsubscribeLink(tenant.app_id, user.id, None))

    told = [(e["type"], e["data"]) for e in pending_events(runtime)]
    dee = {"externalId": "dee", "email": "dee@example.com"}
    assert told == [
        ("suppression.added", {"email": "eve@example.com", "reason": "manual"}),
        ("user.unsubscribed", {"user": dee, "category": "orders", "allEmail": False}),
        ("suppression.added", {"email": "dee@example.com", "reason": "unsubscribed"}),
        ("user.unsubscribed", {"user": dee, "category": None, "allEmail": True}),
    ]


def test_a_cancelled_notification_is_told_with_its_progress(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    create_webhook(client, tenant, NOWHERE, ["notification.cancelled"])
    approved_template(client, tenant)
    notification_id = batch(client, tenant, TARGETS)["notificationId"]

    cancelled = cancel(client, tenant, notification_id)

    assert cancelled.status_code == 200
    [event] = pending_events(runtime)
    assert event["type"] == "notification.cancelled"
    assert event["data"]["notificationId"] == notification_id
    assert event["data"]["status"] == "cancelled"
    assert set(event["data"]["progress"]) == {"email", "push", "in_app"}


def test_an_outcome_recorded_too_late_is_not_told(
    client: FlaskClient, runtime: Runtime, actors: Actors, tenant: Tenant
):
    """A result carrying its event's fields is still told only if it moved its delivery: one
    taken back meanwhile (the reconciler requeued it) is not reported as sent."""
    create_webhook(client, tenant, NOWHERE, ["delivery.sent"])
    approved_template(client, tenant)
    notification_id = batch(client, tenant, TARGETS[:1])["notificationId"]
    fan_out_now(runtime, actors, notification_id)
    with runtime.database.transaction() as session:
        email_id = session.scalar(select(Delivery.id).where(Delivery.channel == "email"))
    claimed = runtime.deliveries.claim(email_id)
    assert claimed is not None and (claimed.external_id, claimed.email) == (
        "ann",
        "ann@example.com",
    )
    with runtime.database.transaction() as session:
        session.execute(update(Delivery).where(Delivery.id == email_id).values(status="queued"))
    reported = states.Reported(claimed.channel, claimed.attempts, "ann", "ann@example.com")
    result = states.Result(email_id, states.SENT, None, None, notification_id, app_id=tenant.app_id)

    runtime.deliveries.record(replace(result, reported=reported))
    assert email_events(runtime) == []

    claimed = runtime.deliveries.claim(email_id)
    assert claimed is not None
    reported = replace(reported, attempts=claimed.attempts)
    runtime.deliveries.record(replace(result, reported=reported))
    [sent] = email_events(runtime)
    assert sent["data"]["recipient"] == {"externalId": "ann", "email": "ann@example.com"}
    assert (sent["data"]["deliveryId"], sent["data"]["attempts"]) == (email_id, 2)


def email_events(runtime: Runtime) -> list[dict]:
    return [e for e in pending_events(runtime) if e["data"].get("channel") == "email"]


def test_delivery_events_are_sent_at_most_a_hundred_to_a_message(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    create_webhook(client, tenant, NOWHERE)
    delivered = [Event(tenant.app_id, "delivery.sent", {"i": i}) for i in range(250)]
    completed = Event(tenant.app_id, "notification.completed", {"i": 250})
    with runtime.database.connection_transaction() as connection:
        assert runtime.webhook_outbox.write(connection, [*delivered, completed]) == 251
    with runtime.database.connection_transaction() as connection:
        assert form_messages(connection) == 4

    with runtime.database.transaction() as session:
        messages = session.execute(select(WebhookMessage.event_count, WebhookMessage.body)).all()
    assert BATCH_SIZE == 100
    assert sorted(count for count, _ in messages) == [1, 50, 100, 100]
    documents = [json.loads(body) for _, body in messages]
    batched = [e["id"] for d in documents if d.get("type") == "batch" for e in d["events"]]
    assert sorted(batched) == sorted(e.id for e in delivered)
    assert [d["id"] for d in documents if d.get("type") != "batch"] == [completed.id]
    assert pending_events(runtime) == []

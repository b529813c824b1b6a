"""The batch pipeline end to end: real worker, real Redis broker, real SMTP and push endpoints."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from app.engine.models import Delivery
from app.orm import utcnow
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import (
    batch,
    cancel,
    deliveries,
    finished,
    people,
    realtime,
    status_of,
    subscribe,
)
from tests.support.sinks import PushService, SmtpSink
from workers.actors import Actors
from workers.reconciler import reconcile_once


@pytest.fixture(autouse=True)
def template(client: FlaskClient, tenant: Tenant) -> dict:
    """Every test sends the order template."""
    return approved_template(client, tenant)


@pytest.fixture
def small_chunks(runtime: Runtime):
    original = runtime.settings
    runtime.settings = replace(original, chunk_size=40)
    yield
    runtime.settings = original


def test_batch_across_chunks_reaches_every_recipient_exactly_once_per_channel(
    client: FlaskClient,
    tenant: Tenant,
    small_chunks,
    smtp_sink: SmtpSink,
    push_service: PushService,
    runtime: Runtime,
    worker,
):
    browsers = [subscribe(runtime, tenant, push_service, f"u{i}") for i in range(0, 150, 10)]

    sent = batch(client, tenant, people(150))
    done = finished(client, tenant, sent["notificationId"])

    assert sorted(smtp_sink.recipients()) == sorted(f"u{i}@example.com" for i in range(150))
    assert [len(b.received) for b in browsers] == [1] * len(browsers)
    assert browsers[0].received[0]["title"] == "Order ORD-1"
    progress = done["progress"]
    assert progress["email"] == {
        "total": 150,
        "queued": 0,
        "retrying": 0,
        "sent": 150,
        "failed": 0,
        "skipped": 0,
        "cancelled": 0,
    }
    assert (progress["push"]["sent"], progress["push"]["skipped"]) == (15, 135)
    assert progress["in_app"]["sent"] == 150
    assert done["status"] == "completed"


def test_email_is_multipart_text_and_html_with_the_notification_id(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    client.patch(
        "/api/apps/current",
        json={"senderEmail": "news@acme.test", "senderName": "Acme"},
        headers=tenant.headers(),
    )

    sent = batch(client, tenant, people(1))
    finished(client, tenant, sent["notificationId"])

    received = smtp_sink.received_by("u0@example.com")
    assert len(received) == 1, (
        deliveries(client, tenant, sent["notificationId"]),
        smtp_sink.recipients(),
    )
    [message] = received
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Acme <news@acme.test>"
    assert message["Subject"] == "Order ORD-1 confirmed"
    assert message["X-Herald-Notification-ID"] == sent["notificationId"]
    assert message["Message-ID"]
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<b>ORD-1</b>" in html and "order ORD-1 is confirmed" in text


def test_without_a_sender_setting_email_comes_from_default_sender(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    sent = batch(client, tenant, people(1))
    finished(client, tenant, sent["notificationId"])

    received = smtp_sink.received_by("u0@example.com")
    assert received, (
        [d for d in deliveries(client, tenant, sent["notificationId"]) if d["channel"] == "email"],
        smtp_sink.recipients(),
        smtp_sink.port,
    )
    assert received[0]["From"] == "Herald Test <herald@test.example>"


def test_transient_smtp_failures_are_retried_until_delivered(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    smtp_sink.fail("u1@example.com", "451 4.3.0 Try again later", times=2)

    sent = batch(client, tenant, people(3))
    finished(client, tenant, sent["notificationId"])

    assert len(smtp_sink.received_by("u1@example.com")) == 1
    retried = [
        d
        for d in deliveries(client, tenant, sent["notificationId"], "&channel=email")
        if d["target"] == "u1"
    ]
    assert (retried[0]["status"], retried[0]["attempts"]) == ("sent", 3)


def test_permanent_smtp_failure_is_recorded_and_not_retried(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    smtp_sink.fail("u1@example.com", "550 5.1.1 No such user", times=5)

    sent = batch(client, tenant, people(3))
    done = finished(client, tenant, sent["notificationId"])

    assert done["status"] == "completed_with_errors"
    [failed] = deliveries(client, tenant, sent["notificationId"], "&status=failed")
    assert (failed["target"], failed["attempts"]) == ("u1", 1)
    assert "550" in failed["reason"]
    assert sorted(smtp_sink.recipients()) == ["u0@example.com", "u2@example.com"]


def test_transient_failures_give_up_after_the_attempt_limit(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    runtime: Runtime,
    worker,
):
    smtp_sink.fail("u0@example.com", "421 4.7.0 Busy", times=50)

    sent = batch(client, tenant, people(1))
    finished(client, tenant, sent["notificationId"])

    [failed] = deliveries(client, tenant, sent["notificationId"], "&status=failed")
    assert failed["attempts"] == runtime.retry_policy.max_attempts
    assert failed["reason"].startswith("gave up after")


def test_push_410_discards_the_subscription_and_500_is_retried(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    push_service: PushService,
    runtime: Runtime,
    worker,
):
    gone = subscribe(runtime, tenant, push_service, "u0")
    flaky = subscribe(runtime, tenant, push_service, "u1")
    push_service.reply(gone, 410)
    push_service.reply(flaky, 500)

    sent = batch(client, tenant, people(2))
    finished(client, tenant, sent["notificationId"])

    push = {
        d["target"]: d for d in deliveries(client, tenant, sent["notificationId"], "&channel=push")
    }
    assert push["u0"]["status"] == "failed" and "gone" in push["u0"]["reason"]
    assert (push["u1"]["status"], push["u1"]["attempts"], len(flaky.received)) == ("sent", 2, 1)
    subscriptions = client.get("/push_subscriptions", headers=tenant.user_headers("u0")).get_json()
    assert all(s["discarded_at"] for s in subscriptions["push_subscriptions"])


def test_cancelling_before_dispatch_sends_nothing(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    request: pytest.FixtureRequest,
    actors: Actors,
):
    sent = batch(client, tenant, people(20))

    cancelled = cancel(client, tenant, sent["notificationId"])
    request.getfixturevalue("worker")
    actors.broker.join(actors.delivery.dispatch_notification.queue_name)

    assert (cancelled.status_code, cancelled.get_json()["status"]) == (200, "cancelled")
    assert smtp_sink.recipients() == []


def test_cancelling_mid_batch_cancels_the_unsent_deliveries(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    actors: Actors,
    request: pytest.FixtureRequest,
):
    sent = batch(client, tenant, people(20))
    _dispatched(actors, sent["notificationId"])

    cancel(client, tenant, sent["notificationId"])
    request.getfixturevalue("worker")
    actors.broker.join("default")

    body = status_of(client, tenant, sent["notificationId"])
    assert body["status"] == "cancelled"
    assert body["progress"]["email"]["cancelled"] == 20
    assert smtp_sink.recipients() == []


def test_reconciler_finishes_a_batch_whose_queued_messages_were_lost(
    client: FlaskClient,
    tenant: Tenant,
    small_chunks,
    smtp_sink: SmtpSink,
    runtime: Runtime,
    request: pytest.FixtureRequest,
    actors: Actors,
):
    sent = batch(client, tenant, people(120))
    _dispatched(actors, sent["notificationId"], chunks=1)
    actors.broker.flush_all()  # Redis lost every queued message: chunks and deliveries

    reconciled = reconcile_once(runtime, actors, stale_after=timedelta(0))
    request.getfixturevalue("worker")
    done = finished(client, tenant, sent["notificationId"])

    assert (reconciled.chunks, reconciled.deliveries) == (2, 40)
    assert sorted(smtp_sink.recipients()) == sorted(f"u{i}@example.com" for i in range(120))
    assert done["progress"]["email"]["sent"] == 120


def test_the_reconciler_leaves_work_waiting_behind_a_backlog_alone(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
):
    # The head of a backlog no worker has reached yet, then a batch whose chunk queues behind it.
    actors.delivery.process_chunk.send("an-older-chunk")
    sent = batch(client, tenant, people(3))
    actors.delivery.dispatch_notification(sent["notificationId"])

    behind_backlog = reconcile_once(runtime, actors, stale_after=timedelta(0))
    actors.broker.flush_all()  # then Redis loses the backlog, this batch's chunk with it
    after_loss = reconcile_once(runtime, actors, stale_after=timedelta(0))

    assert (behind_backlog.chunks, behind_backlog.deliveries) == (0, 0)
    assert after_loss.chunks == 1


def test_the_reconciler_resends_work_lost_long_before_the_oldest_waiting_message(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
):
    sent = batch(client, tenant, people(2))
    _dispatched(actors, sent["notificationId"])
    actors.broker.flush_all()  # its deliveries' messages are lost ...
    email = Delivery.notification_id == sent["notificationId"], Delivery.channel == "email"
    with runtime.database.transaction() as session:
        session.execute(
            update(Delivery).where(*email).values(updated_at=utcnow() - timedelta(minutes=10))
        )
    actors.delivery.process_chunk.send("a-newer-chunk")  # ... and a backlog has built up since

    reconciled = reconcile_once(runtime, actors, stale_after=timedelta(minutes=2))

    assert reconciled.deliveries == 2


def test_a_duplicated_delivery_message_never_sends_twice(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    runtime: Runtime,
    request: pytest.FixtureRequest,
    actors: Actors,
):
    sent = batch(client, tenant, people(5))
    _dispatched(actors, sent["notificationId"])
    reconcile_once(runtime, actors, stale_after=timedelta(0))  # every delivery now queued twice

    request.getfixturevalue("worker")
    finished(client, tenant, sent["notificationId"])
    actors.broker.join("default")

    assert sorted(smtp_sink.recipients()) == sorted(f"u{i}@example.com" for i in range(5))


def test_realtime_email_and_push_go_through_the_priority_queue(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    body = realtime(client, tenant, [{"external_id": "rt", "email": "rt@example.com"}])
    finished(client, tenant, body["notificationId"])

    assert smtp_sink.recipients() == ["rt@example.com"]


def _dispatched(actors: Actors, notification_id: str, chunks: int | None = None) -> None:
    """Dispatch the notification and process its chunk messages (or the first `chunks` of
    them) synchronously, as a worker would, leaving their sends queued."""
    actors.delivery.dispatch_notification(notification_id)
    queue = f"{actors.broker.namespace}:{actors.delivery.process_chunk.queue_name}"
    messages = actors.broker.client.hgetall(f"{queue}.msgs")
    from dramatiq import Message

    chunk_ids = [
        Message.decode(raw).args[0]
        for raw in messages.values()
        if Message.decode(raw).actor_name == "process_chunk"
    ]
    for chunk_id in chunk_ids[:chunks]:
        actors.delivery.process_chunk(chunk_id)


def test_non_ascii_subjects_are_encoded_and_read_back_intact(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    targets = [{"external_id": "z", "email": "z@example.com"}]
    sent = batch(client, tenant, targets, variables={"customerName": "Zoë", "orderId": "Ü-7"})
    finished(client, tenant, sent["notificationId"])

    [message] = smtp_sink.received_by("z@example.com")
    assert message["Subject"] == "Order Ü-7 confirmed"
    assert "Zoë" in message.get_body(("plain",)).get_content()


def test_dispatch_moves_the_targets_into_chunks(
    client: FlaskClient,
    tenant: Tenant,
    small_chunks,
    runtime: Runtime,
    actors: Actors,
):
    from sqlalchemy import select

    from app.engine.models import Notification, NotificationChunk

    sent = batch(client, tenant, people(90))
    actors.delivery.dispatch_notification(sent["notificationId"])

    with runtime.database.transaction() as session:
        notification = session.get(Notification, sent["notificationId"])
        chunks = session.scalars(
            select(NotificationChunk).where(NotificationChunk.notification_id == notification.id)
        ).all()
        stored_on_notification = list(notification.targets)
        in_chunks = sorted(t["external_id"] for c in chunks for t in c.targets)

    assert stored_on_notification == []
    assert in_chunks == sorted(f"u{i}" for i in range(90))
    assert len(chunks) == 3

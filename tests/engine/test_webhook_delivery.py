"""Webhook delivery end to end: a real worker on the real Redis broker sends signed messages to a
real loopback receiver; retries resend the same message; the database keeps what Redis loses."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, update

from app.composition import Process
from app.engine import webhook_sending
from app.orm import utcnow
from app.runtime import Runtime
from app.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookMessage
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import batch
from tests.support.sinks import SmtpSink
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhooks import TARGETS, TARGETS_EVENTS, create_webhook, refuse_cy
from workers.actors import Actors


def suppress(client: FlaskClient, tenant: Tenant, email: str) -> None:
    response = client.post("/api/suppressions", json={"emails": [email]}, headers=tenant.headers())
    assert response.status_code == 201


def test_a_batch_is_told_in_batches_signed_with_each_event_once(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    webhook_receiver: WebhookReceiver,
    worker,
):
    endpoint = create_webhook(client, tenant, webhook_receiver.url)
    refuse_cy(smtp_sink)
    approved_template(client, tenant)

    notification_id = batch(client, tenant, TARGETS)["notificationId"]
    webhook_receiver.wait_for(lambda r: len(r.unique_events()) == 11)

    requests = webhook_receiver.requests()
    for request in requests:
        request.verify(endpoint["secret"])
    kinds = Counter(
        (e["type"], e["data"].get("channel")) for e in webhook_receiver.unique_events().values()
    )
    assert kinds == TARGETS_EVENTS
    assert len(webhook_receiver.events()) == 11  # every receiver answered 200: nothing twice
    for request in requests:
        batched = request.document.get("type") == "batch"
        assert batched == all(e["type"].startswith("delivery.") for e in request.events)
    assert len({r.webhook_id for r in requests}) == len(requests) < 11
    [completed] = [e for e in webhook_receiver.events() if e["type"] == "notification.completed"]
    assert completed["data"]["notificationId"] == notification_id
    assert completed["data"]["status"] == "completed_with_errors"
    assert completed["data"]["progress"]["email"]["failed"] == 1
    assert completed["data"]["progress"]["in_app"]["sent"] == 3


def test_a_refused_message_is_sent_again_with_the_same_id_and_body(
    client: FlaskClient, tenant: Tenant, webhook_receiver: WebhookReceiver, worker
):
    endpoint = create_webhook(client, tenant, webhook_receiver.url, ["suppression.added"])
    webhook_receiver.answer(500)

    suppress(client, tenant, "ann@example.com")
    first, second = webhook_receiver.wait_for(lambda r: len(r.requests()) == 2 and r.requests())

    assert first.webhook_id == second.webhook_id
    assert first.body == second.body
    assert second.verify(endpoint["secret"])["data"] == {
        "email": "ann@example.com",
        "reason": "manual",
    }
    url = f"/api/webhooks/{endpoint['id']}/attempts"
    attempts = webhook_receiver.wait_for(
        lambda _: (
            len(body := client.get(url, headers=tenant.headers()).get_json()["attempts"]) == 2
            and body
        )
    )
    assert [(a["statusCode"], a["webhookId"]) for a in attempts] == [
        (200, first.webhook_id),
        (500, first.webhook_id),
    ]


def test_an_endpoint_failing_for_a_day_is_disabled_and_resumes_once_enabled(
    client: FlaskClient,
    runtime: Runtime,
    tenant: Tenant,
    webhook_receiver: WebhookReceiver,
    worker,
):
    endpoint = create_webhook(client, tenant, webhook_receiver.url, ["suppression.added"])
    with runtime.database.transaction() as session:  # its attempts have failed since yesterday
        session.execute(
            update(WebhookEndpoint).values(failing_since=utcnow() - timedelta(hours=25))
        )
    webhook_receiver.answer(503)
    url = f"/api/webhooks/{endpoint['id']}"

    suppress(client, tenant, "ann@example.com")
    disabled = webhook_receiver.wait_for(
        lambda _: (
            not (view := client.get(url, headers=tenant.headers()).get_json())["enabled"] and view
        )
    )
    enabled = client.patch(url, json={"enabled": True}, headers=tenant.headers()).get_json()
    refused, resent = webhook_receiver.wait_for(lambda r: len(r.requests()) == 2 and r.requests())

    assert disabled["disabledReason"].startswith("every attempt failed for 24 hours")
    assert "503" in disabled["disabledReason"]
    assert (enabled["enabled"], enabled["disabledReason"]) == (True, None)
    assert refused.webhook_id == resent.webhook_id
    assert resent.verify(endpoint["secret"])["data"]["email"] == "ann@example.com"


def test_pending_and_enqueued_messages_survive_redis_coming_back_empty(
    client: FlaskClient,
    runtime: Runtime,
    process: Process,
    actors: Actors,
    tenant: Tenant,
    webhook_receiver: WebhookReceiver,
    request: pytest.FixtureRequest,
):
    endpoint = create_webhook(client, tenant, webhook_receiver.url, ["suppression.added"])
    suppress(client, tenant, "ann@example.com")
    enqueued = actors.webhooks.pass_once()  # its message formed and its task enqueued
    suppress(client, tenant, "bob@example.com")  # still an event in the outbox

    process.broker.flush_all()  # Redis lost everything: the task is gone
    with runtime.database.transaction() as session:  # ... and its lease has run out
        session.execute(update(WebhookMessage).values(lease_until=utcnow() - timedelta(seconds=1)))
    request.getfixturevalue("worker")
    webhook_receiver.wait_for(lambda r: len(r.unique_events()) == 2)

    assert enqueued.formed == len(enqueued.due) == 1
    emails = [e["data"]["email"] for e in webhook_receiver.events()]
    assert sorted(emails) == ["ann@example.com", "bob@example.com"]
    for received in webhook_receiver.requests():
        received.verify(endpoint["secret"])


def test_an_endpoint_deleted_while_its_message_was_sent_takes_the_outcome_with_it(
    client: FlaskClient,
    runtime: Runtime,
    actors: Actors,
    tenant: Tenant,
    webhook_receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
):
    endpoint = create_webhook(client, tenant, webhook_receiver.url, ["suppression.added"])
    suppress(client, tenant, "ann@example.com")
    [message_id] = actors.webhooks.pass_once().due
    post = webhook_sending.post

    def post_then_delete(*args, **kwargs):
        result = post(*args, **kwargs)
        with runtime.database.transaction() as session:  # the app deletes it meanwhile
            session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint["id"]))
        return result

    monkeypatch.setattr(webhook_sending, "post", post_then_delete)
    result = webhook_sending.send_message(runtime, message_id=message_id)

    assert result is not None and result.delivered
    assert len(webhook_receiver.requests()) == 1
    with runtime.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(WebhookAttempt)) == 0
        assert session.get(WebhookMessage, message_id) is None

"""One log line per delivery outcome (sent, retry, gave up, failed, skipped): readable on its own,
and carrying the same facts as fields, which JSON logs show as keys."""

from __future__ import annotations

import logging
from collections.abc import Callable

import dramatiq
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.engine import pipeline
from app.engine.models import NotificationChunk
from app.runtime import Runtime
from tests.support.delivery_logs import delivery_lines
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import batch, finished
from tests.support.sinks import SmtpSink
from workers.actors import Actors

PEOPLE = [
    {"external_id": "u0", "email": "u0@example.com"},
    {"external_id": "u1", "email": "u1@example.com"},
    {"external_id": "u2"},
]
LoggedBatch = Callable[[list, int], tuple[str, list[logging.LogRecord]]]


@pytest.fixture
def logged_batch(
    client: FlaskClient, tenant: Tenant, caplog: pytest.LogCaptureFixture, worker: dramatiq.Worker
) -> LoggedBatch:
    """`logged_batch(targets, lines)`: a batch of the order template to `targets`, sent to the
    end while the delivery outcome lines are captured; its notification id and its `lines`
    lines."""
    approved_template(client, tenant)

    def send(targets: list, lines: int) -> tuple[str, list[logging.LogRecord]]:
        with caplog.at_level(logging.INFO, logger="herald.delivery"):
            notification_id = batch(client, tenant, targets)["notificationId"]
            finished(client, tenant, notification_id)
            return notification_id, delivery_lines(caplog, notification_id, count=lines)

    return send


def test_each_outcome_of_a_batch_is_one_line_naming_channel_recipient_and_notification(
    smtp_sink: SmtpSink, logged_batch: LoggedBatch
):
    smtp_sink.fail("u1@example.com", "550 5.1.1 No such user", times=5)

    notification_id, lines = logged_batch(PEOPLE, 9)

    outcomes = sorted((r.channel, r.event, getattr(r, "reason", None)) for r in lines)
    assert outcomes == [
        ("email", "failed", "smtp 550: 5.1.1 No such user"),
        ("email", "sent", None),
        ("email", "skipped", "no_email_address"),
        ("in_app", "sent", None),
        ("in_app", "sent", None),
        ("in_app", "sent", None),
        ("push", "skipped", "no_push_subscription"),
        ("push", "skipped", "no_push_subscription"),
        ("push", "skipped", "no_push_subscription"),
    ]
    [email_sent] = [r for r in lines if (r.channel, r.event) == ("email", "sent")]
    assert email_sent.getMessage() == (
        f"email to user {email_sent.user_id}: sent (notification {notification_id})"
    )
    [skipped] = [r for r in lines if (r.channel, r.event) == ("email", "skipped")]
    assert skipped.getMessage().endswith(
        f": skipped: no_email_address (notification {notification_id})"
    )


def test_a_transient_failure_logs_every_retry_with_its_reason_then_the_give_up(
    smtp_sink: SmtpSink, runtime: Runtime, logged_batch: LoggedBatch
):
    smtp_sink.fail("u0@example.com", "421 4.7.0 Busy", times=50)
    attempts = runtime.retry_policy.max_attempts

    notification_id, lines = logged_batch(PEOPLE[:1], attempts + 2)

    email = [r for r in lines if r.channel == "email"]
    assert [(r.event, r.attempt) for r in email] == [
        *(("retry", attempt) for attempt in range(1, attempts)),
        ("gave_up", attempts),
    ]
    first, gave_up = email[0], email[-1]
    assert (first.reason, first.max_attempts) == ("smtp 421: 4.7.0 Busy", attempts)
    assert first.retry_in_ms > 0
    assert first.getMessage().startswith(
        f"email to user {first.user_id}: attempt 1/{attempts} failed, retry in "
    )
    assert first.getMessage().endswith(f"s: smtp 421: 4.7.0 Busy (notification {notification_id})")
    assert gave_up.getMessage() == (
        f"email to user {gave_up.user_id}: gave up after {attempts} attempts: smtp 421: 4.7.0 Busy"
        f" (notification {notification_id})"
    )


def test_outcomes_decided_at_fan_out_are_told_once_committed_never_for_a_rolled_back_chunk(
    client: FlaskClient,
    tenant: Tenant,
    runtime: Runtime,
    actors: Actors,
    caplog: pytest.LogCaptureFixture,
):
    approved_template(client, tenant)
    notification_id = batch(client, tenant, PEOPLE[2:])["notificationId"]
    actors.delivery.dispatch_notification(notification_id)
    with runtime.database.transaction() as session:
        [chunk_id] = session.scalars(
            select(NotificationChunk.id).where(NotificationChunk.notification_id == notification_id)
        ).all()

    with caplog.at_level(logging.INFO, logger="herald.delivery"):
        with pytest.raises(RuntimeError), runtime.database.transaction() as session:
            pipeline.process_chunk(session, chunk_id=chunk_id, links=runtime.unsubscribe_links)
            raise RuntimeError("the chunk's transaction fails after its fan-out")
        told_before_commit = [r for r in caplog.records if r.name == "herald.delivery"]
        actors.delivery.process_chunk(chunk_id)

    assert told_before_commit == []
    lines = delivery_lines(caplog, notification_id, count=3)
    assert sorted((r.channel, r.event) for r in lines) == [
        ("email", "skipped"),
        ("in_app", "sent"),
        ("push", "skipped"),
    ]

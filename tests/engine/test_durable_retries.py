"""Retries over hours: each wait is stored with its delivery (`next_attempt_at`), short ones are
also delayed messages, and the reconciler enqueues the rest once due, whatever Redis lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.engine.models import Delivery
from app.engine.retry import RetryPolicy
from app.orm import utcnow
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import (
    batch,
    cancel,
    deliveries,
    fan_out_now,
    finished,
    people,
    status_of,
    subscribe,
)
from tests.support.sinks import PushService, SmtpSink
from workers.actors import Actors
from workers.reconciler import reconcile_once

HOUR_MS = 3_600_000
GREYLISTED = "451 4.7.1 Greylisted, please try again later"

UsePolicy = Callable[..., RetryPolicy]
GreylistedBatch = Callable[..., tuple[str, list[str]]]


@pytest.fixture(autouse=True)
def template(client: FlaskClient, tenant: Tenant) -> dict:
    """Every test sends the order template."""
    return approved_template(client, tenant)


@pytest.fixture(autouse=True)
def _thread_connections_closed(runtime: Runtime) -> Iterator[None]:
    """These tests send from their own thread, as a worker thread does; its SMTP connection is
    closed afterwards, as a worker's middleware closes its threads' connections."""
    yield
    runtime.senders.close_thread_connections()


@pytest.fixture
def use_policy(runtime: Runtime) -> Iterator[UsePolicy]:
    """Run this test's deliveries on another retry schedule (the session's waits 20 ms)."""
    original = runtime.retry_policy

    def use(*schedule_ms: int, broker_wait_limit_ms: int | None = None) -> RetryPolicy:
        runtime.retry_policy = RetryPolicy(schedule_ms, broker_wait_limit_ms=broker_wait_limit_ms)
        return runtime.retry_policy

    yield use
    runtime.retry_policy = original


@pytest.fixture
def greylisted_batch(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, runtime: Runtime, actors: Actors
) -> GreylistedBatch:
    """`greylisted_batch(size, greylisted=size)`: a batch to `size` people, the first
    `greylisted` of whom the relay defers, fanned out and each email attempted once as a worker
    would; the notification's id and its email deliveries'."""

    def send(size: int, greylisted: int | None = None) -> tuple[str, list[str]]:
        for i in range(size if greylisted is None else greylisted):
            smtp_sink.fail(f"u{i}@example.com", GREYLISTED)
        sent = batch(client, tenant, people(size))
        ids = list(fan_out_now(runtime, actors, sent["notificationId"]).values())
        for delivery_id in ids:
            actors.delivery.deliver_email(delivery_id)
        return sent["notificationId"], ids

    return send


def time_passes(runtime: Runtime, delivery_ids: list[str], by: timedelta) -> None:
    """What `by` of waiting looks like in the database: everything happened that much earlier."""
    with runtime.database.transaction() as session:
        for delivery in session.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids))):
            delivery.updated_at -= by
            if delivery.next_attempt_at is not None:
                delivery.next_attempt_at -= by


def by_target(client: FlaskClient, tenant: Tenant, notification_id: str) -> dict[str, dict]:
    return {d["target"]: d for d in deliveries(client, tenant, notification_id, "&channel=email")}


def delayed_messages(actors: Actors) -> int:
    """Delayed messages Redis holds for the default queue."""
    return actors.broker.client.hlen(f"{actors.broker.namespace}:default.DQ.msgs")


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def test_a_greylisting_relay_receives_every_email_after_retries(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, use_policy: UsePolicy, worker
):
    use_policy(*[150] * 6)
    smtp_sink.greylist(0.3)  # every address deferred for 0.3 s after its first attempt

    sent = batch(client, tenant, people(20))
    done = finished(client, tenant, sent["notificationId"])

    assert sorted(smtp_sink.recipients()) == sorted(f"u{i}@example.com" for i in range(20))
    assert done["status"] == "completed"
    assert (done["progress"]["email"]["sent"], done["progress"]["email"]["retrying"]) == (20, 0)
    for target, delivery in by_target(client, tenant, sent["notificationId"]).items():
        assert delivery["attempts"] == smtp_sink.attempts(f"{target}@example.com") >= 2
        assert (delivery["nextAttemptAt"], delivery["reason"]) == (None, None)


def test_a_delivery_waiting_to_retry_shows_its_attempts_next_attempt_and_reason(
    client: FlaskClient,
    tenant: Tenant,
    actors: Actors,
    use_policy: UsePolicy,
    greylisted_batch: GreylistedBatch,
):
    use_policy(HOUR_MS, broker_wait_limit_ms=30_000)

    failed_at = utcnow()
    notification_id, _ = greylisted_batch(2, greylisted=1)

    waiting = by_target(client, tenant, notification_id)["u0"]
    assert (waiting["status"], waiting["attempts"]) == ("retrying", 1)
    assert waiting["reason"] == "smtp 451: 4.7.1 Greylisted, please try again later"
    wait = parse(waiting["nextAttemptAt"]) - failed_at
    assert timedelta(minutes=47) < wait < timedelta(minutes=73)  # an hour, ± the jitter
    view = status_of(client, tenant, notification_id)
    assert view["status"] == "sending"
    assert view["progress"]["email"] == {
        "total": 2,
        "queued": 0,
        "retrying": 1,
        "sent": 1,
        "failed": 0,
        "skipped": 0,
        "cancelled": 0,
    }
    only_waiting = deliveries(client, tenant, notification_id, "&status=retrying")
    assert [d["target"] for d in only_waiting] == ["u0"]
    assert delayed_messages(actors) == 0  # an hour is the reconciler's to wait, not Redis's


def test_a_retry_is_not_sent_before_its_time_even_by_a_stray_message(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    actors: Actors,
    use_policy: UsePolicy,
    greylisted_batch: GreylistedBatch,
):
    use_policy(HOUR_MS, broker_wait_limit_ms=30_000)
    notification_id, [delivery_id] = greylisted_batch(1)

    actors.delivery.deliver_email(delivery_id)  # a duplicate of an earlier message, say

    assert smtp_sink.attempts("u0@example.com") == 1
    waiting = by_target(client, tenant, notification_id)["u0"]
    assert (waiting["status"], waiting["attempts"]) == ("retrying", 1)


def test_the_reconciler_enqueues_a_long_wait_once_due_and_never_takes_it_for_lost(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    runtime: Runtime,
    actors: Actors,
    use_policy: UsePolicy,
    greylisted_batch: GreylistedBatch,
    request: pytest.FixtureRequest,
):
    use_policy(4 * HOUR_MS, broker_wait_limit_ms=30_000)
    notification_id, [delivery_id] = greylisted_batch(1)
    actors.broker.flush_all()

    time_passes(runtime, [delivery_id], timedelta(hours=3))  # long past any staleness bound
    still_waiting = reconcile_once(runtime, actors)
    time_passes(runtime, [delivery_id], timedelta(hours=2))  # past its time, however jittered
    due = reconcile_once(runtime, actors)
    request.getfixturevalue("worker")
    finished(client, tenant, notification_id)

    assert (still_waiting.deliveries, still_waiting.due_retries) == (0, 0)
    assert (due.deliveries, due.due_retries) == (0, 1)
    delivered = by_target(client, tenant, notification_id)["u0"]
    assert (delivered["status"], delivered["attempts"], delivered["nextAttemptAt"]) == (
        "sent",
        2,
        None,
    )
    assert len(smtp_sink.received_by("u0@example.com")) == 1


@pytest.mark.parametrize(
    ("schedule_ms", "broker_wait_limit_ms", "waited"),
    [
        # A short wait, held as a delayed message too: Redis loses the message.
        (60_000, None, timedelta(minutes=4)),
        # A four-hour wait, held in the database only.
        (4 * HOUR_MS, 30_000, timedelta(hours=5)),
    ],
    ids=["delayed-message", "database-only"],
)
def test_redis_flushed_while_deliveries_wait_to_retry_loses_none(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    runtime: Runtime,
    actors: Actors,
    use_policy: UsePolicy,
    greylisted_batch: GreylistedBatch,
    request: pytest.FixtureRequest,
    schedule_ms: int,
    broker_wait_limit_ms: int | None,
    waited: timedelta,
):
    use_policy(schedule_ms, broker_wait_limit_ms=broker_wait_limit_ms)
    notification_id, ids = greylisted_batch(5)
    holding = delayed_messages(actors)

    actors.broker.flush_all()  # Redis restarted empty
    time_passes(runtime, ids, waited)
    reconciled = reconcile_once(runtime, actors)
    request.getfixturevalue("worker")
    done = finished(client, tenant, notification_id)

    assert holding == (5 if broker_wait_limit_ms is None else 0)
    assert reconciled.due_retries == 5
    assert done["progress"]["email"]["sent"] == 5
    assert sorted(smtp_sink.recipients()) == sorted(f"u{i}@example.com" for i in range(5))
    attempts = [d["attempts"] for d in by_target(client, tenant, notification_id).values()]
    assert attempts == [2] * 5


def test_retry_after_lengthens_a_wait_up_to_the_longest_of_the_schedule(
    client: FlaskClient,
    tenant: Tenant,
    push_service: PushService,
    runtime: Runtime,
    actors: Actors,
    use_policy: UsePolicy,
):
    use_policy(1_000, 600_000, broker_wait_limit_ms=30_000)
    throttled = subscribe(runtime, tenant, push_service, "u0")
    busy = subscribe(runtime, tenant, push_service, "u1")
    push_service.reply(throttled, 429, headers={"Retry-After": "120"})
    push_service.reply(busy, 503)
    sent = batch(client, tenant, people(2))
    fan_out_now(runtime, actors, sent["notificationId"])
    push = deliveries(client, tenant, sent["notificationId"], "&channel=push")

    failed_at = utcnow()
    for delivery in push:
        actors.delivery.deliver_push(delivery["id"])

    waits = {
        d["target"]: parse(d["nextAttemptAt"]) - failed_at
        for d in deliveries(client, tenant, sent["notificationId"], "&channel=push")
    }
    assert timedelta(seconds=119) < waits["u0"] < timedelta(seconds=121)
    assert waits["u1"] < timedelta(seconds=2)  # the schedule's first wait, a second
    assert delayed_messages(actors) == 1  # the second's wait is short enough for the broker


def test_cancelling_cancels_deliveries_waiting_to_retry(
    client: FlaskClient, tenant: Tenant, use_policy: UsePolicy, greylisted_batch: GreylistedBatch
):
    use_policy(HOUR_MS, broker_wait_limit_ms=30_000)
    notification_id, _ = greylisted_batch(1)

    cancelled = cancel(client, tenant, notification_id).get_json()

    assert cancelled["status"] == "cancelled"
    assert cancelled["progress"]["email"]["cancelled"] == 1
    delivery = by_target(client, tenant, notification_id)["u0"]
    assert (delivery["status"], delivery["nextAttemptAt"]) == ("cancelled", None)

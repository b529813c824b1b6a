"""Fair shares between apps: a batch's chunks are released in step with its app's sends, so
another app's batch never waits behind more than a window of them (`app.engine.pacing`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from dramatiq import Message
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.engine.models import NotificationChunk
from app.engine.pacing import window_for
from app.orm import utcnow
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import batch, cancel, finished, people
from tests.support.rates import positions
from tests.support.sinks import SmtpSink
from workers.actors import Actors
from workers.reconciler import reconcile_once

CHUNK_SIZE = 10  # a window of 40 deliveries: two chunks of email + push


@pytest.fixture(autouse=True)
def small_chunks(runtime: Runtime):
    """Every test's batches are cut in chunks of CHUNK_SIZE."""
    original = runtime.settings
    runtime.settings = replace(original, chunk_size=CHUNK_SIZE)
    yield
    runtime.settings = original


@pytest.fixture(autouse=True)
def templates(client: FlaskClient, tenant: Tenant, other_tenant: Tenant) -> None:
    """Both apps send the order template."""
    approved_template(client, tenant)
    approved_template(client, other_tenant)


def queued(actors: Actors, queue: str) -> list[Message]:
    """The messages waiting in a queue (or, for `X.DQ`, delayed), oldest first."""
    raw = actors.broker.client.hvals(f"{actors.broker.namespace}:{queue}.msgs")
    return sorted((Message.decode(r) for r in raw), key=lambda m: m.message_timestamp)


def released(actors: Actors) -> set[str]:
    """The chunks whose task waits in the pipeline's queue."""
    pipeline = actors.delivery.process_chunk.queue_name
    return {m.args[0] for m in queued(actors, pipeline) if m.actor_name == "process_chunk"}


def run_released_chunks(actors: Actors) -> None:
    for chunk_id in released(actors):
        actors.delivery.process_chunk(chunk_id)
    actors.broker.flush(actors.delivery.process_chunk.queue_name)


def fill_window(actors: Actors, notification_id: str) -> None:
    """Feeder passes, each followed by its chunks' fan-out, until a pass releases nothing."""
    released_through = -1
    while True:
        actors.delivery.dispatch_notification(notification_id, released_through=released_through)
        if not released(actors):
            return
        feeder = queued(actors, f"{actors.delivery.dispatch_notification.queue_name}.DQ")[-1]
        released_through = feeder.kwargs["released_through"]
        run_released_chunks(actors)


def dispatched_once(
    client: FlaskClient, tenant: Tenant, actors: Actors, count: int
) -> tuple[str, Message]:
    """A batch to `count` people, dispatched once: its notification id and the feeder's next
    pass, waiting as a delayed message."""
    sent = batch(client, tenant, people(count))
    actors.delivery.dispatch_notification(sent["notificationId"])
    [feeder] = queued(actors, f"{actors.delivery.dispatch_notification.queue_name}.DQ")
    return sent["notificationId"], feeder


def chunks_of(runtime: Runtime, notification_id: str) -> list[NotificationChunk]:
    with runtime.database.transaction() as session:
        query = select(NotificationChunk).where(
            NotificationChunk.notification_id == notification_id
        )
        return list(session.scalars(query.order_by(NotificationChunk.position)))


def test_a_batch_releases_a_window_of_chunks_and_feeds_the_rest_later(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
):
    sent = batch(client, tenant, people(100))

    actors.delivery.dispatch_notification(sent["notificationId"])
    first_pass = released(actors)
    [feeder] = queued(actors, f"{actors.delivery.dispatch_notification.queue_name}.DQ")
    run_released_chunks(actors)  # 20 emails now queued (these people have no push)
    actors.delivery.dispatch_notification(*feeder.args, **feeder.kwargs)

    chunks = chunks_of(runtime, sent["notificationId"])
    assert window_for(CHUNK_SIZE) == 40
    assert first_pass == {c.id for c in chunks[:2]}  # counted as email + push: 20 each
    assert feeder.kwargs == {"released_through": 1}
    assert released(actors) == {chunks[2].id}  # 20 of 40 left


def test_another_apps_batch_is_released_while_the_first_app_is_at_its_window(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant, runtime: Runtime, actors: Actors
):
    first = batch(client, tenant, people(200))
    fill_window(actors, first["notificationId"])  # 40 emails queued
    second = batch(client, other_tenant, people(20, "b"))
    again = batch(client, tenant, people(30, "c"))

    actors.delivery.dispatch_notification(second["notificationId"])
    actors.delivery.dispatch_notification(again["notificationId"])

    others = {c.id for c in chunks_of(runtime, second["notificationId"])}
    assert released(actors) == others  # the first app's second batch waits for its window


def test_waiting_chunks_are_kept_fresh_and_a_lost_feeder_is_restarted_not_bypassed(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
):
    notification_id, feeder = dispatched_once(client, tenant, actors, 100)
    run_released_chunks(actors)
    _chunks_updated_an_hour_ago(runtime, notification_id)

    actors.delivery.dispatch_notification(*feeder.args, **feeder.kwargs)  # a pass that waits
    run_released_chunks(actors)
    fed = reconcile_once(runtime, actors, stale_after=timedelta(minutes=2))
    actors.broker.flush_all()  # the feeder's next pass is lost with Redis
    _chunks_updated_an_hour_ago(runtime, notification_id)
    lost = reconcile_once(runtime, actors, stale_after=timedelta(minutes=2))

    assert fed.chunks == 0
    assert lost.chunks == 7  # those the feeder had not released
    waiting = queued(actors, actors.delivery.dispatch_notification.queue_name)
    assert [(m.actor_name, m.args) for m in waiting] == [
        ("dispatch_notification", (notification_id,))
    ]


def test_cancelling_a_batch_retires_the_chunks_its_feeder_had_not_released(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
):
    notification_id, feeder = dispatched_once(client, tenant, actors, 100)
    actors.broker.flush(actors.delivery.dispatch_notification.queue_name)
    assert cancel(client, tenant, notification_id).status_code == 200

    actors.delivery.dispatch_notification(*feeder.args, **feeder.kwargs)
    _chunks_updated_an_hour_ago(runtime, notification_id)
    reconciled = reconcile_once(runtime, actors, stale_after=timedelta(minutes=2))

    assert {c.status for c in chunks_of(runtime, notification_id)} == {"done"}
    assert queued(actors, f"{actors.delivery.dispatch_notification.queue_name}.DQ") == []
    assert reconciled.chunks == 0


def test_two_apps_concurrent_batches_interleave_at_the_sink(
    client: FlaskClient,
    tenant: Tenant,
    other_tenant: Tenant,
    smtp_sink: SmtpSink,
    worker,
):
    first = batch(client, tenant, people(200, "a"))
    second = batch(client, other_tenant, people(20, "b"))
    done = [
        finished(client, tenant, first["notificationId"]),
        finished(client, other_tenant, second["notificationId"]),
    ]

    first_at = positions(smtp_sink, [f"a{i}@example.com" for i in range(200)])
    second_at = positions(smtp_sink, [f"b{i}@example.com" for i in range(20)])
    assert [d["progress"]["email"]["sent"] for d in done] == [200, 20]
    assert (len(first_at), len(second_at)) == (200, 20)
    assert min(second_at) < max(first_at)
    assert max(second_at) < max(first_at)  # the second did not wait for the first to drain


def _chunks_updated_an_hour_ago(runtime: Runtime, notification_id: str) -> None:
    with runtime.database.transaction() as session:
        session.execute(
            update(NotificationChunk)
            .where(NotificationChunk.notification_id == notification_id)
            .values(updated_at=utcnow() - timedelta(hours=1))
        )

"""What the scrape reads from Redis for each queue: how many messages wait, and how long the
oldest has been due, since it was enqueued, or since its time came for a delayed one. Without
Redis a scrape leaves them out and still serves the rest."""

from __future__ import annotations

import logging

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.devprocesses import free_port
from app.runtime import Runtime
from workers.actors import Actors
from workers.backlog import BacklogCollector, QueueBacklog, queue_backlogs


def waiting(actors: Actors, queue: str, **options: int) -> dramatiq.Message:
    message = dramatiq.Message(
        queue_name=queue, actor_name="nothing", args=(), kwargs={}, options=options
    )
    return actors.broker.enqueue(message)


def test_each_queue_tells_its_length_and_how_long_its_head_has_been_due(actors: Actors):
    broker = actors.broker
    broker.flush_all()
    first = waiting(actors, "imports")
    waiting(actors, "imports")
    # A delayed message, moved to its queue when due: it waits from its time, not its birth.
    delayed = waiting(actors, "webhooks", eta=first.message_timestamp + 1_000)

    backlogs = queue_backlogs(broker, now_ms=first.message_timestamp + 2_500)

    assert delayed.options["eta"] > delayed.message_timestamp
    by_queue = {backlog.queue: backlog for backlog in backlogs}
    assert set(by_queue) == broker.get_declared_queues()
    assert by_queue["imports"] == QueueBacklog("imports", 2, 2.5)
    assert by_queue["webhooks"] == QueueBacklog("webhooks", 1, 1.5)
    empty = [b for b in backlogs if b.queue not in ("imports", "webhooks")]
    assert {(b.messages, b.oldest_age_s) for b in empty} == {(0, 0.0)}
    broker.flush_all()


def test_a_head_not_yet_due_has_waited_nothing(actors: Actors):
    broker = actors.broker
    broker.flush_all()
    early = waiting(actors, "imports", eta=10**13)

    [imports] = [b for b in queue_backlogs(broker) if b.queue == "imports"]

    assert early.message_timestamp < 10**13
    assert imports == QueueBacklog("imports", 1, 0.0)
    broker.flush_all()


def test_a_scrape_without_redis_leaves_the_queues_out_with_a_warning_and_reads_the_rest(
    actors: Actors, runtime: Runtime, caplog: pytest.LogCaptureFixture
):
    unreachable = RedisBroker(namespace=actors.broker.namespace)
    unreachable.client = Redis(
        port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    unreachable.queues = actors.broker.get_declared_queues()

    with caplog.at_level(logging.WARNING, logger="workers.backlog"):
        families = list(BacklogCollector(unreachable, runtime.database).collect())

    assert [(family.name, family.samples[0].value) for family in families] == [
        ("herald_deliveries_retrying", 0)
    ]
    assert "queue metrics not read: Redis unreachable (ConnectionError)" in caplog.messages

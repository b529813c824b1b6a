"""What waits, read when Prometheus scrapes the web process (`GET /internal/metrics`): the
messages in each Dramatiq queue and how long the oldest has waited, and the deliveries waiting to
retry. Each is the same whichever process reads it, so only the web process does, at scrape time:
two Redis round trips and one indexed count, nothing on the delivery path."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import DecodeError
from redis import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from app.db import Database
from app.engine import states
from app.engine.models import Delivery

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueBacklog:
    queue: str
    messages: int
    # How long the message at the head has been due (0 for an empty queue).
    oldest_age_s: float


def queue_backlogs(broker: RedisBroker, *, now_ms: float | None = None) -> list[QueueBacklog]:
    """Each declared queue's length and the age of its head, the oldest message (queues are
    first in, first out): since it was enqueued, or since it came due for a delayed one."""
    queues = sorted(broker.get_declared_queues())
    heads = broker.client.pipeline(transaction=False)
    for queue in queues:
        heads.llen(f"{broker.namespace}:{queue}")
        heads.lindex(f"{broker.namespace}:{queue}", 0)
    replies = heads.execute()
    lengths, head_ids = replies[0::2], replies[1::2]
    bodies = broker.client.pipeline(transaction=False)
    for queue, message_id in zip(queues, head_ids, strict=True):
        bodies.hget(f"{broker.namespace}:{queue}.msgs", message_id or "")
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    return [
        QueueBacklog(queue, int(length), _age_s(body, now_ms))
        for queue, length, body in zip(queues, lengths, bodies.execute(), strict=True)
    ]


def _age_s(body: bytes | None, now_ms: float) -> float:
    try:
        message = Message.decode(body)  # type: ignore[arg-type]
    except DecodeError:  # taken meanwhile (None), or unreadable: it tells nothing
        return 0.0
    due_ms = max(message.message_timestamp, message.options.get("eta", 0))
    return max(now_ms - due_ms, 0.0) / 1000


def deliveries_retrying(database: Database) -> int:
    """Deliveries waiting for their next attempt (an index range count)."""
    with database.engine.connect() as connection:
        query = select(func.count()).select_from(Delivery).where(Delivery.status == states.RETRYING)
        return int(connection.scalar(query) or 0)


class BacklogCollector:
    """A prometheus-client collector of the queues and the retry backlog, read at each scrape.
    What cannot be read (Redis or the database away) is left out of that scrape, logged."""

    def __init__(self, broker: RedisBroker, database: Database) -> None:
        self.broker = broker
        self.database = database

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        try:
            backlogs = queue_backlogs(self.broker)
        except RedisError as exc:
            log.warning("queue metrics not read: Redis unreachable (%s)", type(exc).__name__)
        else:
            messages = GaugeMetricFamily(
                "herald_queue_messages", "Messages waiting in each queue.", labels=["queue"]
            )
            oldest = GaugeMetricFamily(
                "herald_queue_oldest_message_age_seconds",
                "How long the oldest message of each queue has waited (0 when empty).",
                labels=["queue"],
            )
            for backlog in backlogs:
                messages.add_metric([backlog.queue], backlog.messages)
                oldest.add_metric([backlog.queue], backlog.oldest_age_s)
            yield from (messages, oldest)
        try:
            retrying = deliveries_retrying(self.database)
        except DBAPIError as exc:
            log.warning("retry backlog not read: database unreachable (%s)", type(exc).__name__)
        else:
            yield GaugeMetricFamily(
                "herald_deliveries_retrying", "Deliveries waiting to retry.", value=retrying
            )

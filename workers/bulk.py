"""Enqueue many Dramatiq messages in one Redis round trip.

`RedisBroker.enqueue` makes one round trip per message; a chunk of 250 recipients queues 500
delivery messages, so we run the broker's own dispatch script for each message in one pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import uuid4

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis


def enqueue_many(broker: RedisBroker, messages: Sequence[Message]) -> None:
    """Enqueue every message (with broker middleware hooks), pipelined."""
    if not messages:
        return
    dispatch = broker.scripts["dispatch"]
    pipeline = broker.client.pipeline(transaction=False)
    prepared = []
    for message in messages:
        message = message.copy(options={"redis_message_id": str(uuid4())})
        broker.emit_before("enqueue", message, None)
        args = [
            "enqueue",
            current_millis(),
            message.queue_name,
            broker.broker_id,
            broker.heartbeat_timeout,
            broker.dead_message_ttl,
            0,  # no maintenance from the pipeline; consumers do it
            broker._max_unpack_size(),
            message.options["redis_message_id"],
            message.encode(),
        ]
        dispatch(args=args, keys=[broker.namespace], client=pipeline)
        prepared.append(message)
    pipeline.execute()
    for message in prepared:
        broker.emit_after("enqueue", message, None)

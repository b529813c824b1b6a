"""Handing committed work to the broker, from the web process and from actors.

The database is the source of truth and the broker only carries work: once a send is committed
it has been accepted, whatever happens to its message. When Redis cannot take the message, the
caller still answers its normal success and the reconciler (`workers.reconciler`) enqueues the
work from the database later. A client told "retry later" would send twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from redis import RedisError

from workers.bulk import enqueue_many

log = logging.getLogger(__name__)


def hand_off(broker: RedisBroker, messages: Sequence[Message]) -> bool:
    """Enqueue committed work; False (logged) when Redis is unreachable, which loses nothing."""
    try:
        enqueue_many(broker, messages)
    except RedisError as exc:
        log.warning(
            "%d message(s) not enqueued (Redis unreachable: %s); the reconciler will send them",
            len(messages),
            type(exc).__name__,
        )
        return False
    return True

"""Every actor of the workers, declared on one broker and run against one runtime.

The composition root (`app.composition`) builds one `Actors` per process: a worker process runs
them, the web process and the reconciler build their messages and hand them off with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from workers.delivery import DeliveryActors
from workers.handoff import hand_off
from workers.imports import declare_import_users
from workers.webhooks import WebhookActors

if TYPE_CHECKING:
    from app.runtime import Runtime


class Actors:
    def __init__(self, broker: RedisBroker, runtime: Runtime) -> None:
        self.broker = broker
        self.delivery = DeliveryActors(broker, runtime)
        self.import_users = declare_import_users(broker, runtime)
        self.webhooks = WebhookActors(broker, runtime)

    def hand_off(self, messages: Sequence[Message]) -> bool:
        """Enqueue committed work; False when Redis is unreachable (see `workers.handoff`)."""
        return hand_off(self.broker, messages)

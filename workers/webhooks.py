"""Webhook messages: the actor that sends one, and the pass every worker process runs about
once a second to form messages from the outbox and enqueue the due ones
(`app.engine.webhook_batches`, docs/webhooks.md).

Nothing here depends on Redis keeping a message: a task lost with Redis leaves its message
due in the database, and a later pass enqueues it again once its lease is over.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from app.engine.webhook_batches import Pass, purge_old, run_pass
from app.engine.webhook_sending import send_message
from workers.handoff import hand_off
from workers.periodic import PeriodicPass

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger(__name__)

# Webhook sends have a queue of their own: a batch's thousands of email and push tasks must not
# hold back the events that tell of them.
WEBHOOKS_QUEUE = "webhooks"
PURGE_EVERY_S = 600.0


class WebhookActors:
    """`send_webhook`, declared on `broker` and running against `runtime`."""

    def __init__(self, broker: RedisBroker, runtime: Runtime) -> None:
        self.broker = broker
        self.runtime = runtime
        # An attempt's failure is recorded and retried by the database's schedule, never by
        # Dramatiq's retries; those would only resend a message another pass enqueues anyway.
        self.send_webhook = dramatiq.actor(
            self._send_webhook,
            broker=broker,
            actor_name="send_webhook",
            queue_name=WEBHOOKS_QUEUE,
            max_retries=0,
            time_limit=60_000,
        )

    def _send_webhook(self, message_id: str) -> None:
        """Send one due webhook message (a no-op when it is not due, or was sent)."""
        send_message(self.runtime, message_id=message_id)

    def pass_once(self) -> Pass:
        """Form messages and claim the due ones in one transaction, then enqueue those."""
        with self.runtime.database.connection_transaction() as connection:
            done = run_pass(connection)
        hand_off(self.broker, [self.send_webhook.message(i) for i in done.due])
        return done


class WebhookPass(PeriodicPass):
    """Runs `WebhookActors.pass_once` every WEBHOOK_PASS_INTERVAL_S in each worker process (0
    disables), and forgets week-old messages and attempts every ten minutes."""

    name = "webhooks"

    def __init__(self, actors: WebhookActors) -> None:
        super().__init__()
        self.actors = actors
        self._purged_at = time.monotonic()

    def interval_s(self) -> float:
        return self.actors.runtime.settings.webhook_pass_interval_s

    def run_once(self) -> None:
        self.actors.pass_once()
        if time.monotonic() - self._purged_at >= PURGE_EVERY_S:
            self._purged_at = time.monotonic()
            with self.actors.runtime.database.connection_transaction() as connection:
                purge_old(connection)

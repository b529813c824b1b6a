"""The delivery pipeline's actors: dispatch → chunk → one email / push task per recipient.

Actors take ids, open their own transactions, and enqueue only after committing. Each is safe
to run twice: chunks and deliveries are claimed with conditional updates before any work.
They are declared on the broker and run against the runtime they are given (see
`app.composition`); the web process uses the same object to enqueue them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import dramatiq
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from redis import RedisError

from app.engine import pipeline
from app.engine.fanout import FanOut
from app.engine.retry import TASK_RETRIES
from app.engine.sending import Outcome, send_email_delivery, send_push_delivery
from app.realtime.frames import NOTIFICATION_NEW
from app.realtime.publisher import publish_events
from app.runtime import Runtime
from workers.handoff import hand_off

log = logging.getLogger(__name__)

REALTIME_QUEUE = "realtime"
DELIVERY_TIME_LIMIT_MS = 120_000

IdActor = dramatiq.Actor[[str], None]

_PIPELINE_OPTIONS: dict[str, Any] = {"max_retries": TASK_RETRIES, "time_limit": 300_000}
# Delivery retries wait in the database (`next_attempt_at`, see `app.engine.retry`), short ones
# also as a delayed message (`_schedule_retry`); Dramatiq's own retries only cover unexpected
# errors such as a database outage.
_DELIVERY_OPTIONS: dict[str, Any] = {
    "max_retries": TASK_RETRIES,
    "time_limit": DELIVERY_TIME_LIMIT_MS,
}
_REALTIME_OPTIONS: dict[str, Any] = {"queue_name": REALTIME_QUEUE, "priority": 0}


class DeliveryActors:
    """The pipeline's actors, declared on `broker` and running against `runtime`."""

    def __init__(self, broker: RedisBroker, runtime: Runtime) -> None:
        self.broker = broker
        self.runtime = runtime

        def declare(fn: Callable[[str], None], name: str, **options: Any) -> IdActor:
            return dramatiq.actor(fn, broker=broker, actor_name=name, **options)

        self.dispatch_notification = declare(
            self._dispatch_notification, "dispatch_notification", **_PIPELINE_OPTIONS
        )
        self.process_chunk = declare(self._process_chunk, "process_chunk", **_PIPELINE_OPTIONS)
        self.deliver_email = declare(self._send_email, "deliver_email", **_DELIVERY_OPTIONS)
        self.deliver_push = declare(self._send_push, "deliver_push", **_DELIVERY_OPTIONS)
        self.deliver_email_now = declare(
            self._send_email, "deliver_email_now", **_REALTIME_OPTIONS, **_DELIVERY_OPTIONS
        )
        self.deliver_push_now = declare(
            self._send_push, "deliver_push_now", **_REALTIME_OPTIONS, **_DELIVERY_OPTIONS
        )

    def after_fan_out(self, app_id: str, fanned: FanOut, *, realtime: bool) -> None:
        """After commit: push inbox rows to connected sockets and enqueue email and push tasks.

        Neither may fail the caller: the rows are committed (see `workers.handoff`).
        """
        publish_events(
            self.runtime,
            app_id=app_id,
            events=[(user_id, NOTIFICATION_NEW, view) for user_id, view in fanned.inbox_events],
        )
        hand_off(
            self.broker,
            self.delivery_messages(
                fanned.email_delivery_ids, fanned.push_delivery_ids, realtime=realtime
            ),
        )

    def delivery_messages(
        self, email_ids: Sequence[str], push_ids: Sequence[str], *, realtime: bool = False
    ) -> list[Message]:
        """One email or push task per delivery; realtime ones on the priority queue."""
        email_actor = self.deliver_email_now if realtime else self.deliver_email
        push_actor = self.deliver_push_now if realtime else self.deliver_push
        messages: list[Message] = [email_actor.message(i) for i in email_ids]
        return messages + [push_actor.message(i) for i in push_ids]

    def _dispatch_notification(self, notification_id: str) -> None:
        """Split a batch's targets into chunks and enqueue one chunk task each, pipelined."""
        with self.runtime.database.transaction() as session:
            chunk_ids = pipeline.split_into_chunks(
                session,
                notification_id=notification_id,
                chunk_size=self.runtime.settings.chunk_size,
            )
        hand_off(self.broker, [self.process_chunk.message(chunk_id) for chunk_id in chunk_ids])
        if not chunk_ids:  # no targets left to split (an empty broadcast): nothing else moves it on
            self.runtime.advancer.note([notification_id])

    def _process_chunk(self, chunk_id: str) -> None:
        """Render and record one chunk's deliveries, publish its inbox rows, enqueue its sends."""
        with self.runtime.database.transaction() as session:
            processed = pipeline.process_chunk(
                session, chunk_id=chunk_id, links=self.runtime.unsubscribe_links
            )
        if processed is not None:
            notification, fanned = processed
            self.after_fan_out(notification.app_id, fanned, realtime=False)
            self.runtime.advancer.note([notification.id])

    def _send_email(self, delivery_id: str) -> None:
        """Send one email delivery; a transient failure schedules its next attempt."""
        outcome = send_email_delivery(self.runtime, delivery_id=delivery_id)
        self._schedule_retry(self.deliver_email, delivery_id, outcome)

    def _send_push(self, delivery_id: str) -> None:
        """Send one Web Push delivery; a transient failure schedules its next attempt."""
        outcome = send_push_delivery(self.runtime, delivery_id=delivery_id)
        self._schedule_retry(self.deliver_push, delivery_id, outcome)

    @staticmethod
    def _schedule_retry(actor: IdActor, delivery_id: str, outcome: Outcome) -> None:
        """A delivery waiting for its next attempt: a short wait is also a delayed message; a
        long one, or a message Redis cannot take, is left to the reconciler, which enqueues it
        from the database once due."""
        wait = outcome.next_attempt
        if wait is None or not wait.through_broker:
            return
        try:
            actor.send_with_options(args=(delivery_id,), delay=wait.wait_ms)
        except RedisError as exc:
            log.warning("delivery %s: retry left to the reconciler (%r)", delivery_id, exc)

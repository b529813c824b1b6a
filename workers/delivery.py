"""The delivery pipeline's actors: dispatch → chunk → one email / push task per recipient.

Actors take ids, open their own transactions, and enqueue only after committing. Each is safe
to run twice: chunks and deliveries are claimed with conditional updates before any work.
They are declared on the broker and run against the runtime they are given (see
`app.composition`); the web process uses the same object to enqueue them.

Dispatch and chunk tasks have a queue of their own (`PIPELINE_QUEUE`): a batch's dispatch task
is also its feeder, which releases its chunks at its app's pace (`app.engine.pacing`), and it
must not wait behind the sends it released. Email tasks name their app, and ask the sending
rates (`app.engine.throttle`) before claiming: one held back comes back as a delayed message
when its turn comes (on `TURNS_QUEUE` for a batch email, so that it is not late for it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from redis import RedisError

from app.engine import pacing, pipeline
from app.engine.retry import TASK_RETRIES
from app.engine.sending import Outcome, email_turn, send_email_delivery, send_push_delivery
from app.engine.throttle import Decision, Lane
from app.realtime.frames import NOTIFICATION_NEW
from app.realtime.publisher import publish_events
from workers.handoff import hand_off

if TYPE_CHECKING:
    from app.engine.fanout import FanOut
    from app.runtime import Runtime

log = logging.getLogger(__name__)

REALTIME_QUEUE = "realtime"
PIPELINE_QUEUE = "pipeline"
# Batch emails coming back for their turn under a sending rate: a queue of their own, so that a
# turn is not missed behind the fresh tasks of a chunk just released.
TURNS_QUEUE = "email_turns"
DELIVERY_TIME_LIMIT_MS = 120_000

Task = dramatiq.Actor[..., None]
# An email delivery to send, with its app (whose sending rate applies).
QueuedEmail = tuple[str, str]

_PIPELINE_OPTIONS: dict[str, Any] = {
    "max_retries": TASK_RETRIES,
    "time_limit": 300_000,
    "queue_name": PIPELINE_QUEUE,
}
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

        def declare(fn: Callable[..., None], name: str, **options: Any) -> Task:
            return dramatiq.actor(fn, broker=broker, actor_name=name, **options)

        self.dispatch_notification = declare(
            self._dispatch_notification, "dispatch_notification", **_PIPELINE_OPTIONS
        )
        self.process_chunk = declare(self._process_chunk, "process_chunk", **_PIPELINE_OPTIONS)
        self.deliver_email = declare(self._send_email, "deliver_email", **_DELIVERY_OPTIONS)
        self.deliver_email_turn = declare(
            self._send_email, "deliver_email_turn", queue_name=TURNS_QUEUE, **_DELIVERY_OPTIONS
        )
        self.deliver_push = declare(self._send_push, "deliver_push", **_DELIVERY_OPTIONS)
        self.deliver_email_now = declare(
            self._send_email_now, "deliver_email_now", **_REALTIME_OPTIONS, **_DELIVERY_OPTIONS
        )
        self.deliver_push_now = declare(
            self._send_push, "deliver_push_now", **_REALTIME_OPTIONS, **_DELIVERY_OPTIONS
        )

    def after_fan_out(self, app_id: str, fanned: FanOut, *, realtime: bool) -> None:
        """After commit: log and count the outcomes fan-out decided, push inbox rows to
        connected sockets and enqueue email and push tasks.

        None may fail the caller: the rows are committed (see `workers.handoff`).
        """
        fanned.report_outcomes()
        publish_events(
            self.runtime,
            app_id=app_id,
            events=[(user_id, NOTIFICATION_NEW, view) for user_id, view in fanned.inbox_events],
        )
        emails = [(delivery_id, app_id) for delivery_id in fanned.email_delivery_ids]
        hand_off(
            self.broker,
            self.delivery_messages(emails, fanned.push_delivery_ids, realtime=realtime),
        )

    def delivery_messages(
        self, emails: Sequence[QueuedEmail], push_ids: Sequence[str], *, realtime: bool = False
    ) -> list[Message]:
        """One email or push task per delivery; realtime ones on the priority queue."""
        email_actor = self.deliver_email_now if realtime else self.deliver_email
        push_actor = self.deliver_push_now if realtime else self.deliver_push
        messages: list[Message] = [
            email_actor.message_with_options(args=(i,), kwargs={"app_id": app_id})
            for i, app_id in emails
        ]
        return messages + [push_actor.message(i) for i in push_ids]

    def _dispatch_notification(self, notification_id: str, released_through: int = -1) -> None:
        """Split a batch's targets into chunks, then release them at its app's pace: this task
        comes back every FEED_INTERVAL_MS until it has released every chunk."""
        settings = self.runtime.settings
        with self.runtime.database.transaction() as session:
            release = pacing.release_chunks(
                session,
                notification_id=notification_id,
                chunk_size=settings.chunk_size,
                released_through=released_through,
                keep_alive=timedelta(seconds=settings.reconcile_stale_after_s / 4),
            )
        hand_off(self.broker, [self.process_chunk.message(i) for i in release.chunk_ids])
        if release.waiting:
            self._feed_later(notification_id, release.released_through)
        if not release.has_chunks:  # none to split (an empty broadcast): nothing else moves it on
            self.runtime.advancer.note([notification_id])

    def _feed_later(self, notification_id: str, released_through: int) -> None:
        """Should Redis not take it, the chunks left go stale and the reconciler restarts this."""
        try:
            self.dispatch_notification.send_with_options(
                args=(notification_id,),
                kwargs={"released_through": released_through},
                delay=pacing.FEED_INTERVAL_MS,
            )
        except RedisError as exc:
            log.warning("notification %s: feeder left to the reconciler (%r)", notification_id, exc)

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

    def _send_email(self, delivery_id: str, app_id: str | None = None, turns: int = 0) -> None:
        """Send one email delivery once the sending rates allow; a transient failure schedules
        its next attempt."""
        self._send_email_in(Lane.BATCH, self.deliver_email_turn, delivery_id, app_id, turns)

    def _send_email_now(self, delivery_id: str, app_id: str | None = None, turns: int = 0) -> None:
        """Send one realtime email delivery, ahead of batch sends within the sending rates."""
        self._send_email_in(Lane.REALTIME, self.deliver_email_now, delivery_id, app_id, turns)

    def _send_email_in(
        self, lane: Lane, actor: Task, delivery_id: str, app_id: str | None, turns: int
    ) -> None:
        turn = email_turn(
            self.runtime, delivery_id=delivery_id, app_id=app_id, lane=lane, turns=turns
        )
        if not turn.granted:
            self._defer(actor, delivery_id, app_id, turn)
            return
        outcome = send_email_delivery(self.runtime, delivery_id=delivery_id)
        self._schedule_retry(self.deliver_email, delivery_id, outcome, {"app_id": app_id})

    def _send_push(self, delivery_id: str) -> None:
        """Send one Web Push delivery; a transient failure schedules its next attempt."""
        outcome = send_push_delivery(self.runtime, delivery_id=delivery_id)
        self._schedule_retry(self.deliver_push, delivery_id, outcome, {})

    @staticmethod
    def _defer(actor: Task, delivery_id: str, app_id: str | None, turn: Decision) -> None:
        """Held back by a sending rate: the delivery stays queued (no attempt counted), and its
        task comes back when its turn comes, as a delayed message: no worker thread waits.
        Should Redis not take it, the reconciler enqueues the delivery again later."""
        try:
            actor.send_with_options(
                args=(delivery_id,),
                kwargs={"app_id": app_id, "turns": turn.turns},
                delay=turn.wait_ms,
            )
        except RedisError as exc:
            log.warning("delivery %s: deferred send left to the reconciler (%r)", delivery_id, exc)

    @staticmethod
    def _schedule_retry(
        actor: Task, delivery_id: str, outcome: Outcome, kwargs: dict[str, Any]
    ) -> None:
        """A delivery waiting for its next attempt: a short wait is also a delayed message; a
        long one, or a message Redis cannot take, is left to the reconciler, which enqueues it
        from the database once due."""
        wait = outcome.next_attempt
        if wait is None or not wait.through_broker:
            return
        try:
            actor.send_with_options(args=(delivery_id,), kwargs=kwargs, delay=wait.wait_ms)
        except RedisError as exc:
            log.warning("delivery %s: retry left to the reconciler (%r)", delivery_id, exc)

"""The delivery pipeline's actors: dispatch → chunk → one email / push task per recipient.

Actors take ids, open their own transactions, and enqueue only after committing. Each is safe
to run twice: chunks and deliveries are claimed with conditional updates before any work.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import dramatiq
from dramatiq import Message

from app.engine import pipeline
from app.engine.fanout import FanOut
from app.engine.retry import TASK_RETRIES
from app.engine.sending import Outcome, send_email_delivery, send_push_delivery
from app.realtime.frames import NOTIFICATION_NEW
from app.realtime.publisher import publish_events
from workers.handoff import hand_off
from workers.runtime import get_runtime

log = logging.getLogger(__name__)

REALTIME_QUEUE = "realtime"
DELIVERY_TIME_LIMIT_MS = 120_000


@dramatiq.actor(max_retries=TASK_RETRIES, time_limit=300_000)
def dispatch_notification(notification_id: str) -> None:
    """Split a batch's targets into chunks and enqueue one chunk task each, pipelined."""
    runtime = get_runtime()
    with runtime.database.transaction() as session:
        chunk_ids = pipeline.split_into_chunks(
            session, notification_id=notification_id, chunk_size=runtime.settings.chunk_size
        )
    hand_off([process_chunk.message(chunk_id) for chunk_id in chunk_ids])
    if not chunk_ids:  # no targets left to split (an empty broadcast): nothing else moves it on
        runtime.advancer.note([notification_id])


@dramatiq.actor(max_retries=TASK_RETRIES, time_limit=300_000)
def process_chunk(chunk_id: str) -> None:
    """Render and record one chunk's deliveries, publish its inbox rows, enqueue its sends."""
    runtime = get_runtime()
    with runtime.database.transaction() as session:
        processed = pipeline.process_chunk(session, chunk_id=chunk_id)
    if processed is not None:
        notification, fanned = processed
        after_fan_out(notification.app_id, fanned, realtime=False)
        runtime.advancer.note([notification.id])


def after_fan_out(app_id: str, fanned: FanOut, *, realtime: bool) -> None:
    """After commit: push inbox rows to connected sockets and enqueue email and push tasks.

    Neither may fail the caller: the rows are committed (see `workers.handoff`).
    """
    publish_events(
        get_runtime(),
        app_id=app_id,
        events=[(user_id, NOTIFICATION_NEW, view) for user_id, view in fanned.inbox_events],
    )
    hand_off(
        delivery_messages(fanned.email_delivery_ids, fanned.push_delivery_ids, realtime=realtime)
    )


def delivery_messages(
    email_ids: Sequence[str], push_ids: Sequence[str], *, realtime: bool = False
) -> list[Message]:
    email_actor = deliver_email_now if realtime else deliver_email
    push_actor = deliver_push_now if realtime else deliver_push
    messages: list[Message] = [email_actor.message(i) for i in email_ids]
    return messages + [push_actor.message(i) for i in push_ids]


def _send_email(delivery_id: str) -> None:
    outcome = send_email_delivery(get_runtime(), delivery_id=delivery_id)
    _schedule_retry(deliver_email, delivery_id, outcome)


def _send_push(delivery_id: str) -> None:
    outcome = send_push_delivery(get_runtime(), delivery_id=delivery_id)
    _schedule_retry(deliver_push, delivery_id, outcome)


def _schedule_retry(actor: dramatiq.Actor, delivery_id: str, outcome: Outcome) -> None:
    """A transient failure put the delivery back to queued: schedule its next attempt."""
    if outcome.retry_in_ms is None:
        return
    actor.send_with_options(args=(delivery_id,), delay=outcome.retry_in_ms)
    log.info("delivery %s: retry in %d ms", delivery_id, outcome.retry_in_ms)


# Delivery retries are scheduled by `_schedule_retry` (the database counts attempts); Dramatiq's own
# retries only cover unexpected errors such as a database outage.
_delivery_options = {"max_retries": TASK_RETRIES, "time_limit": DELIVERY_TIME_LIMIT_MS}
deliver_email = dramatiq.actor(_send_email, actor_name="deliver_email", **_delivery_options)
deliver_push = dramatiq.actor(_send_push, actor_name="deliver_push", **_delivery_options)
deliver_email_now = dramatiq.actor(
    _send_email,
    actor_name="deliver_email_now",
    queue_name=REALTIME_QUEUE,
    priority=0,
    **_delivery_options,
)
deliver_push_now = dramatiq.actor(
    _send_push,
    actor_name="deliver_push_now",
    queue_name=REALTIME_QUEUE,
    priority=0,
    **_delivery_options,
)

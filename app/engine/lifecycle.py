"""The notification's stored status, one state machine:

    scheduled ──due──► queued ──► dispatching ──► sending ──► completed | completed_with_errors
      │  └───due (realtime, direct)─────────────────► │
      │                  │             │              │
      └──────────────────┴─────────────┴──────────────┴──► cancelled

Batches start `queued` (their targets not yet split into chunks); realtime and direct sends
start `sending`, fanned out in the request. A send given a time to start (`send_at`) starts
`scheduled` instead, and waits in the database until it is due; then `claim_due_batches` moves
batches to `queued` and `claim_due` realtime and direct sends to `sending` (the worker fans them
out in the same transaction), each a conditional update that exactly one caller wins
(`workers.scheduler`). `reschedule` changes `send_at` only while the send is `scheduled`.
`advance` moves a notification on once nothing is left at its stage: no chunk still queued,
then no delivery still queued, sending or retrying.

Concurrent transactions each finishing the last pieces of one notification cannot see each
other's work, so each would find the other's piece unfinished and leave the status behind.
`advance` therefore runs after the finishing change has committed, in its own statement (the
process's `Advancer` runs it for chunks and outcomes): the change committed last then sees
every other one. The reconciler runs it too, for a process that
died between the two.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, exists, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.db import update_first
from app.engine import webhook_events
from app.engine.models import (
    ChunkStatus,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationChunk,
    NotificationStatus,
)
from app.engine.states import PENDING
from app.orm import utcnow
from app.webhooks.outbox import WebhookOutbox, outbox_of

FINAL = frozenset(
    {
        NotificationStatus.COMPLETED,
        NotificationStatus.COMPLETED_WITH_ERRORS,
        NotificationStatus.CANCELLED,
    }
)
# Listed in full so that the (notification_id, channel, status) index answers with a few probes.
_CHANNELS = ("email", "push", "in_app")

_chunks = NotificationChunk.__table__
_deliveries = Delivery.__table__
_notifications = Notification.__table__


def _has_delivery(statuses: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return exists(
        select(1).where(
            _deliveries.c.notification_id == _notifications.c.id,
            _deliveries.c.channel.in_(_CHANNELS),
            _deliveries.c.status.in_(statuses),
        )
    )


_ALL_CHUNKS_TAKEN = update(_notifications).where(
    _notifications.c.status == NotificationStatus.DISPATCHING,
    ~exists(
        select(1).where(
            and_(
                _chunks.c.notification_id == _notifications.c.id,
                _chunks.c.status == ChunkStatus.QUEUED,
            )
        )
    ),
)
_ALL_DELIVERIES_DONE = update(_notifications).where(
    _notifications.c.status == NotificationStatus.SENDING, ~_has_delivery(PENDING)
)
_FINAL_STATUS = case(
    (_has_delivery((DeliveryStatus.FAILED,)), NotificationStatus.COMPLETED_WITH_ERRORS.value),
    else_=NotificationStatus.COMPLETED.value,
)


def advance(
    connection: Connection,
    notification_ids: Collection[str],
    *,
    outbox: WebhookOutbox | None = None,
) -> None:
    """Move these notifications as far on as their chunks and deliveries allow.

    Call it after committing whatever may have finished them (see the module's docstring).
    Every statement is conditional: running it twice, or concurrently, is harmless. With an
    outbox, the `notification.completed` events of those it completes are written on the same
    connection: give it a transaction, so that they commit with the status.
    """
    ids = sorted(set(notification_ids))
    if not ids:
        return
    now = utcnow()
    connection.execute(
        _ALL_CHUNKS_TAKEN.where(_notifications.c.id.in_(ids)).values(
            status=NotificationStatus.SENDING.value, updated_at=now
        )
    )
    completed = connection.execute(
        _ALL_DELIVERIES_DONE.where(_notifications.c.id.in_(ids))
        .values(status=_FINAL_STATUS, updated_at=now)
        .returning(
            _notifications.c.id,
            _notifications.c.app_id,
            _notifications.c.status,
            _notifications.c.channels,
        )
    ).all()
    if outbox is not None and completed:
        webhook_events.notifications_finished(connection, outbox, completed)


def advance_fanned_out(session: Session, notification: Notification) -> None:
    """Complete a notification fanned out in this transaction if nothing is left to send
    (every recipient skipped, or in-app only). No one else has seen it yet: no race here."""
    session.flush()
    advance(session.connection(), [notification.id], outbox=outbox_of(session))
    session.expire(notification, ["status", "updated_at"])


def due(now: datetime) -> ColumnElement[bool]:
    """Scheduled sends whose `send_at` is `now` or before."""
    return and_(
        _notifications.c.status == NotificationStatus.SCHEDULED, _notifications.c.send_at <= now
    )


def claim_due_batches(connection: Connection, *, now: datetime, limit: int) -> list[str]:
    """scheduled ──due──► queued for up to `limit` batches whose `send_at` is `now` or before;
    the ids this call moved, which no concurrent call also moves."""
    due_batch = and_(due(now), _notifications.c.mode == "batch")
    claimed = connection.execute(
        update_first(_notifications, due_batch, order_by=_notifications.c.send_at, limit=limit)
        .values(status=NotificationStatus.QUEUED.value, updated_at=utcnow())
        .returning(_notifications.c.id)
    )
    return list(claimed.scalars())


def claim_due(connection: Connection, notification_id: str, *, now: datetime) -> bool:
    """scheduled ──due──► sending for a realtime or direct send, which its claimant fans out in
    the same transaction; True for the one caller that moved it."""
    claimed = connection.execute(
        update(_notifications)
        .where(_notifications.c.id == notification_id, due(now))
        .values(status=NotificationStatus.SENDING.value, updated_at=utcnow())
    )
    return claimed.rowcount == 1


def reschedule(connection: Connection, notification_id: str, *, send_at: datetime) -> bool:
    """A new `send_at` for a send still `scheduled`; False once it has started or was
    cancelled."""
    moved = connection.execute(
        update(_notifications)
        .where(
            _notifications.c.id == notification_id,
            _notifications.c.status == NotificationStatus.SCHEDULED,
        )
        .values(send_at=send_at, updated_at=utcnow())
    )
    return moved.rowcount == 1

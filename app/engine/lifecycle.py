"""The notification's stored status, one state machine:

    queued ──► dispatching ──► sending ──► completed | completed_with_errors
      │             │             │
      └─────────────┴─────────────┴──► cancelled

Batches start `queued` (their targets not yet split into chunks); realtime and direct sends
start `sending`, fanned out in the request. `advance` moves a notification on once nothing is
left at its stage: no chunk still queued, then no delivery still queued, sending or
retrying.

Concurrent transactions each finishing the last pieces of one notification cannot see each
other's work, so each would find the other's piece unfinished and leave the status behind.
`advance` therefore runs after the finishing change has committed, in its own statement (the
process's `Advancer` runs it for chunks and outcomes): the change committed last then sees
every other one. The reconciler runs it too, for a process that
died between the two.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import and_, case, exists, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

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


def advance(connection: Connection, notification_ids: Collection[str]) -> None:
    """Move these notifications as far on as their chunks and deliveries allow.

    Call it after committing whatever may have finished them (see the module's docstring).
    Every statement is conditional: running it twice, or concurrently, is harmless.
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
    connection.execute(
        _ALL_DELIVERIES_DONE.where(_notifications.c.id.in_(ids)).values(
            status=_FINAL_STATUS, updated_at=now
        )
    )


def advance_fanned_out(session: Session, notification: Notification) -> None:
    """Complete a notification fanned out in this transaction if nothing is left to send
    (every recipient skipped, or in-app only). No one else has seen it yet: no race here."""
    session.flush()
    advance(session.connection(), [notification.id])
    session.expire(notification, ["status", "updated_at"])

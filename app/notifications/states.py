"""The one delivery state machine. Every status change goes through `transition`.

    queued ──claim──► sending ──► sent
      │  ▲               │ ├────► failed      (permanent, or attempts used up)
      │  └──retry────────┘ └────► queued      (transient: retried with backoff)
      ├──► cancelled     (the notification was cancelled before it was sent)
    skipped              (recorded at creation: unreachable, or a preference said no)

Each transition is one conditional UPDATE (`... WHERE status IN (from)`), so two workers, a
duplicated message and the reconciler can race freely: exactly one of them wins.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.notifications.models import Delivery
from app.orm import utcnow

QUEUED, SENDING, SENT, FAILED, SKIPPED, CANCELLED = (
    "queued",
    "sending",
    "sent",
    "failed",
    "skipped",
    "cancelled",
)
STATUSES = (QUEUED, SENDING, SENT, FAILED, SKIPPED, CANCELLED)
FINAL = frozenset({SENT, FAILED, SKIPPED, CANCELLED})

ALLOWED = {
    QUEUED: frozenset({SENDING, CANCELLED}),
    SENDING: frozenset({SENT, FAILED, QUEUED}),
}


class IllegalTransition(ValueError):
    pass


def transition(
    session: Session,
    *,
    delivery_ids: Collection[str],
    from_status: str,
    to_status: str,
    **values: Any,
) -> int:
    """Move the given deliveries from one status to another; returns how many moved."""
    if to_status not in ALLOWED.get(from_status, frozenset()):
        raise IllegalTransition(f"{from_status} -> {to_status}")
    if not delivery_ids:
        return 0
    result = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(list(delivery_ids)), Delivery.status == from_status)
        .values(status=to_status, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def claim(session: Session, *, delivery_id: str) -> Delivery | None:
    """Take a queued delivery for sending (counting the attempt), or None if someone else has.

    One `UPDATE ... RETURNING`: the claim and the read of what to send are a single statement.
    """
    return session.scalar(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == QUEUED)
        .values(status=SENDING, updated_at=utcnow(), attempts=Delivery.attempts + 1)
        .returning(Delivery)
        .execution_options(populate_existing=True)
    )


def mark_sent(session: Session, *, delivery: Delivery, **values: Any) -> None:
    transition(
        session,
        delivery_ids=[delivery.id],
        from_status=SENDING,
        to_status=SENT,
        sent_at=utcnow(),
        reason=None,
        **values,
    )


def mark_failed(session: Session, *, delivery: Delivery, reason: str, **values: Any) -> None:
    transition(
        session,
        delivery_ids=[delivery.id],
        from_status=SENDING,
        to_status=FAILED,
        reason=reason,
        **values,
    )


def release_for_retry(session: Session, *, delivery: Delivery, reason: str, **values: Any) -> None:
    """Back to queued after a transient failure; the caller schedules the next attempt."""
    transition(
        session,
        delivery_ids=[delivery.id],
        from_status=SENDING,
        to_status=QUEUED,
        reason=reason,
        **values,
    )


def cancel_queued(session: Session, *, notification_id: str) -> int:
    """Cancel every delivery of a notification that has not started sending."""
    ids = session.scalars(
        select(Delivery.id).where(
            Delivery.notification_id == notification_id, Delivery.status == QUEUED
        )
    ).all()
    return transition(
        session, delivery_ids=ids, from_status=QUEUED, to_status=CANCELLED, reason="cancelled"
    )


def stale_deliveries(session: Session, *, older_than: timedelta, limit: int) -> list[Delivery]:
    """Deliveries queued or sending with no progress for a while: their message was lost."""
    cutoff: datetime = utcnow() - older_than
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.status.in_((QUEUED, SENDING)), Delivery.updated_at < cutoff)
            .order_by(Delivery.updated_at)
            .limit(limit)
        )
    )

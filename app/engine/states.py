"""The one delivery state machine: every status change is a function here, checked against
`ALLOWED`. `transition` serves the rare changes (cancelling); `claim_many` and `record_many` are
the workers' hot path, prebuilt statements that `app.engine.ledger` batches.

    queued ──claim──► sending ──► sent
      │  ▲               │ ├────► failed      (permanent, or attempts used up)
      │  └──retry────────┘ └────► queued      (transient: retried with backoff)
      ├──► cancelled     (the notification was cancelled before it was sent)
    skipped              (recorded at creation: unreachable, or a preference said no)

Each transition is one conditional UPDATE (`... WHERE status IN (from)`), so two workers, a
duplicated message and the reconciler can race freely: exactly one of them wins.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select, true, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.engine.models import Delivery, DeliveryStatus
from app.orm import utcnow

QUEUED, SENDING, SENT = DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT
FAILED, SKIPPED, CANCELLED = DeliveryStatus.FAILED, DeliveryStatus.SKIPPED, DeliveryStatus.CANCELLED
STATUSES = tuple(DeliveryStatus)

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


_table = Delivery.__table__
# Prebuilt Core statements for the worker's hot path: compiled once, no ORM bookkeeping per row.
_CLAIM_MANY = (
    update(_table)
    .where(_table.c.id.in_(bindparam("ids", expanding=True)), _table.c.status == QUEUED)
    .values(status=SENDING, updated_at=bindparam("now"), attempts=_table.c.attempts + 1)
    .returning(
        _table.c.id,
        _table.c.app_id,
        _table.c.notification_id,
        _table.c.user_id,
        _table.c.channel,
        _table.c.attempts,
        _table.c.payload,
    )
)
_RECORD = (
    update(_table)
    .where(_table.c.id == bindparam("delivery_id"), _table.c.status == SENDING)
    .values(
        status=bindparam("to_status"),
        reason=bindparam("reason"),
        sent_at=bindparam("sent_at"),
        updated_at=bindparam("now"),
    )
)
_RECORD_WITH_PAYLOAD = _RECORD.values(payload=bindparam("new_payload"))


def claim_many(connection: Connection, *, delivery_ids: Collection[str]) -> list[Row]:
    """Take every queued delivery among these for sending, counting the attempt, in one statement.

    Returns the rows actually claimed (id, app_id, notification_id, user_id, channel, attempts,
    payload); ids missing from the result were claimed by someone else or are no longer queued.
    """
    if not delivery_ids:
        return []
    return list(connection.execute(_CLAIM_MANY, {"ids": list(delivery_ids), "now": utcnow()}))


@dataclass(frozen=True)
class Result:
    """What happened to one claimed (`sending`) delivery; `payload` replaces the stored one.

    `notification_id`, when given, lets the ledger move the notification on after a final
    outcome (`app.engine.lifecycle`).
    """

    delivery_id: str
    status: str
    reason: str | None = None
    payload: dict[str, Any] | None = None
    notification_id: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in (SENT, FAILED)


def check_outcome(result: Result) -> None:
    if result.status not in ALLOWED[SENDING]:
        raise IllegalTransition(f"{SENDING} -> {result.status}")


def record_many(connection: Connection, results: Sequence[Result]) -> None:
    """Move claimed deliveries to their outcome: sent, failed, or back to queued for a retry."""
    for result in results:
        check_outcome(result)
    now = utcnow()
    keeping_payload, replacing_payload = [], []
    for result in results:
        row = {
            "delivery_id": result.delivery_id,
            "to_status": result.status,
            "reason": result.reason,
            "sent_at": now if result.status == SENT else None,
            "now": now,
        }
        if result.payload is None:
            keeping_payload.append(row)
        else:
            replacing_payload.append({**row, "new_payload": result.payload})
    if keeping_payload:
        connection.execute(_RECORD, keeping_payload)
    if replacing_payload:
        connection.execute(_RECORD_WITH_PAYLOAD, replacing_payload)


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


def queued_before_backlog(
    updated_at: InstrumentedAttribute[datetime], queued_before: datetime | None
) -> ColumnElement[bool]:
    """Last enqueued before `queued_before`, the reconciler's bound for work that may still wait
    behind a backlog (always true without one)."""
    return true() if queued_before is None else updated_at < queued_before


def stale_deliveries(
    session: Session,
    *,
    older_than: timedelta,
    retry_grace: timedelta,
    queued_before: datetime | None = None,
    limit: int,
) -> list[Delivery]:
    """Deliveries queued or sending with no progress for a while: their message was lost.

    A delivery queued again after a failed attempt waits for its scheduled retry, which may be
    minutes away: it counts as stale only `retry_grace` (the longest backoff) later than others.
    Queued ones count only when last enqueued before `queued_before` (see the reconciler).
    """
    cutoff: datetime = utcnow() - older_than
    before_backlog = queued_before_backlog(Delivery.updated_at, queued_before)
    first_attempt = or_(Delivery.status == SENDING, Delivery.attempts == 0)
    return list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.status.in_((QUEUED, SENDING)),
                Delivery.updated_at < cutoff,
                or_(Delivery.status == SENDING, before_backlog),
                or_(first_attempt, Delivery.updated_at < cutoff - retry_grace),
            )
            .order_by(Delivery.updated_at)
            .limit(limit)
        )
    )

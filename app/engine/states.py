"""The one delivery state machine: every status change is a function here, checked against
`ALLOWED`. `transition` serves the rare changes (cancelling); `claim_many` and `record_many` are
the workers' hot path, prebuilt statements that `app.engine.ledger` batches.

    queued ──claim──► sending ──► sent
                         ├──────► failed     (permanent, or the retry schedule used up)
                         ├──────► retrying   (transient: waits until its `next_attempt_at`)
                         └──────► queued     (its worker lost: the reconciler takes it back)
    retrying ──claim, once due──► sending    (its delayed message, for a short wait)
    retrying ──once due──► queued            (the reconciler, which then enqueues it)
    queued, retrying ──► cancelled           (the notification was cancelled first)
    skipped                                  (recorded at creation: unreachable, or a
                                              preference said no)

A retrying delivery is claimed by its delayed message once due (short waits), or moved back to
`queued` by the reconciler once due and enqueued again (`release_due_retries`); either way the
stored `next_attempt_at`, not a message, says when it may go.

Each transition is one conditional UPDATE (`... WHERE status IN (from)`), so two workers, a
duplicated message and the reconciler can race freely: exactly one of them wins.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, true, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import InstrumentedAttribute, Session, load_only

from app.db import update_first
from app.engine.models import Delivery, DeliveryStatus, Notification
from app.orm import utcnow

QUEUED, SENDING, SENT = DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT
FAILED, SKIPPED, CANCELLED = DeliveryStatus.FAILED, DeliveryStatus.SKIPPED, DeliveryStatus.CANCELLED
RETRYING = DeliveryStatus.RETRYING
STATUSES = tuple(DeliveryStatus)
# Not yet sent, failed for good, skipped or cancelled: the notification is still sending.
PENDING = (QUEUED, SENDING, RETRYING)

ALLOWED = {
    QUEUED: frozenset({SENDING, CANCELLED}),
    SENDING: frozenset({SENT, FAILED, RETRYING, QUEUED}),
    RETRYING: frozenset({SENDING, QUEUED, CANCELLED}),
}
# A delayed message may reach a worker whose clock runs a little ahead of the one that stored
# `next_attempt_at`: a retry is claimable this much early. A message earlier still (a stray
# duplicate) leaves the delivery waiting.
CLAIM_EARLY_BY = timedelta(seconds=1)


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
_notifications = Notification.__table__
# When a claimed delivery's notification was accepted, or its scheduled time came: the start of
# its time to sent (one primary key lookup per claimed row). SQLite's RETURNING names columns
# unqualified (`WHERE id = notification_id`), which SQL's scoping reads right: `id` is the
# notification's, `notification_id` (which notifications lack) the delivery's. The recipient a
# webhook event names is not read here: only apps with webhooks need it, and the ledger reads it
# for theirs, one query per claim (`app.engine.ledger`).
_ACCEPTED_AT = (
    select(func.coalesce(_notifications.c.send_at, _notifications.c.created_at))
    .where(_notifications.c.id == _table.c.notification_id)
    .scalar_subquery()
    .label("accepted_at")
)
# Prebuilt Core statements for the worker's hot path: compiled once, no ORM bookkeeping per row.
_CLAIM_MANY = (
    update(_table)
    .where(
        _table.c.id.in_(bindparam("ids", expanding=True)),
        or_(
            _table.c.status == QUEUED,
            and_(_table.c.status == RETRYING, _table.c.next_attempt_at <= bindparam("due_by")),
        ),
    )
    .values(
        status=SENDING,
        updated_at=bindparam("now"),
        attempts=_table.c.attempts + 1,
        next_attempt_at=None,
    )
    .returning(
        _table.c.id,
        _table.c.app_id,
        _table.c.notification_id,
        _table.c.user_id,
        _table.c.channel,
        _table.c.attempts,
        _table.c.payload,
        _ACCEPTED_AT,
    )
)
_RECORD = (
    update(_table)
    .where(_table.c.id == bindparam("delivery_id"), _table.c.status == SENDING)
    .values(
        status=bindparam("to_status"),
        reason=bindparam("reason"),
        sent_at=bindparam("sent_at"),
        next_attempt_at=bindparam("next_attempt_at"),
        updated_at=bindparam("now"),
    )
)
_RECORD_WITH_PAYLOAD = _RECORD.values(payload=bindparam("new_payload"))


def claim_many(connection: Connection, *, delivery_ids: Collection[str]) -> list[Row]:
    """Take every queued delivery among these, and every retrying one whose next attempt is due,
    for sending, counting the attempt, in one statement.

    Returns the rows actually claimed (id, app_id, notification_id, user_id, channel, attempts,
    payload, accepted_at); ids missing from the result were claimed by someone else, are not due
    yet, or are no longer queued.
    """
    if not delivery_ids:
        return []
    now = utcnow()
    parameters = {"ids": list(delivery_ids), "now": now, "due_by": now + CLAIM_EARLY_BY}
    return list(connection.execute(_CLAIM_MANY, parameters))


@dataclass(frozen=True)
class Reported:
    """What a delivery's webhook event tells beside its outcome, known since it was claimed."""

    channel: str
    attempts: int
    external_id: str | None
    email: str | None


@dataclass(frozen=True)
class Result:
    """What happened to one claimed (`sending`) delivery; `payload` replaces the stored one.

    `notification_id`, when given, lets the ledger move the notification on after a final
    outcome (`app.engine.lifecycle`). `next_attempt_at` is when a `retrying` one goes again.
    `app_id`, when given, has the outcome reported to the app's webhooks; `reported`, when
    given too, spares the ledger reading the delivery back for that.
    """

    delivery_id: str
    status: str
    reason: str | None = None
    payload: dict[str, Any] | None = None
    notification_id: str | None = None
    next_attempt_at: datetime | None = None
    app_id: str | None = None
    reported: Reported | None = None

    @property
    def is_final(self) -> bool:
        return self.status in (SENT, FAILED)


def check_outcome(result: Result) -> None:
    if result.status not in ALLOWED[SENDING]:
        raise IllegalTransition(f"{SENDING} -> {result.status}")


def record_many(connection: Connection, results: Sequence[Result]) -> int:
    """Move claimed deliveries to their outcome: sent, failed, retrying (waiting for its next
    attempt), or back to queued; returns how many moved (those no longer `sending` do not)."""
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
            "next_attempt_at": result.next_attempt_at if result.status == RETRYING else None,
            "now": now,
        }
        if result.payload is None:
            keeping_payload.append(row)
        else:
            replacing_payload.append({**row, "new_payload": result.payload})
    moved = 0
    if keeping_payload:
        moved += connection.execute(_RECORD, keeping_payload).rowcount
    if replacing_payload:
        moved += connection.execute(_RECORD_WITH_PAYLOAD, replacing_payload).rowcount
    return moved


def cancel_queued(session: Session, *, notification_id: str) -> int:
    """Cancel every delivery of a notification that has not started sending (or waits to retry)."""
    cancelled = 0
    for status in (QUEUED, RETRYING):
        ids = session.scalars(
            select(Delivery.id).where(
                Delivery.notification_id == notification_id, Delivery.status == status
            )
        ).all()
        cancelled += transition(
            session,
            delivery_ids=ids,
            from_status=status,
            to_status=CANCELLED,
            reason="cancelled",
            next_attempt_at=None,
        )
    return cancelled


def note_deferral(connection: Connection, *, delivery_id: str, until: datetime) -> None:
    """A queued email the sending rates hold back until `until` (`app.engine.throttle`): its
    message waits that long, so the reconciler does not take it for lost before then. Still
    `queued`, with no attempt counted; the claim clears it."""
    connection.execute(
        update(_table)
        .where(_table.c.id == delivery_id, _table.c.status == QUEUED)
        .values(next_attempt_at=until)
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
    queued_before: datetime | None = None,
    limit: int,
) -> list[Delivery]:
    """Deliveries queued or sending with no progress for a while: their message was lost.

    Queued ones count only when last enqueued before `queued_before` (see the reconciler), and
    once the turn the sending rates gave them (`note_deferral`) is that long past too. Retrying
    ones wait for their time, not for a message: `release_due_retries` takes them.
    """
    cutoff: datetime = utcnow() - older_than
    before_backlog = queued_before_backlog(Delivery.updated_at, queued_before)
    return list(
        session.scalars(
            select(Delivery)
            # What the reconciler needs to requeue them: not the rendered payloads.
            .options(load_only(Delivery.id, Delivery.app_id, Delivery.channel, Delivery.status))
            .where(
                Delivery.status.in_((QUEUED, SENDING)),
                Delivery.updated_at < cutoff,
                or_(Delivery.status == SENDING, before_backlog),
                or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at < cutoff),
            )
            .order_by(Delivery.updated_at)
            .limit(limit)
        )
    )


def release_due_retries(
    connection: Connection,
    *,
    broker_wait_limit: timedelta | None,
    overdue_after: timedelta,
    limit: int,
) -> list[Row]:
    """Move retrying deliveries whose next attempt is due back to `queued`, for the reconciler to
    enqueue; returns their (id, channel, app_id).

    A wait the broker held (up to `broker_wait_limit` after the delivery began waiting) is left
    to its delayed message, unless still unclaimed `overdue_after` past its time (the message
    was lost). A longer wait has no message: it is released as soon as it is due.
    """
    now = utcnow()
    due = [_table.c.status == RETRYING, _table.c.next_attempt_at <= now]
    releasable = _table.c.next_attempt_at <= now - overdue_after
    if broker_wait_limit is not None:  # began waiting longer ago than any message could hold
        releasable = or_(releasable, _table.c.updated_at <= now - broker_wait_limit)
    released = connection.execute(
        update_first(
            _table, *due, order_by=_table.c.next_attempt_at, limit=limit, chosen_if=[releasable]
        )
        .values(status=QUEUED, updated_at=now)
        .returning(_table.c.id, _table.c.channel, _table.c.app_id)
    )
    return list(released)

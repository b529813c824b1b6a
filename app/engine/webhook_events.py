"""The webhook events of deliveries and notifications, written to the outbox in the transaction
of the change they report (`app.webhooks.outbox`): the ledger's outcomes, the fan-out's
deliveries born final, a notification's completion and its cancellation.

Each function first asks whether the app has an endpoint for the event's type, which the
outbox answers from memory: for an app without webhooks nothing else is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session

from app.engine import states
from app.engine.counts import channel_counts
from app.engine.models import Delivery, DeliveryStatus
from app.users.models import User
from app.webhooks.models import EventType
from app.webhooks.outbox import Event, WebhookOutbox, outbox_of

DELIVERY_EVENTS = {
    DeliveryStatus.SENT: EventType.DELIVERY_SENT.value,
    DeliveryStatus.FAILED: EventType.DELIVERY_FAILED.value,
    DeliveryStatus.SKIPPED: EventType.DELIVERY_SKIPPED.value,
    DeliveryStatus.RETRYING: EventType.DELIVERY_RETRYING.value,
}
_deliveries = Delivery.__table__
_users = User.__table__


def delivery_data(
    delivery: Mapping[str, Any], user: Mapping[str, Any] | None, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """`delivery` has id, notification_id, channel, reason and attempts; the recipient is the
    user's external id and email, or for push the subscriptions the delivery was made to."""
    user = user or {}
    recipient: dict[str, Any] = {"externalId": user.get("external_id")}
    if delivery["channel"] == "push":
        recipient["subscriptionIds"] = _subscriptions_of(delivery["status"], payload)
    else:
        recipient["email"] = user.get("email")
    return {
        "notificationId": delivery["notification_id"],
        "deliveryId": delivery["id"],
        "channel": delivery["channel"],
        "recipient": recipient,
        "reason": delivery["reason"],
        "attempts": delivery["attempts"],
    }


def _subscriptions_of(status: str, payload: Mapping[str, Any]) -> list[str]:
    """Those that took the push once sent; otherwise every one it was tried on."""
    if status == DeliveryStatus.SENT:
        return list(payload.get("sent_to", []))
    return sorted(payload.get("outcomes", {}))


def outcomes_recorded(
    connection: Connection,
    outbox: WebhookOutbox,
    results: Sequence[states.Result],
    *,
    all_recorded: bool = False,
) -> None:
    """Events of the outcomes the ledger just recorded (in its transaction): sent, failed,
    retrying, for the apps with webhooks. With `all_recorded` (every result moved its delivery)
    a result that carries what its event tells (`reported`) is written as it is; the others are
    read back, in one query, to learn whether theirs was recorded and whom it was for."""
    apps = {r.app_id for r in results if r.app_id is not None}
    subscribed = {app_id: outbox.subscribed(connection, app_id) for app_id in apps}
    wanted = [
        r
        for r in results
        if r.app_id is not None and DELIVERY_EVENTS.get(r.status) in subscribed[r.app_id]
    ]
    if not wanted:
        return
    unread = [r.delivery_id for r in wanted if r.reported is None or not all_recorded]
    rows = {row.id: row for row in _recorded_rows(connection, unread)} if unread else {}
    events = []
    for result in wanted:
        assert result.app_id is not None  # `wanted` has only those
        fields = _told(result) if all_recorded else None
        if fields is None:
            row = rows.get(result.delivery_id)
            if row is None or row.status != result.status:
                continue  # not this result's outcome after all
            fields = row._mapping
        user = {"external_id": fields["external_id"], "email": fields["email"]}
        data = delivery_data(fields, user, result.payload or {})
        events.append(Event(result.app_id, DELIVERY_EVENTS[result.status], data))
    outbox.write(connection, events)


def _told(result: states.Result) -> dict[str, Any] | None:
    """The columns of the delivery its event needs, from the result itself when it has them."""
    reported = result.reported
    if reported is None:
        return None
    return {
        "id": result.delivery_id,
        "notification_id": result.notification_id,
        "channel": reported.channel,
        "status": result.status,
        "reason": result.reason,
        "attempts": reported.attempts,
        "external_id": reported.external_id,
        "email": reported.email,
    }


def _recorded_rows(connection: Connection, delivery_ids: list[str]) -> list[Row]:
    return list(
        connection.execute(
            select(
                _deliveries.c.id,
                _deliveries.c.app_id,
                _deliveries.c.notification_id,
                _deliveries.c.channel,
                _deliveries.c.status,
                _deliveries.c.reason,
                _deliveries.c.attempts,
                _users.c.external_id,
                _users.c.email,
            )
            .select_from(_deliveries.outerjoin(_users, _users.c.id == _deliveries.c.user_id))
            .where(_deliveries.c.id.in_(delivery_ids))
        )
    )


def deliveries_created(
    session: Session, app_id: str, deliveries: Iterable[Mapping[str, Any]], users: Sequence[User]
) -> None:
    """Events of the deliveries a fan-out made final at once (in its transaction): in-app sent,
    skipped, or failed to render."""
    connection, outbox = session.connection(), outbox_of(session)
    subscribed = outbox.subscribed(connection, app_id)
    if not subscribed:
        return
    by_id = {user.id: user for user in users}
    events = []
    for delivery in deliveries:
        event_type = DELIVERY_EVENTS.get(delivery["status"])
        if event_type not in subscribed:  # queued ones have none
            continue
        user = by_id.get(delivery["user_id"])
        identity = {"external_id": user.external_id, "email": user.email} if user else None
        events.append(Event(app_id, event_type, delivery_data(delivery, identity, {})))
    outbox.write(connection, events)


class Finished(Protocol):
    """A notification that reached a final status (a row, or the model itself)."""

    id: str
    app_id: str
    status: str
    channels: list[str]


def notification_cancelled(session: Session, notification: Finished) -> None:
    """`notification.cancelled`, in the transaction that cancels it."""
    notifications_finished(
        session.connection(),
        outbox_of(session),
        [notification],
        event_type=EventType.NOTIFICATION_CANCELLED.value,
    )


def notifications_finished(
    connection: Connection,
    outbox: WebhookOutbox,
    finished: Iterable[Finished],
    *,
    event_type: str = EventType.NOTIFICATION_COMPLETED.value,
) -> None:
    """`notification.completed` (or `.cancelled`) for these (id, app_id, status, channels) rows,
    with their progress per channel as the notification's view shows it."""
    chosen = [row for row in finished if event_type in outbox.subscribed(connection, row.app_id)]
    if not chosen:
        return
    progress = channel_counts(connection, {row.id: row.channels for row in chosen})
    outbox.write(
        connection,
        [
            Event(
                row.app_id,
                event_type,
                {"notificationId": row.id, "status": row.status, "progress": progress[row.id]},
            )
            for row in chosen
        ],
    )

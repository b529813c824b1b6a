"""A broadcast's per-recipient notifications: inbox state and the delivery on each channel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.broadcasts.service import get_broadcast
from app.engine.models import Delivery
from app.inbox.models import InboxNotification
from app.notifications.service import delivery_state
from app.pagination import fetch_page
from app.users.models import User
from app.wire import epoch


def recipient_notifications(
    session: Session, *, app_id: str, broadcast_id: str, page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of recipients in the order they were fanned out to, in four queries."""
    broadcast = get_broadcast(session, app_id=app_id, broadcast_id=broadcast_id)
    statement = (
        select(Delivery.user_id)
        .where(
            Delivery.app_id == app_id,
            Delivery.notification_id == broadcast.id,
            Delivery.user_id.is_not(None),
        )
        .group_by(Delivery.user_id)
        .order_by(func.min(Delivery.created_at), Delivery.user_id)
    )
    user_ids, total = fetch_page(session, statement, page=page, per_page=per_page)
    if not user_ids:
        return [], total
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    rows = {
        row.user_id: row
        for row in session.scalars(
            select(InboxNotification).where(
                InboxNotification.notification_id == broadcast.id,
                InboxNotification.user_id.in_(user_ids),
            )
        )
    }
    deliveries: dict[str, list[Delivery]] = {}
    for delivery in session.scalars(
        select(Delivery)
        .where(Delivery.notification_id == broadcast.id, Delivery.user_id.in_(user_ids))
        .order_by(Delivery.channel)
    ):
        deliveries.setdefault(delivery.user_id or "", []).append(delivery)
    views = [
        _view(users[uid], rows.get(uid), deliveries.get(uid, []), broadcast.title or "")
        for uid in user_ids
        if uid in users
    ]
    return views, total


def _view(
    user: User, row: InboxNotification | None, deliveries: list[Delivery], title: str
) -> dict[str, Any]:
    """`id` is the inbox notification's (None when in-app was skipped for this recipient)."""
    return {
        "id": row.id if row else None,
        "recipient": {"id": user.id, "external_id": user.external_id, "email": user.email},
        "title": row.title if row else title,
        "sent_at": epoch(row.sent_at) if row else None,
        "seen_at": epoch(row.seen_at) if row else None,
        "read_at": epoch(row.read_at) if row else None,
        "archived_at": epoch(row.archived_at) if row else None,
        "deliveries": [delivery_state(d) for d in deliveries],
    }

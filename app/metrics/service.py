"""Notification metrics (the inbox API's), aggregated in SQL: per day, category or topic.

Every figure is attributed to its notification's send time and grouping (so a notification
read today that was sent last week counts for last week). Rows are groups, columns measures:

    notifications      sends of every kind (templated, direct, broadcast)
    broadcasts         of which broadcasts
    recipients         (notification, user) pairs: a recipient of each notification
    delivered_in_app   deliveries sent, per channel
    delivered_email
    delivered_push
    failed             deliveries that failed for good, any channel
    skipped            deliveries skipped (preferences, opt-outs, no address or subscription)
    seen               inbox notifications seen
    read               inbox notifications read
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from app.engine.models import Delivery, Notification
from app.inbox.models import InboxNotification
from app.inbox.service import UNCATEGORIZED
from app.wire import epoch

COLUMNS = (
    "notifications",
    "broadcasts",
    "recipients",
    "delivered_in_app",
    "delivered_email",
    "delivered_push",
    "failed",
    "skipped",
    "seen",
    "read",
)
GROUPINGS = ("day", "category", "topic")
_DELIVERY_COLUMNS = {
    ("in_app", "sent"): "delivered_in_app",
    ("email", "sent"): "delivered_email",
    ("push", "sent"): "delivered_push",
}


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def days(self) -> list[str]:
        day, last = self.start.date(), self.end.date()
        labels = []
        while day <= last:
            labels.append(day.isoformat())
            day += timedelta(days=1)
        return labels


def metrics(session: Session, *, app_id: str, period: Period, grouping: str) -> dict[str, Any]:
    """MagicBell's metric object: `metrics` (one row per label), `labels` and `schema`."""
    group = _group_expression(session, grouping)
    scope = [
        Notification.app_id == app_id,
        Notification.created_at >= period.start,
        Notification.created_at <= period.end,
    ]
    if grouping == "topic":
        scope.append(Notification.topic.is_not(None))
    table: dict[str, dict[str, int]] = {}
    for label, column, count in _counts(session, group, scope):
        row = table.setdefault(label, dict.fromkeys(COLUMNS, 0))
        row[column] += int(count or 0)
    labels = period.days() if grouping == "day" else sorted(table)
    empty = dict.fromkeys(COLUMNS, 0)
    return {
        "metrics": [[table.get(label, empty)[c] for c in COLUMNS] for label in labels],
        "labels": labels,
        "schema": {
            "rows": grouping,
            "columns": list(COLUMNS),
            "from": epoch(period.start),
            "to": epoch(period.end),
        },
    }


def _group_expression(session: Session, grouping: str) -> ColumnElement[str]:
    if grouping == "category":
        return func.coalesce(Notification.category, UNCATEGORIZED)
    if grouping == "topic":
        return Notification.topic
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m-%d", Notification.created_at)
    return func.to_char(func.timezone("UTC", Notification.created_at), "YYYY-MM-DD")


def _counts(
    session: Session, group: ColumnElement[str], scope: list[ColumnElement[bool]]
) -> Iterable[tuple[str, str, int]]:
    """(label, column, count) from four grouped queries."""
    is_broadcast = case((Notification.kind == "broadcast", 1), else_=0)
    for label, sends, broadcasts in session.execute(
        select(group, func.count(), func.sum(is_broadcast)).where(*scope).group_by(group)
    ):
        yield label, "notifications", sends
        yield label, "broadcasts", broadcasts
    pairs = (
        select(group.label("label"), Delivery.notification_id, Delivery.user_id)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(*scope)
        .distinct()
        .subquery()
    )
    for label, count in session.execute(
        select(pairs.c.label, func.count()).group_by(pairs.c.label)
    ):
        yield label, "recipients", count
    for label, channel, status, count in session.execute(
        select(group, Delivery.channel, Delivery.status, func.count())
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(*scope, Delivery.status.in_(("sent", "failed", "skipped")))
        .group_by(group, Delivery.channel, Delivery.status)
    ):
        yield label, _DELIVERY_COLUMNS.get((channel, status), status), count
    for label, seen, read in session.execute(
        select(group, func.count(InboxNotification.seen_at), func.count(InboxNotification.read_at))
        .join(Notification, Notification.id == InboxNotification.notification_id)
        .where(*scope)
        .group_by(group)
    ):
        yield label, "seen", seen
        yield label, "read", read

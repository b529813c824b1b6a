"""Deliveries counted per notification, channel and status: what a notification's progress
shows, read by its views and by its `notification.completed` webhook event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from app.engine import states
from app.engine.models import Delivery, DeliveryStatus

Progress = dict[str, dict[str, int]]
COUNTED = tuple(s.value for s in DeliveryStatus if s is not DeliveryStatus.SENDING)


def channel_counts(
    connection: Connection, channels_of: Mapping[str, Sequence[str]]
) -> dict[str, Progress]:
    """`progress_for` from notification ids and their channels, in one grouped query (on a bare
    connection too: the ledger's and the lifecycle's transactions have no session)."""
    result: dict[str, Progress] = {
        notification_id: {channel: _empty() for channel in channels}
        for notification_id, channels in channels_of.items()
    }
    if not result:
        return result
    rows = connection.execute(
        select(Delivery.notification_id, Delivery.channel, Delivery.status, func.count())
        .where(Delivery.notification_id.in_(list(result)))
        .group_by(Delivery.notification_id, Delivery.channel, Delivery.status)
    )
    for notification_id, channel, status, count in rows:
        counts = result[notification_id].setdefault(channel, _empty())
        bucket = states.QUEUED if status == states.SENDING else status
        counts[bucket] += count
        counts["total"] += count
    return result


def _empty() -> dict[str, int]:
    return {"total": 0, **dict.fromkeys(COUNTED, 0)}

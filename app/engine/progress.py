"""Progress per channel and the notification status derived from it, in one grouped query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine import states
from app.engine.counts import Progress, channel_counts
from app.engine.lifecycle import FINAL
from app.engine.models import (
    ChunkStatus,
    Notification,
    NotificationChunk,
    NotificationStatus,
)

# Nothing fanned out yet: the stored status is all there is to read.
_NOT_STARTED = (NotificationStatus.SCHEDULED, NotificationStatus.QUEUED)


def progress_for(session: Session, notifications: Sequence[Notification]) -> dict[str, Progress]:
    """Per notification and channel: total, queued (sending included), retrying (waiting for
    another attempt), sent, failed, skipped, cancelled."""
    return channel_counts(session.connection(), {n.id: n.channels for n in notifications})


def with_pending_chunks(session: Session, notification_ids: Sequence[str]) -> set[str]:
    if not notification_ids:
        return set()
    return set(
        session.scalars(
            select(NotificationChunk.notification_id)
            .where(
                NotificationChunk.notification_id.in_(list(notification_ids)),
                NotificationChunk.status == ChunkStatus.QUEUED,
            )
            .distinct()
        )
    )


def snapshot(
    session: Session, notifications: Sequence[Notification]
) -> tuple[dict[str, Progress], set[str]]:
    """Progress per notification and the ids with chunks still pending, read in that safe order.

    Chunks first: a chunk commits its deliveries as it finishes, so once no chunk is pending the
    progress query that follows sees every delivery (each statement has its own snapshot).
    """
    pending = with_pending_chunks(session, [n.id for n in notifications])
    return progress_for(session, notifications), pending


def derived_status(notification: Notification, progress: Progress, chunks_pending: bool) -> str:
    """What the pipeline has reached. The stored status may lag by a moment behind the chunks
    and deliveries (`app.engine.lifecycle`), so the rest is read off them."""
    if notification.status in FINAL or notification.status in _NOT_STARTED:
        return notification.status
    if chunks_pending:
        return "dispatching"
    if any(counts[states.QUEUED] or counts[states.RETRYING] for counts in progress.values()):
        return "sending"
    if any(counts["failed"] for counts in progress.values()):
        return "completed_with_errors"
    return "completed"

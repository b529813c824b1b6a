"""Fair shares between apps: a batch's chunks are released in step with its app's sends.

Every delivery task waits in one first-in, first-out queue. Were each chunk to enqueue its sends
as soon as it is split off, one app's 10,000-target batch would put 20,000 tasks ahead of every
batch accepted after it. Instead each app keeps at most a window of deliveries queued or sending
(`window_for`: WINDOW x CHUNK_SIZE, 1,000 by default). A batch's feeder (the dispatch task, run
again every `FEED_INTERVAL_MS` on the pipeline's own queue) releases its next chunks only while
its app is under that window, and the chunk tasks fan out and enqueue their sends as before. A
batch accepted meanwhile by another app finds at most a window of the first one's tasks ahead
of its own, and from then on both apps' tasks alternate in the queue.

The database is the truth: a chunk not yet released is a `queued` chunk, as before; the feeder
keeps such chunks fresh, so that the reconciler only restarts the feeder of a batch whose feeder
was lost (`workers.reconciler`). Throttled emails count in their app's window as they wait, so
a batch held back by a sending rate also releases its chunks at that rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.engine import states
from app.engine.models import ChunkStatus, Delivery, Notification, NotificationChunk
from app.engine.pipeline import split_into_chunks
from app.orm import utcnow

FEED_INTERVAL_MS = 250
# Measured (docs/performance.md): 4 keeps one batch as fast as without pacing and lets another
# app's batch start within about 3 s; 8 took 5 s, and 16 was no faster for one batch.
WINDOW = 4
# The channels whose deliveries are tasks (in-app is written during the fan-out).
_TASK_CHANNELS = frozenset({"email", "push"})


def window_for(chunk_size: int) -> int:
    """Deliveries an app may have queued or sending before its batches release more chunks."""
    return WINDOW * chunk_size


@dataclass(frozen=True)
class Release:
    """What a feeder pass releases; `released_through` is the last position released so far.
    `waiting`: chunks are left for a later pass."""

    chunk_ids: list[str]
    released_through: int
    waiting: bool
    has_chunks: bool = True


def release_chunks(
    session: Session,
    *,
    notification_id: str,
    chunk_size: int,
    released_through: int = -1,
    keep_alive: timedelta,
) -> Release:
    """Split the notification into chunks (once), then choose those to release now: in order,
    while its app has fewer than a window of deliveries queued or sending, counting each
    released chunk not yet fanned out as a full one."""
    chunks = split_into_chunks(session, notification_id=notification_id, chunk_size=chunk_size)
    if not chunks:
        return Release([], released_through, waiting=False, has_chunks=False)
    notification = session.get(Notification, notification_id)
    assert notification is not None  # it has chunks
    per_chunk = chunk_size * len(_TASK_CHANNELS.intersection(notification.channels))
    unreleased = [(i, p) for i, p in chunks if p > released_through]
    room = window_for(chunk_size) - _pending(session, notification.app_id)
    room -= per_chunk * (len(chunks) - len(unreleased))  # released, not yet fanned out
    chosen = []
    for chunk_id, position in unreleased:
        if room <= 0 and per_chunk:
            break
        chosen.append(chunk_id)
        room -= per_chunk
        released_through = position
    waiting = len(chosen) < len(unreleased)
    if waiting:
        _keep_fresh(session, notification_id, released_through, keep_alive)
    return Release(chosen, released_through, waiting)


def _pending(session: Session, app_id: str) -> int:
    """The app's deliveries queued or sending (the status index: few rows are ever pending)."""
    return session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.status.in_((states.QUEUED, states.SENDING)), Delivery.app_id == app_id)
    )


def _keep_fresh(
    session: Session, notification_id: str, released_through: int, keep_alive: timedelta
) -> None:
    """Unreleased chunks are waiting for their turn, not lost: move their `updated_at` on (at
    most once per `keep_alive`), so that the reconciler leaves them to this feeder."""
    now = utcnow()
    session.execute(
        update(NotificationChunk)
        .where(
            NotificationChunk.notification_id == notification_id,
            NotificationChunk.status == ChunkStatus.QUEUED,
            NotificationChunk.position > released_through,
            NotificationChunk.updated_at < now - keep_alive,
        )
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )

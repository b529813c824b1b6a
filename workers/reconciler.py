"""Re-enqueue work whose message was lost (a killed worker, a Redis restart).

The database says what is unfinished; this finds what has made no progress for
`RECONCILE_STALE_AFTER_S` and sends it again. Claims make the re-sent messages harmless if the
original turns up after all. One worker process in the cluster runs it per interval (Redis lock).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

import dramatiq
from sqlalchemy import select, update

from app.idempotency.guard import purge_expired
from app.notifications import states
from app.notifications.models import Delivery, Notification, NotificationChunk
from app.notifications.sending import MAX_BACKOFF_MS
from app.orm import utcnow
from app.runtime import Runtime
from workers.broker import broker
from workers.bulk import enqueue_many
from workers.delivery import dispatch_notification, enqueue_deliveries, process_chunk
from workers.runtime import get_runtime

log = logging.getLogger(__name__)

BATCH_LIMIT = 5_000
# A retry is scheduled at most this far ahead (the backoff's cap plus its jitter).
RETRY_GRACE = timedelta(milliseconds=MAX_BACKOFF_MS * 1.2)


@dataclass(frozen=True)
class Reconciled:
    notifications: int
    chunks: int
    deliveries: int
    expired_idempotency_records: int = 0


def reconcile_once(runtime: Runtime, *, stale_after: timedelta | None = None) -> Reconciled:
    """One pass: re-enqueue stale dispatches, chunks and deliveries; drop idempotency records
    past their 24 h replay window."""
    if stale_after is None:
        stale_after = timedelta(seconds=runtime.settings.reconcile_stale_after_s)
    cutoff = utcnow() - stale_after
    with runtime.database.transaction() as session:
        notification_ids = list(
            session.scalars(
                select(Notification.id)
                .where(Notification.status == "queued", Notification.mode == "batch")
                .where(Notification.updated_at <= cutoff)
                .limit(BATCH_LIMIT)
            )
        )
        chunk_ids = list(
            session.scalars(
                select(NotificationChunk.id)
                .where(NotificationChunk.status == "queued", NotificationChunk.updated_at <= cutoff)
                .limit(BATCH_LIMIT)
            )
        )
        stale = states.stale_deliveries(
            session, older_than=stale_after, retry_grace=RETRY_GRACE, limit=BATCH_LIMIT
        )
        lost = [d for d in stale if d.status == states.SENDING]
        states.record_many(
            session.connection(),
            [states.Result(d.id, states.QUEUED, "requeued: worker lost") for d in lost],
        )
        _touch(session, notification_ids, chunk_ids, [d.id for d in stale])
    enqueue_many(broker, [dispatch_notification.message(i) for i in notification_ids])
    enqueue_many(broker, [process_chunk.message(i) for i in chunk_ids])
    enqueue_deliveries(
        [d.id for d in stale if d.channel == "email"], [d.id for d in stale if d.channel == "push"]
    )
    with runtime.database.transaction() as session:
        expired = purge_expired(session)
    result = Reconciled(len(notification_ids), len(chunk_ids), len(stale), expired)
    if any((result.notifications, result.chunks, result.deliveries)):
        log.warning("reconciler re-enqueued %s", result)
    return result


def _touch(session, notification_ids, chunk_ids, delivery_ids) -> None:  # type: ignore[no-untyped-def]
    """Restart the staleness clock of what was just re-enqueued."""
    now = utcnow()
    for model, ids in (
        (Notification, notification_ids),
        (NotificationChunk, chunk_ids),
        (Delivery, delivery_ids),
    ):
        if ids:
            session.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(updated_at=now)
                .execution_options(synchronize_session=False)
            )


class ReconcilerMiddleware(dramatiq.Middleware):
    """Runs `reconcile_once` every RECONCILE_INTERVAL_S in each worker process (0 disables)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        interval = get_runtime().settings.reconcile_interval_s
        if interval <= 0:
            return
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="herald-reconciler", daemon=True
        )
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _loop(self, interval: int) -> None:
        while not self._stop.wait(interval):
            runtime = get_runtime()
            # One pass per interval across every worker process of the installation.
            if not runtime.redis.set(runtime.key("reconciler", "lock"), "1", nx=True, ex=interval):
                continue
            try:
                reconcile_once(runtime)
            except Exception:
                log.exception("reconciler pass failed")

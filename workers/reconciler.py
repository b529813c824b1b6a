"""Re-enqueue work whose message was lost (a killed worker, a Redis restart), and retries that
are due.

The database says what is unfinished; this finds what has made no progress for
`RECONCILE_STALE_AFTER_S` and sends it again, unless it may still wait behind a backlog (see
`oldest_waiting_message`). Deliveries waiting to retry are enqueued once their stored
`next_attempt_at` has come (`states.release_due_retries`): long waits only ever wait here,
never in Redis. Claims make the re-sent messages harmless if the original turns up after all.
It also moves on notifications whose last piece finished in a process that died before it could
(`app.engine.lifecycle`). One worker process in the cluster runs it per interval (Redis lock);
whatever fails in a pass, the next interval tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import DecodeError
from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.engine import lifecycle, states
from app.engine.models import (
    ChunkStatus,
    Delivery,
    Notification,
    NotificationChunk,
    NotificationStatus,
)
from app.idempotency.models import purge_expired
from app.imports.models import PROCESSED, Import
from app.orm import utcnow
from workers.bulk import enqueue_many
from workers.periodic import PeriodicPass
from workers.process_metrics import count_reconciled

if TYPE_CHECKING:
    from app.runtime import Runtime
    from workers.actors import Actors

log = logging.getLogger(__name__)

BATCH_LIMIT = 5_000


@dataclass(frozen=True)
class Reconciled:
    notifications: int
    chunks: int
    deliveries: int
    imports: int = 0
    expired_idempotency_records: int = 0
    due_retries: int = 0


def reconcile_once(
    runtime: Runtime, actors: Actors, *, stale_after: timedelta | None = None
) -> Reconciled:
    """One pass: re-enqueue stale dispatches, chunks, deliveries and imports, and deliveries
    whose retry is due; move on finished notifications; drop idempotency records past their
    24 h replay window."""
    if stale_after is None:
        stale_after = timedelta(seconds=runtime.settings.reconcile_stale_after_s)
    with runtime.database.transaction() as session:
        lost = _find_lost_work(session, actors.broker, stale_after)
        _take_back(session, lost)
        due = states.release_due_retries(
            session.connection(),
            broker_wait_limit=runtime.retry_policy.broker_wait_limit,
            overdue_after=stale_after,
            limit=BATCH_LIMIT,
        )
    _enqueue_again(actors, lost)
    _enqueue_due_retries(actors, due)
    _advance_unfinished(runtime, utcnow() - stale_after)
    with runtime.database.transaction() as session:
        expired = purge_expired(session)
    result = Reconciled(
        len(lost.notification_ids),
        len(lost.chunk_ids),
        len(lost.deliveries),
        len(lost.import_ids),
        expired,
        len(due),
    )
    count_reconciled(result)
    if any((result.notifications, result.chunks, result.deliveries, result.imports)):
        log.warning("reconciler re-enqueued %s", result)
    elif due:  # the normal course of long waits, not a loss
        log.info("reconciler enqueued %d deliveries whose retry is due", len(due))
    return result


@dataclass(frozen=True)
class LostWork:
    notification_ids: list[str]
    chunk_ids: list[str]
    deliveries: list[Delivery]
    import_ids: list[str]
    # The batches of the stale chunks, whose feeders restart (`app.engine.pacing`).
    fed_notification_ids: list[str] = field(default_factory=list)


def _find_lost_work(session: Session, broker: RedisBroker, stale_after: timedelta) -> LostWork:
    """What made no progress for `stale_after` and is not merely waiting: its message is gone."""
    cutoff = utcnow() - stale_after
    # Queued work may simply wait behind a backlog: stale means `stale_after` older than the
    # oldest message still waiting too (a row commits just before its message is enqueued).
    waiting_since = oldest_waiting_message(broker)
    queued_before = None if waiting_since is None else waiting_since - stale_after

    def stale_ids(model: Any, *conditions: ColumnElement[bool]) -> list[str]:
        enqueued_before = _enqueued_before(model.updated_at, cutoff, queued_before)
        query = select(model.id).where(*conditions, enqueued_before).limit(BATCH_LIMIT)
        return list(session.scalars(query))

    chunk_ids = stale_ids(NotificationChunk, NotificationChunk.status == ChunkStatus.QUEUED)
    fed = select(NotificationChunk.notification_id).where(NotificationChunk.id.in_(chunk_ids))

    return LostWork(
        notification_ids=stale_ids(
            Notification,
            Notification.status == NotificationStatus.QUEUED,
            Notification.mode == "batch",
        ),
        chunk_ids=chunk_ids,
        deliveries=states.stale_deliveries(
            session, older_than=stale_after, queued_before=queued_before, limit=BATCH_LIMIT
        ),
        import_ids=stale_ids(Import, Import.status != PROCESSED),
        fed_notification_ids=sorted(set(session.scalars(fed))) if chunk_ids else [],
    )


def _take_back(session: Session, lost: LostWork) -> None:
    """Deliveries a dead worker held go back to `queued`; everything found restarts its clock."""
    states.record_many(
        session.connection(),
        [
            states.Result(d.id, states.QUEUED, "requeued: worker lost")
            for d in lost.deliveries
            if d.status == states.SENDING
        ],
    )
    _touch(
        session,
        lost.notification_ids,
        lost.chunk_ids,
        [d.id for d in lost.deliveries],
        lost.import_ids,
    )


def _enqueue_again(actors: Actors, lost: LostWork) -> None:
    """Stale chunks restart their batch's feeder, which releases them at its app's pace (their
    feeder keeps chunks waiting for their turn fresh: stale ones lost it, or their message)."""
    delivery, broker = actors.delivery, actors.broker
    emails = [(d.id, d.app_id) for d in lost.deliveries if d.channel == "email"]
    pushes = [d.id for d in lost.deliveries if d.channel == "push"]
    dispatches = [*lost.notification_ids, *lost.fed_notification_ids]
    enqueue_many(broker, [delivery.dispatch_notification.message(i) for i in dispatches])
    enqueue_many(broker, delivery.delivery_messages(emails, pushes))
    enqueue_many(broker, [actors.import_users.message(i) for i in lost.import_ids])


def _enqueue_due_retries(actors: Actors, due: Sequence[Row]) -> None:
    """Released to `queued` and committed: should Redis not take them, they are queued work whose
    message is lost, which a later pass re-enqueues."""
    emails = [(row.id, row.app_id) for row in due if row.channel == "email"]
    pushes = [row.id for row in due if row.channel == "push"]
    enqueue_many(actors.broker, actors.delivery.delivery_messages(emails, pushes))


def _advance_unfinished(runtime: Runtime, cutoff: datetime) -> None:
    """Move on notifications that made no progress for a while: their last piece may have
    finished in a process that died before moving them on. Those with a delivery waiting to
    retry, for hours maybe, cannot have finished: leaving them out keeps them from filling
    every pass's batch."""
    waiting_to_retry = exists().where(
        Delivery.notification_id == Notification.id, Delivery.status == states.RETRYING
    )
    # One transaction: the `notification.completed` webhook events commit with the status.
    with runtime.database.connection_transaction() as connection:
        ids = list(
            connection.scalars(
                select(Notification.id)
                .where(
                    Notification.status.in_(
                        (NotificationStatus.DISPATCHING, NotificationStatus.SENDING)
                    ),
                    Notification.updated_at <= cutoff,
                    ~waiting_to_retry,
                )
                .limit(BATCH_LIMIT)
            )
        )
        lifecycle.advance(connection, ids, outbox=runtime.webhook_outbox)


def oldest_waiting_message(broker: RedisBroker) -> datetime | None:
    """When the message at the head of the longest-waiting queue was enqueued; None if all are
    empty.

    Queues are first in, first out: a row enqueued after that moment may still have its message
    waiting, and sending it again would only double the backlog (each copy costs a claim). Rows
    enqueued well before it are not waiting: their message was taken by a worker (which then
    owns the row, or died holding it) or lost with Redis's data.
    """
    queues = sorted(broker.get_declared_queues())
    heads = broker.client.pipeline(transaction=False)
    for queue in queues:
        heads.lindex(f"{broker.namespace}:{queue}", 0)
    bodies = broker.client.pipeline(transaction=False)
    for queue, message_id in zip(queues, heads.execute(), strict=True):
        if message_id is not None:
            bodies.hget(f"{broker.namespace}:{queue}.msgs", message_id)
    enqueued = []
    for body in bodies.execute():
        try:
            enqueued.append(Message.decode(body).message_timestamp)
        except DecodeError:  # taken meanwhile (None), or unreadable: it tells nothing
            continue
    if not enqueued:
        return None
    return datetime.fromtimestamp(min(enqueued) / 1000, tz=UTC)


def _enqueued_before(
    updated_at: InstrumentedAttribute[datetime], cutoff: datetime, queued_before: datetime | None
) -> ColumnElement[bool]:
    return and_(updated_at <= cutoff, states.queued_before_backlog(updated_at, queued_before))


def _touch(session, notification_ids, chunk_ids, delivery_ids, import_ids) -> None:  # type: ignore[no-untyped-def]
    """Restart the staleness clock of what was just re-enqueued."""
    now = utcnow()
    for model, ids in (
        (Notification, notification_ids),
        (NotificationChunk, chunk_ids),
        (Delivery, delivery_ids),
        (Import, import_ids),
    ):
        if ids:
            session.execute(
                update(model)
                .where(model.id.in_(ids))
                .values(updated_at=now)
                .execution_options(synchronize_session=False)
            )


class ReconcilerMiddleware(PeriodicPass):
    """Runs `reconcile_once` every RECONCILE_INTERVAL_S in each worker process (0 disables)."""

    name = "reconciler"

    def __init__(self, runtime: Runtime, actors: Actors) -> None:
        super().__init__()
        self.runtime = runtime
        self.actors = actors

    def interval_s(self) -> float:
        return self.runtime.settings.reconcile_interval_s

    def run_once(self) -> None:
        run_if_leader(self.runtime, self.actors, self.runtime.settings.reconcile_interval_s)


def run_if_leader(runtime: Runtime, actors: Actors, interval: int) -> Reconciled | None:
    """One pass, unless another worker process of the installation ran one this interval."""
    if not runtime.redis.set(runtime.key("reconciler", "lock"), "1", nx=True, ex=interval):
        return None
    return reconcile_once(runtime, actors)

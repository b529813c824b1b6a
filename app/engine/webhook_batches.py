"""The workers' webhook pass: messages formed from the outbox's events, due messages claimed for
sending, lost ones taken back (docs/webhooks.md).

Every worker process runs it about once a second (`workers.webhooks`); each step is claimed by
a conditional statement, so concurrent passes never form an event into two messages nor
enqueue a message twice within its lease. The database holds every pending event and message:
whatever Redis loses, the next pass finds the work again.

A message's body is fixed when it is formed: up to `BATCH_SIZE` delivery events of one endpoint
in `{"type": "batch", "events": [...]}`, any other event alone as itself. Its events leave the
outbox in the same transaction, so each is in exactly one message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.engine import Connection

from app.db import update_first
from app.orm import utcnow
from app.webhooks.models import (
    MessageStatus,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEvent,
    WebhookMessage,
    is_batched,
)
from app.webhooks.signing import new_message_id

BATCH_SIZE = 100
EVENTS_PER_PASS = 20_000
MESSAGES_PER_PASS = 5_000
# A due message's task is taken for lost when it has not been claimed this long after it was
# enqueued (a sending one: `webhook_sending.SENDING_LEASE`).
ENQUEUED_LEASE = timedelta(seconds=60)
# Delivered and given-up messages, and attempts, are kept this long (the attempts view).
KEPT_FOR = timedelta(days=7)

_events = WebhookEvent.__table__
_messages = WebhookMessage.__table__
_endpoints = WebhookEndpoint.__table__
_attempts = WebhookAttempt.__table__
QUEUED, SENDING = MessageStatus.QUEUED.value, MessageStatus.SENDING.value
# A message whose endpoint is enabled: only those are claimed, here and by its sender.
ENDPOINT_ENABLED = exists().where(
    _endpoints.c.id == _messages.c.endpoint_id, _endpoints.c.enabled.is_(True)
)


@dataclass(frozen=True)
class Pass:
    formed: int  # messages formed from pending events
    due: list[str]  # ids of the messages to enqueue now
    taken_back: int  # sending messages whose worker was lost


def run_pass(connection: Connection) -> Pass:
    """One pass, in the caller's transaction: take back lost sends, form messages, claim due
    ones (enqueue them after the commit)."""
    taken_back = take_back_lost(connection)
    formed = form_messages(connection)
    return Pass(formed, claim_due(connection), taken_back)


def form_messages(connection: Connection, *, limit: int = EVENTS_PER_PASS) -> int:
    """Messages from the pending events of enabled endpoints, oldest first; returns how many.

    The events are locked as they are read (PostgreSQL skips those another pass holds; SQLite
    runs one writer at a time) and deleted as their message is stored.
    """
    pending = connection.execute(
        select(_events.c.id, _events.c.endpoint_id, _events.c.type, _events.c.payload)
        .join(_endpoints, _endpoints.c.id == _events.c.endpoint_id)
        .where(_endpoints.c.enabled.is_(True))
        .order_by(_events.c.created_at, _events.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=_events)
    ).all()
    if not pending:
        return 0
    now = utcnow()
    messages = [
        {
            "id": new_message_id(),
            "endpoint_id": endpoint_id,
            "body": message_body(rows),
            "event_count": len(rows),
            "status": QUEUED,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for endpoint_id, rows in _groups(pending)
    ]
    connection.execute(insert(_messages), messages)
    ids = [row.id for row in pending]
    for start in range(0, len(ids), 1_000):
        connection.execute(delete(_events).where(_events.c.id.in_(ids[start : start + 1_000])))
    return len(messages)


def _groups(pending: list[Any]) -> Iterator[tuple[str, list[Any]]]:
    """Per endpoint in order: its delivery events by `BATCH_SIZE`, every other event alone."""
    batches: dict[str, list[Any]] = {}
    for row in pending:
        if not is_batched(row.type):
            yield row.endpoint_id, [row]
            continue
        batch = batches.setdefault(row.endpoint_id, [])
        batch.append(row)
        if len(batch) == BATCH_SIZE:
            yield row.endpoint_id, batches.pop(row.endpoint_id)
    yield from batches.items()


def message_body(rows: list[Any]) -> str:
    """The events' stored texts joined: each is compact JSON already, so the body is the same
    document `json.dumps` would make of them, without decoding and encoding every event."""
    if len(rows) == 1 and not is_batched(rows[0].type):
        return str(rows[0].payload)
    return '{"type":"batch","events":[' + ",".join(row.payload for row in rows) + "]}"


def claim_due(connection: Connection, *, limit: int = MESSAGES_PER_PASS) -> list[str]:
    """Queued messages of enabled endpoints that are due and have no live task: leased for
    ENQUEUED_LEASE, for the caller to enqueue; each id goes to one pass only."""
    now = utcnow()
    claimable = [
        _messages.c.status == QUEUED,
        _messages.c.next_attempt_at <= now,
        or_(_messages.c.lease_until.is_(None), _messages.c.lease_until < now),
    ]
    first_due = update_first(
        _messages,
        *claimable,
        order_by=_messages.c.next_attempt_at,
        limit=limit,
        chosen_if=[ENDPOINT_ENABLED],
    )
    claimed = connection.execute(
        first_due.values(lease_until=now + ENQUEUED_LEASE).returning(_messages.c.id)
    )
    return list(claimed.scalars())


def take_back_lost(connection: Connection) -> int:
    """Sending messages whose worker died before recording the attempt: queued again, due now
    (the receiver may get it twice: at least once)."""
    now = utcnow()
    return connection.execute(
        update(_messages)
        .where(_messages.c.status == SENDING, _messages.c.lease_until < now)
        .values(status=QUEUED, lease_until=None, next_attempt_at=now, updated_at=now)
    ).rowcount


def purge_old(connection: Connection, *, limit: int = 10_000) -> int:
    """Forget delivered and given-up messages, and attempts, older than KEPT_FOR."""
    before = utcnow() - KEPT_FOR
    done = _messages.c.status.in_((MessageStatus.DELIVERED.value, MessageStatus.FAILED.value))
    old_messages = select(_messages.c.id).where(done, _messages.c.updated_at < before)
    old_attempts = select(_attempts.c.id).where(_attempts.c.created_at < before)
    purged = 0
    for table, chosen in ((_messages, old_messages), (_attempts, old_attempts)):
        ids = list(connection.scalars(chosen.limit(limit)))
        if ids:
            purged += connection.execute(delete(table).where(table.c.id.in_(ids))).rowcount
    return purged

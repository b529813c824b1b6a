"""Group commit for the delivery state machine: concurrent worker threads share transactions.

A worker process runs many threads, each sending one delivery at a time and committing twice
per delivery: the claim before the network call, the outcome after it. Committed one by one,
those transactions cost more than the sends themselves. Here a thread adds its claim or outcome
to the next batch and waits for that batch to commit; whichever waiting thread finds no batch in
flight commits everything queued so far in one transaction. A thread still never sends before
its claim has committed, nor returns before its outcome has, so the guarantees of
`app.engine.states` hold unchanged; under load a batch simply holds many deliveries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import DBAPIError

from app.db import Database, is_connection_lost
from app.engine import states, webhook_events
from app.engine.advancer import Advancer
from app.engine.push_targets import PushTargets, push_targets_of
from app.group_commit import GroupCommit
from app.push.service import PushTarget
from app.users.models import User
from app.webhooks.outbox import WebhookOutbox

log = logging.getLogger(__name__)

# Pauses before each new attempt at a batch whose database connection was lost.
LOST_CONNECTION_PAUSES_S = (0.0, 0.25, 1.0, 2.0)
DELIVERY_EVENTS = frozenset(webhook_events.DELIVERY_EVENTS.values())
# Per claimed delivery whose event may be wanted: its user's (external id, email).
Recipients = dict[str, tuple[str | None, str | None]]


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this thread now owns (`sending`), with everything needed to send it."""

    id: str
    app_id: str
    notification_id: str
    user_id: str | None
    channel: str
    attempts: int
    payload: dict[str, Any]
    # Push only: the user's subscriptions Herald can push to when the delivery was claimed,
    # and the user's unread inbox count when one of them is an iOS device (its badge).
    push_targets: list[PushTarget] = field(default_factory=list)
    badge: int | None = None
    # When its notification was accepted (a scheduled one: its send time), for the time to sent.
    accepted_at: datetime | None = None
    # The user's, for the outcome's webhook event: read with the claim when its app has an
    # endpoint for delivery events (`identified`); otherwise the event, should one be wanted by
    # the time of the outcome, reads them then.
    identified: bool = False
    external_id: str | None = None
    email: str | None = None


class DeliveryLedger:
    """Claims and outcomes of deliveries, committed in shared transactions (one per batch).

    Claims and outcomes go into the same batches: the outcome of one thread's send and the claim
    of another thread's next delivery then cost one transaction between them.
    """

    def __init__(
        self,
        database: Database,
        *,
        lost_connection_pauses_s: Sequence[float] = LOST_CONNECTION_PAUSES_S,
        advancer: Advancer | None = None,
        outbox: WebhookOutbox | None = None,
    ) -> None:
        self._database = database
        # Outcomes' webhook events are written in the transaction that records them.
        self._outbox = outbox or WebhookOutbox()
        self._pauses = tuple(lost_connection_pauses_s)
        self._batches: GroupCommit[str | states.Result, ClaimedDelivery | None] = GroupCommit(
            self._commit_batch
        )
        # Notifications whose outcomes this ledger committed are moved on in the background.
        self._advancer = advancer or Advancer(database)

    def claim(self, delivery_id: str) -> ClaimedDelivery | None:
        """Take a queued delivery for sending, or None if it is not queued (someone has it)."""
        return self._batches.submit(delivery_id)

    def record(self, result: states.Result) -> None:
        """Store the outcome of a claimed delivery; returns once it is committed."""
        states.check_outcome(result)  # refused here, so that it cannot fail a shared batch
        self._batches.submit(result)

    def _write(
        self, results: Sequence[states.Result], claims: Sequence[str]
    ) -> tuple[list[Any], PushTargets, Recipients]:
        # Core on a bare connection: at this rate the ORM session's own bookkeeping showed up.
        with self._database.engine.begin() as connection:
            if results:
                recorded = states.record_many(connection, results)
                webhook_events.outcomes_recorded(
                    connection, self._outbox, results, all_recorded=recorded == len(results)
                )
            claimed_rows = states.claim_many(connection, delivery_ids=claims)
            push_rows = [row for row in claimed_rows if row.channel == "push"]
            targets = push_targets_of(connection, push_rows)
            return claimed_rows, targets, self._recipients(connection, claimed_rows)

    def _recipients(self, connection: Connection, rows: Sequence[Row]) -> Recipients:
        """Per claimed delivery of an app with an endpoint for delivery events, its user's
        external id and email, in one query; none for apps without webhooks."""
        apps = {row.app_id for row in rows}
        wanting = {a for a in apps if self._outbox.subscribed(connection, a) & DELIVERY_EVENTS}
        told = [row for row in rows if row.app_id in wanting]
        user_ids = {row.user_id for row in told if row.user_id is not None}
        found = (
            connection.execute(
                select(User.id, User.external_id, User.email).where(User.id.in_(user_ids))
            )
            if user_ids
            else ()
        )
        users = {user_id: (external_id, email) for user_id, external_id, email in found}
        return {row.id: users.get(row.user_id, (None, None)) for row in told}

    def _write_persistently(
        self, results: Sequence[states.Result], claims: Sequence[str]
    ) -> tuple[list[Any], PushTargets, Recipients]:
        """`_write`, tried again on fresh connections while the database connection is lost.

        An outcome lost here would mean a second send later, so a restart, a failover or an
        administrator's kill is waited out for a few seconds. Every statement is conditional:
        should an attempt have committed after all, the next writes nothing, and its claims
        then come back unclaimed (the reconciler requeues them later).
        """
        for pause in (*self._pauses, None):
            try:
                return self._write(results, claims)
            except DBAPIError as exc:
                if pause is None or not is_connection_lost(exc):
                    raise
                log.warning("delivery ledger lost its database connection; again in %s s", pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _commit_batch(self, items: Sequence[str | states.Result]) -> list[ClaimedDelivery | None]:
        results = [item for item in items if isinstance(item, states.Result)]
        claims = [item for item in items if isinstance(item, str)]
        claimed_rows, targets, recipients = self._write_persistently(results, claims)
        self._advancer.note(r.notification_id for r in results if r.is_final and r.notification_id)
        rows = {row.id: row for row in claimed_rows}
        answers: list[ClaimedDelivery | None] = []
        for item in items:
            row = rows.pop(item, None) if isinstance(item, str) else None  # claimed once
            recipient = recipients.get(row.id) if row is not None else None
            answers.append(
                None
                if row is None
                else ClaimedDelivery(
                    id=row.id,
                    app_id=row.app_id,
                    notification_id=row.notification_id,
                    user_id=row.user_id,
                    channel=row.channel,
                    attempts=row.attempts,
                    payload=row.payload or {},
                    push_targets=targets.of(row),
                    badge=targets.badge_of(row),
                    accepted_at=row.accepted_at,
                    identified=recipient is not None,
                    external_id=recipient[0] if recipient else None,
                    email=recipient[1] if recipient else None,
                )
            )
        return answers

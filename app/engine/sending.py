"""Sending one claimed delivery through its channel, and recording what happened.

The claim commits before the network call and the outcome after it (both through the runtime's
`DeliveryLedger`, which shares transactions between threads), so a crash in between leaves a
`sending` delivery for the reconciler rather than a lost or doubled send.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.engine import outcome_log, states
from app.engine.channels.base import AddressRejected, PermanentFailure, TransientFailure
from app.engine.channels.email import OutgoingEmail
from app.engine.fanout import SHARED_EMAIL
from app.engine.models import Delivery
from app.engine.push_dispatch import PushRound, push_one
from app.engine.throttle import GO, Decision, Lane
from app.orm import utcnow
from app.push.service import discard_subscriptions
from app.suppressions.models import SuppressionReason
from app.suppressions.service import suppress

if TYPE_CHECKING:
    from app.engine.ledger import ClaimedDelivery
    from app.engine.retry import NextAttempt
    from app.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """`next_attempt` is set when the delivery waits (`retrying`) for another attempt."""

    status: str
    next_attempt: NextAttempt | None = None


NOT_CLAIMED = Outcome("not_claimed")


def email_turn(
    runtime: Runtime, *, delivery_id: str, app_id: str | None, lane: Lane, turns: int = 0
) -> Decision:
    """Whether an email delivery may go now under the relay's and its app's sending rates, asked
    before it is claimed: one deferred stays `queued`, with no attempt counted.

    A wait long enough for the reconciler to take the delivery's message for lost (a quarter of
    RECONCILE_STALE_AFTER_S) is stored as its `next_attempt_at`, which the reconciler honours.
    """
    app_id = app_id or _app_of(runtime, delivery_id)
    if app_id is None:  # the delivery is gone with its app: there is nothing to claim
        return GO
    try:
        app_per_second = runtime.senders.identity(app_id).email_per_second
    except LookupError:
        return GO
    decision = runtime.sending_rates.take(
        app_id=app_id, app_per_second=app_per_second, lane=lane, turns=turns
    )
    if decision.wait_ms >= runtime.settings.reconcile_stale_after_s * 250:
        until = utcnow() + timedelta(milliseconds=decision.wait_ms)
        with runtime.database.transaction() as session:
            states.note_deferral(session.connection(), delivery_id=delivery_id, until=until)
    return decision


def _app_of(runtime: Runtime, delivery_id: str) -> str | None:
    """A message from before email tasks named their app carries only the delivery's id."""
    with runtime.database.transaction() as session:
        return session.scalar(select(Delivery.app_id).where(Delivery.id == delivery_id))


def send_email_delivery(runtime: Runtime, *, delivery_id: str) -> Outcome:
    """Claim, send by SMTP, record sent / failed / retrying."""
    delivery = runtime.deliveries.claim(delivery_id)
    if delivery is None:
        return NOT_CLAIMED
    with _released_on_error(runtime, delivery):
        email = _outgoing_email(runtime, delivery)
    try:
        runtime.senders.smtp.send(email)
    except TransientFailure as failure:
        return _after_transient(runtime, delivery, failure.reason, failure.retry_after)
    except PermanentFailure as failure:
        if isinstance(failure, AddressRejected):
            _suppress_bounced(runtime, delivery)
        return _failed(runtime, delivery, reason=failure.reason)
    return _sent(runtime, delivery)


def send_push_delivery(runtime: Runtime, *, delivery_id: str) -> Outcome:
    """Claim, push to each of the user's subscriptions not yet reached (browsers by Web Push,
    Android by FCM, iOS by APNs), record the outcome: `sent` once any accepted it, `retrying`
    while one failed for now, else `failed` with every refusal."""
    delivery = runtime.deliveries.claim(delivery_id)
    if delivery is None:
        return NOT_CLAIMED
    with _released_on_error(runtime, delivery):
        identity = runtime.senders.identity(delivery.app_id)
    web_push = {
        "vapid_private_key": identity.vapid_private_key,
        "vapid_subject": runtime.settings.vapid_subject,
        "timeout": runtime.settings.push_timeout_s,
        "http": runtime.push_http,
    }
    push = PushRound(delivery)
    for target in push.due():
        push.attempt(
            target,
            partial(
                push_one,
                target,
                delivery=delivery,
                identity=identity,
                web_push=web_push,
                mobile=runtime.mobile_push,
            ),
        )
    payload = push.payload()
    if push.transient:
        reason = "; ".join(dict.fromkeys(push.transient))
        outcome = _after_transient(runtime, delivery, reason, push.retry_after, payload=payload)
    elif push.reached:
        outcome = _record(runtime, delivery, states.SENT, payload=payload)
        outcome_log.sent(delivery)
    else:
        reason = push.failure_reason()
        outcome = _failed(runtime, delivery, reason=reason, payload=payload)
    _discard_gone(runtime, push.gone)  # after the outcome: what was sent is recorded first
    return outcome


def _suppress_bounced(runtime: Runtime, delivery: ClaimedDelivery) -> None:
    """The relay said the address does not exist: later sends skip it (`suppressed`). Stored
    before the failure, so that a batch sent once this one completed finds it; should that
    fail, the failure is still recorded, and the next bounce from the address tries again."""
    try:
        with runtime.database.transaction() as session:
            address, reason = delivery.payload["to"], SuppressionReason.HARD_BOUNCE
            suppress(session, app_id=delivery.app_id, emails=[address], reason=reason)
    except Exception:
        log.warning("could not add a bounced address to the suppression list", exc_info=True)


def _discard_gone(runtime: Runtime, subscription_ids: list[str]) -> None:
    """Best effort: a subscription left undiscarded is refused as gone again next time."""
    if not subscription_ids:
        return
    try:
        with runtime.database.transaction() as session:
            discard_subscriptions(session, subscription_ids=subscription_ids)
    except Exception:
        log.warning("could not discard gone push subscriptions", exc_info=True)


@contextmanager
def _released_on_error(runtime: Runtime, delivery: ClaimedDelivery) -> Iterator[None]:
    """Before anything is sent, an error is a transient failure: the claimed delivery waits for
    its next attempt (or fails after the last allowed one) instead of staying `sending` until
    the reconciler. Re-raised: Dramatiq's own retry of the task claims it only once it is due."""
    try:
        yield
    except Exception as exc:
        _after_transient(runtime, delivery, f"error before sending: {exc.__class__.__name__}")
        raise


def _after_transient(
    runtime: Runtime,
    delivery: ClaimedDelivery,
    reason: str,
    retry_after: float | None = None,
    *,
    payload: dict | None = None,
) -> Outcome:
    """`retrying` until the attempt the retry policy schedules, or `failed` when none is left."""
    policy = runtime.retry_policy
    next_attempt = policy.next_attempt(delivery.attempts, retry_after=retry_after)
    if next_attempt is None:
        final = f"gave up after {delivery.attempts} attempts: {reason}"
        outcome = _record(runtime, delivery, states.FAILED, reason=final, payload=payload)
        outcome_log.gave_up(delivery, reason=reason)
        return outcome
    _record(
        runtime,
        delivery,
        states.RETRYING,
        reason=reason,
        payload=payload,
        next_attempt_at=next_attempt.at,
    )
    outcome_log.retry(
        delivery,
        reason=reason,
        max_attempts=policy.max_attempts,
        retry_in_ms=next_attempt.wait_ms,
    )
    return Outcome(states.RETRYING, next_attempt)


def _sent(runtime: Runtime, delivery: ClaimedDelivery) -> Outcome:
    outcome = _record(runtime, delivery, states.SENT)
    outcome_log.sent(delivery)
    return outcome


def _failed(
    runtime: Runtime, delivery: ClaimedDelivery, *, reason: str, payload: dict | None = None
) -> Outcome:
    outcome = _record(runtime, delivery, states.FAILED, reason=reason, payload=payload)
    outcome_log.failed(delivery, reason=reason)
    return outcome


def _record(
    runtime: Runtime,
    delivery: ClaimedDelivery,
    status: str,
    *,
    reason: str | None = None,
    payload: dict | None = None,
    next_attempt_at: datetime | None = None,
) -> Outcome:
    runtime.deliveries.record(
        states.Result(
            delivery.id,
            status,
            reason,
            payload,
            delivery.notification_id,
            next_attempt_at,
            app_id=delivery.app_id,
            reported=states.Reported(
                delivery.channel, delivery.attempts, delivery.external_id, delivery.email
            )
            if delivery.identified
            else None,
        )
    )
    return Outcome(status)


def _outgoing_email(runtime: Runtime, delivery: ClaimedDelivery) -> OutgoingEmail:
    payload = delivery.payload
    if payload.get("content") == SHARED_EMAIL["content"]:
        payload = {**payload, **runtime.senders.shared_email(delivery.notification_id)}
    identity = runtime.senders.identity(delivery.app_id)
    return OutgoingEmail(
        sender=identity.sender,
        recipient=payload["to"],
        subject=payload.get("subject") or "",
        text=payload.get("text") or "",
        html=payload.get("html"),
        notification_id=delivery.notification_id,
        unsubscribe_url=payload.get("unsubscribe_url"),
        dkim=identity.dkim,
    )

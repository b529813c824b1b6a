"""Sending one claimed delivery through its channel, and recording what happened.

The claim commits before the network call and the outcome after it (both through the runtime's
`DeliveryLedger`, which shares transactions between threads), so a crash in between leaves a
`sending` delivery for the reconciler rather than a lost or doubled send.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.engine import states
from app.engine.channels.base import PermanentFailure, TransientFailure
from app.engine.channels.destinations import BlockedDestination
from app.engine.channels.email import OutgoingEmail, SmtpConfig, SmtpSender, format_sender
from app.engine.channels.webpush import SubscriptionGone, send_web_push
from app.engine.fanout import SHARED_EMAIL
from app.engine.ledger import ClaimedDelivery
from app.engine.models import Notification
from app.push.service import discard_subscription
from app.runtime import Runtime
from app.tenants.models import App
from app.tenants.service import vapid_private_key
from templates_store.cache import BoundedCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """`retry_in_ms` is set when the delivery went back to `queued` for another attempt."""

    status: str
    retry_in_ms: int | None = None


NOT_CLAIMED = Outcome("not_claimed")


_SENDERS: dict[str, SmtpSender] = {}


def smtp_sender(smtp_url: str) -> SmtpSender:
    """One sender per SMTP URL per process (each keeps one connection per thread)."""
    sender = _SENDERS.get(smtp_url)
    if sender is None:
        sender = _SENDERS.setdefault(smtp_url, SmtpSender(SmtpConfig.from_url(smtp_url)))
    return sender


def close_thread_connections() -> None:
    """Close this thread's SMTP connections (a worker thread is shutting down)."""
    for sender in list(_SENDERS.values()):
        sender.close()


def send_email_delivery(runtime: Runtime, *, delivery_id: str) -> Outcome:
    """Claim, send by SMTP, record sent / failed / queued-for-retry."""
    delivery = runtime.deliveries.claim(delivery_id)
    if delivery is None:
        return NOT_CLAIMED
    with _released_on_error(runtime, delivery):
        email = _outgoing_email(runtime, delivery)
    try:
        smtp_sender(runtime.settings.smtp_url).send(email)
    except TransientFailure as failure:
        return _after_transient(runtime, delivery, failure.reason, failure.retry_after)
    except PermanentFailure as failure:
        return _record(runtime, delivery, states.FAILED, reason=failure.reason)
    return _record(runtime, delivery, states.SENT)


def send_push_delivery(runtime: Runtime, *, delivery_id: str) -> Outcome:
    """Claim, push to every web subscription of the user not yet reached, record the outcome."""
    delivery = runtime.deliveries.claim(delivery_id)
    if delivery is None:
        return NOT_CLAIMED
    with _released_on_error(runtime, delivery):
        private_key = _sending_identity(runtime, delivery.app_id).vapid_private_key
    reached = set(delivery.payload.get("sent_to", []))
    transient, permanent, gone = [], [], []
    retry_after: float | None = None
    for target in delivery.web_push_targets:
        if target.subscription_id in reached:
            continue
        try:
            send_web_push(
                endpoint=target.endpoint,
                p256dh=target.p256dh,
                auth=target.auth,
                payload=delivery.payload.get("message", {}),
                vapid_private_key=private_key,
                vapid_subject=runtime.settings.vapid_subject,
                timeout=runtime.settings.push_timeout_s,
                http=runtime.push_http,
            )
            reached.add(target.subscription_id)
        except (SubscriptionGone, BlockedDestination) as failure:
            gone.append(target.subscription_id)
            permanent.append(failure.reason)
        except TransientFailure as failure:
            transient.append(failure.reason)
            retry_after = max(retry_after or 0.0, failure.retry_after or 0.0) or None
        except PermanentFailure as failure:
            permanent.append(failure.reason)
    payload = {**delivery.payload, "sent_to": sorted(reached)}
    if transient:
        outcome = _after_transient(
            runtime, delivery, "; ".join(transient), retry_after, payload=payload
        )
    elif reached:  # `sent_to` only matters to a later attempt, and a sent delivery has none
        outcome = _record(runtime, delivery, states.SENT)
    else:
        reason = "; ".join(permanent) or "no active web push subscription"
        outcome = _record(runtime, delivery, states.FAILED, reason=reason, payload=payload)
    _discard_gone(runtime, gone)  # after the outcome: what was sent is recorded first
    return outcome


def _discard_gone(runtime: Runtime, subscription_ids: list[str]) -> None:
    """Best effort: a subscription left undiscarded answers 404/410 again next time."""
    if not subscription_ids:
        return
    try:
        with runtime.database.transaction() as session:
            for subscription_id in subscription_ids:
                discard_subscription(session, subscription_id=subscription_id)
    except Exception:
        log.warning("could not discard gone push subscriptions", exc_info=True)


@contextmanager
def _released_on_error(runtime: Runtime, delivery: ClaimedDelivery) -> Iterator[None]:
    """Before anything is sent, an error puts the claimed delivery back to `queued` (then
    re-raises for Dramatiq's retry) instead of leaving it `sending` until the reconciler;
    like any transient failure, the last allowed attempt marks it `failed` instead."""
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
    """Back to `queued` for another attempt when the retry policy allows one, else `failed`."""
    policy = runtime.retry_policy
    if policy.gives_up_after(delivery.attempts):
        final = f"gave up after {delivery.attempts} attempts: {reason}"
        return _record(runtime, delivery, states.FAILED, reason=final, payload=payload)
    _record(runtime, delivery, states.QUEUED, reason=reason, payload=payload)
    delay = policy.delay_ms(delivery.attempts, retry_after=retry_after)
    return Outcome(states.QUEUED, retry_in_ms=delay)


def _record(
    runtime: Runtime,
    delivery: ClaimedDelivery,
    status: str,
    *,
    reason: str | None = None,
    payload: dict | None = None,
) -> Outcome:
    runtime.deliveries.record(
        states.Result(delivery.id, status, reason, payload, delivery.notification_id)
    )
    return Outcome(status)


@dataclass(frozen=True)
class SendingIdentity:
    """What an app's deliveries are sent as: its From address and its VAPID key."""

    sender: str
    vapid_private_key: str
    loaded_at: float


_identities: dict[str, SendingIdentity] = {}
IDENTITY_TTL_S = 30.0


def _sending_identity(runtime: Runtime, app_id: str) -> SendingIdentity:
    """Per app, cached for a few seconds: a batch would otherwise read the app once per send."""
    cached = _identities.get(app_id)
    if cached is not None and time.monotonic() - cached.loaded_at < IDENTITY_TTL_S:
        return cached
    with runtime.database.transaction() as session:
        app = session.get(App, app_id)
        if app is None:
            raise LookupError(f"app {app_id} no longer exists")
        sender = (
            format_sender(app.sender_email, app.sender_name)
            if app.sender_email
            else runtime.settings.default_sender
        )
        private_key = vapid_private_key(app=app, encryptor=runtime.encryptor)
    identity = SendingIdentity(sender, private_key, time.monotonic())
    _identities[app_id] = identity
    return identity


def _outgoing_email(runtime: Runtime, delivery: ClaimedDelivery) -> OutgoingEmail:
    payload = delivery.payload
    if payload.get("content") == SHARED_EMAIL["content"]:
        payload = {**payload, **_shared_email(runtime, delivery.notification_id)}
    return OutgoingEmail(
        sender=_sending_identity(runtime, delivery.app_id).sender,
        recipient=payload["to"],
        subject=payload.get("subject") or "",
        text=payload.get("text") or "",
        html=payload.get("html"),
        notification_id=delivery.notification_id,
    )


# Each may hold megabytes; a worker is rarely sending more literal notifications at once.
_shared_emails: BoundedCache[dict[str, Any]] = BoundedCache(maxsize=16)


def _shared_email(runtime: Runtime, notification_id: str) -> dict[str, Any]:
    """A literal notification's email content, read once per process (it never changes)."""

    def load() -> dict[str, Any]:
        with runtime.database.transaction() as session:
            email = session.scalar(
                select(Notification.content["email"]).where(Notification.id == notification_id)
            )
        return dict(email or {})

    return _shared_emails.get_or_build(notification_id, load)

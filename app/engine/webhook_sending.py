"""Sending one webhook message: claim it, POST its fixed body signed anew through the outbound
guard, record the attempt and what follows from it in one transaction (docs/webhooks.md).

A 2xx answer delivers the message. Anything else, or no answer within WEBHOOK_TIMEOUT_S, is a
failed attempt: the message waits for the next one the retry policy schedules (its longest wait
repeating once the schedule is used up), for up to `GIVE_UP_AFTER`. An endpoint that has
answered nothing but failures for `DISABLE_AFTER` is disabled; its messages wait until the app
enables it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import urllib3
from sqlalchemy import update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from app.engine.channels.destinations import BlockedDestination
from app.engine.channels.guarded_http import HttpReply
from app.engine.retry import retry_after_s
from app.engine.states import CLAIM_EARLY_BY
from app.engine.webhook_batches import ENDPOINT_ENABLED
from app.orm import new_id, utcnow
from app.webhooks.models import (
    TEST_EVENT,
    MessageStatus,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
    is_success,
)
from app.webhooks.outbox import Event
from app.webhooks.service import signing_secrets
from app.webhooks.signing import new_message_id, signed_headers

if TYPE_CHECKING:
    from app.runtime import Runtime

GIVE_UP_AFTER = DISABLE_AFTER = timedelta(hours=24)
# A claimed message whose attempt is not recorded this long after the claim (far beyond an
# attempt's timeout) is taken for lost with its worker (`webhook_batches.take_back_lost`).
SENDING_LEASE = timedelta(seconds=120)
RESPONSE_KEPT_BYTES = 1024
_messages = WebhookMessage.__table__
_endpoints = WebhookEndpoint.__table__


@dataclass(frozen=True)
class AttemptResult:
    """What one POST got: a status code, or the error that kept it from getting one."""

    status_code: int | None
    error: str | None
    latency_ms: int
    response_body: str | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return is_success(self.status_code)


def send_message(runtime: Runtime, *, message_id: str) -> AttemptResult | None:
    """Claim a due message of an enabled endpoint, send it, record the outcome; None when there
    was nothing to claim (sent already, not due, or its endpoint disabled)."""
    with runtime.database.transaction() as session:
        claimed = _claim(session, message_id)
        if claimed is None:
            return None
        endpoint = session.get(WebhookEndpoint, claimed.endpoint_id)
        assert endpoint is not None  # the claim required it, enabled
        url, secrets = endpoint.url, signing_secrets(endpoint, runtime.encryptor)
    result = post(runtime, url, secrets, message_id=message_id, body=claimed.body)
    with runtime.database.transaction() as session:
        _record(runtime, session, claimed, result)
    return result


def _claim(session: Session, message_id: str) -> Row | None:
    now = utcnow()
    return session.execute(
        update(_messages)
        .where(
            _messages.c.id == message_id,
            _messages.c.status == MessageStatus.QUEUED.value,
            _messages.c.next_attempt_at <= now + CLAIM_EARLY_BY,
            ENDPOINT_ENABLED,
        )
        .values(
            status=MessageStatus.SENDING.value,
            attempts=_messages.c.attempts + 1,
            lease_until=now + SENDING_LEASE,
            updated_at=now,
        )
        .returning(
            _messages.c.id,
            _messages.c.endpoint_id,
            _messages.c.body,
            _messages.c.event_count,
            _messages.c.attempts,
            _messages.c.created_at,
        )
    ).first()


def post(
    runtime: Runtime, url: str, secrets: list[str], *, message_id: str, body: str
) -> AttemptResult:
    """One signed POST through the webhook guard (checked again now: the name may resolve
    elsewhere than when it was saved); redirects are not followed."""
    raw = body.encode()
    headers = signed_headers(secrets, message_id=message_id, timestamp=int(time.time()), body=raw)
    started = time.monotonic()
    try:
        reply = runtime.webhook_http.post(
            url, body=raw, headers=headers, timeout=runtime.settings.webhook_timeout_s
        )
    except BlockedDestination as blocked:
        return AttemptResult(None, f"blocked: {blocked.detail}", _since(started))
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return AttemptResult(None, _describe(exc, runtime), _since(started))
    return _result(reply, _since(started))


def _result(reply: HttpReply, latency_ms: int) -> AttemptResult:
    kept = reply.body[:RESPONSE_KEPT_BYTES].decode("utf-8", errors="replace") or None
    return AttemptResult(
        reply.status,
        None if is_success(reply.status) else f"answered {reply.status}",
        latency_ms,
        kept,
        retry_after_s(reply.retry_after),
    )


def _describe(exc: Exception, runtime: Runtime) -> str:
    # A refused connection first: urllib3's NewConnectionError is a kind of timeout error.
    if isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return f"no answer within {runtime.settings.webhook_timeout_s:g} s"
    return f"{type(exc).__name__}: {exc}"[:500]


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _record(runtime: Runtime, session: Session, claimed: Row, result: AttemptResult) -> None:
    """The attempt, the message's next state and the endpoint's health, in one transaction."""
    now = utcnow()
    endpoint = session.get(WebhookEndpoint, claimed.endpoint_id)
    if endpoint is None:  # deleted meanwhile, with its messages and attempts
        return
    session.add(_attempt(claimed.endpoint_id, claimed.id, claimed.event_count, result, now))
    failing_since = None if result.delivered else endpoint.failing_since or now
    if failing_since != endpoint.failing_since:
        # On the bare connection, not announced: only `enabled` concerns other processes.
        session.connection().execute(
            update(_endpoints)
            .where(_endpoints.c.id == endpoint.id)
            .values(failing_since=failing_since)
        )
    if failing_since is None:
        _set_message(session, claimed.id, status=MessageStatus.DELIVERED, delivered_at=now)
    elif now - failing_since >= DISABLE_AFTER:
        endpoint.enabled = False
        endpoint.disabled_reason = f"every attempt failed for 24 hours; last: {result.error}"
        _set_message(session, claimed.id, status=MessageStatus.QUEUED, next_attempt_at=now)
    elif now - claimed.created_at >= GIVE_UP_AFTER:
        _set_message(session, claimed.id, status=MessageStatus.FAILED)
    else:
        _set_message(
            session,
            claimed.id,
            status=MessageStatus.QUEUED,
            next_attempt_at=_next_attempt_at(runtime, claimed.attempts, result.retry_after),
        )


def _next_attempt_at(runtime: Runtime, attempts: int, retry_after: float | None) -> datetime:
    """The retry policy's wait after this many attempts; once its schedule is used up, its
    last (longest) wait again and again."""
    policy = runtime.retry_policy
    next_attempt = policy.next_attempt(
        min(attempts, policy.max_attempts - 1), retry_after=retry_after
    )
    assert next_attempt is not None  # fewer attempts than the policy's maximum
    return next_attempt.at


def _set_message(session: Session, message_id: str, *, status: str, **values: Any) -> None:
    """Only while this worker still holds it (`sending`): a message taken back as lost and
    sent by another worker keeps that worker's outcome."""
    session.connection().execute(
        update(_messages)
        .where(_messages.c.id == message_id, _messages.c.status == MessageStatus.SENDING.value)
        .values(status=status, lease_until=None, updated_at=utcnow(), **values)
    )


def _attempt(
    endpoint_id: str, message_id: str, event_count: int, result: AttemptResult, at: datetime
) -> WebhookAttempt:
    return WebhookAttempt(
        id=new_id(),
        endpoint_id=endpoint_id,
        message_id=message_id,
        event_count=event_count,
        status_code=result.status_code,
        error=result.error,
        latency_ms=result.latency_ms,
        response_body=result.response_body,
        created_at=at,
    )


def send_test(runtime: Runtime, session: Session, endpoint: WebhookEndpoint) -> WebhookAttempt:
    """Send a `webhook.test` event to the endpoint now, enabled or not, through the same
    signed path; the attempt is recorded (in the caller's transaction) and not retried."""
    event = Event(endpoint.app_id, TEST_EVENT, {"webhookId": endpoint.id, "url": endpoint.url})
    message_id = new_message_id()
    secrets = signing_secrets(endpoint, runtime.encryptor)
    result = post(runtime, endpoint.url, secrets, message_id=message_id, body=event.as_text())
    attempt = _attempt(endpoint.id, message_id, 1, result, utcnow())
    session.add(attempt)
    session.flush()
    return attempt

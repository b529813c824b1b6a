"""An app's webhook endpoints: creating, changing, rotating secrets, and their attempts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.orm import utcnow
from app.pagination import fetch_page
from app.refusals import InvalidRequest, NotFound
from app.security import Encryptor
from app.webhooks.models import (
    ALL_EVENTS,
    EVENT_TYPES,
    MessageStatus,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookMessage,
)
from app.webhooks.outbox import iso
from app.webhooks.signing import new_secret

NOT_FOUND = "ERR_WEBHOOK_NOT_FOUND"
# After a rotation the replaced secret signs too, so that receivers still holding it verify
# every message while they are given the new one (docs/webhooks.md).
PREVIOUS_SECRET_OVERLAP = timedelta(hours=24)


class UrlChecker(Protocol):
    """The outbound guard's check of a URL an app saves (`DestinationGuard`)."""

    def registration_refusal(self, url: str) -> str | None: ...


class WebhookNotFound(NotFound):
    code = NOT_FOUND


def create_endpoint(
    *,
    session: Session,
    app_id: str,
    url: str,
    events: Sequence[str],
    description: str,
    encryptor: Encryptor,
    destinations: UrlChecker,
) -> tuple[WebhookEndpoint, str]:
    """Store a new endpoint with a new signing secret; returns it and the secret (shown once)."""
    _check_url(destinations, url)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        app_id=app_id,
        url=url,
        events=normalized_events(events),
        description=description,
        enabled=True,
        secret_encrypted=encryptor.encrypt(secret),
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def get_endpoint(session: Session, *, app_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.app_id != app_id:
        raise WebhookNotFound("No such webhook endpoint.")
    return endpoint


def list_endpoints(
    session: Session, *, app_id: str, page: int, per_page: int
) -> tuple[list[WebhookEndpoint], int]:
    """The app's endpoints, oldest first."""
    statement = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.app_id == app_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return fetch_page(session, statement, page=page, per_page=per_page)


def update_endpoint(
    *,
    session: Session,
    endpoint: WebhookEndpoint,
    changes: Mapping[str, Any],
    destinations: UrlChecker,
) -> WebhookEndpoint:
    """Change the URL, events, description or `enabled`; enabling a disabled endpoint resumes
    its waiting messages now."""
    if "url" in changes:
        _check_url(destinations, changes["url"])
        endpoint.url = changes["url"]
    if "events" in changes:
        endpoint.events = normalized_events(changes["events"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if changes.get("enabled") is True and not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
        _resume_messages(session, endpoint.id)
    elif changes.get("enabled") is False:
        endpoint.enabled = False
        endpoint.disabled_reason = endpoint.disabled_reason or "disabled by the app"
    session.flush()
    return endpoint


def delete_endpoint(session: Session, *, endpoint: WebhookEndpoint) -> None:
    """Forget the endpoint, its waiting events, messages and attempts."""
    session.delete(endpoint)
    session.flush()


def rotate_secret(*, session: Session, endpoint: WebhookEndpoint, encryptor: Encryptor) -> str:
    """A new signing secret (shown once); the replaced one signs too for a day."""
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_until = utcnow() + PREVIOUS_SECRET_OVERLAP
    endpoint.secret_encrypted = encryptor.encrypt(secret)
    session.flush()
    return secret


def signing_secrets(
    endpoint: WebhookEndpoint, encryptor: Encryptor, *, now: datetime | None = None
) -> list[str]:
    """The secrets a message is signed with now: the current one, then the replaced one while
    its overlap lasts."""
    found = [encryptor.decrypt(endpoint.secret_encrypted)]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret_encrypted and until and until > (now or utcnow()):
        found.append(encryptor.decrypt(endpoint.previous_secret_encrypted))
    return found


def list_attempts(
    session: Session, *, endpoint: WebhookEndpoint, page: int, per_page: int
) -> tuple[list[WebhookAttempt], int]:
    """The endpoint's attempts, newest first."""
    statement = (
        select(WebhookAttempt)
        .where(WebhookAttempt.endpoint_id == endpoint.id)
        .order_by(WebhookAttempt.created_at.desc(), WebhookAttempt.id)
    )
    return fetch_page(session, statement, page=page, per_page=per_page)


def normalized_events(events: Sequence[str]) -> list[str]:
    """`["*"]` when it names every type, else each type once, in the documented order."""
    if ALL_EVENTS in events:
        return [ALL_EVENTS]
    chosen = set(events)
    return [event_type for event_type in EVENT_TYPES if event_type in chosen]


def endpoint_view(endpoint: WebhookEndpoint, *, secret: str | None = None) -> dict[str, Any]:
    """An endpoint as the Herald API shows it; its secret only when just made."""
    view = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason,
        "createdAt": iso(endpoint.created_at),
        "updatedAt": iso(endpoint.updated_at),
    }
    if secret is not None:
        view["secret"] = secret
    return view


def attempt_view(attempt: WebhookAttempt) -> dict[str, Any]:
    return {
        "id": attempt.id,
        "createdAt": iso(attempt.created_at),
        "webhookId": attempt.message_id,
        "eventCount": attempt.event_count,
        "statusCode": attempt.status_code,
        "error": attempt.error,
        "latencyMs": attempt.latency_ms,
        "responseBody": attempt.response_body,
    }


def sent_test_view(attempt: WebhookAttempt) -> dict[str, Any]:
    """A test send's attempt, and whether the endpoint took it."""
    return {**attempt_view(attempt), "delivered": attempt.delivered}


def _check_url(destinations: UrlChecker, url: str) -> None:
    refusal = destinations.registration_refusal(url)
    if refusal is not None:
        raise InvalidRequest(refusal, field="url")


def _resume_messages(session: Session, endpoint_id: str) -> None:
    session.execute(
        update(WebhookMessage)
        .where(
            WebhookMessage.endpoint_id == endpoint_id,
            WebhookMessage.status == MessageStatus.QUEUED,
        )
        .values(next_attempt_at=utcnow(), lease_until=None)
        .execution_options(synchronize_session=False)
    )

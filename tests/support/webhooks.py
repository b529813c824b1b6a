"""Webhook endpoints made through the API, a batch making every kind of delivery event, and
what the outbox holds, for the webhook tests."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.runtime import Runtime
from app.webhooks.models import WebhookEvent, WebhookMessage
from tests.support.factories import Tenant
from tests.support.sinks import SmtpSink

URL = "/api/webhooks"
# A batch to these three, the relay refusing cy (`refuse_cy`), makes every kind of delivery event.
TARGETS = [
    {"external_id": "ann", "email": "ann@example.com"},
    {"external_id": "bob"},  # no address: email skipped
    {"external_id": "cy", "email": "cy@example.com"},  # the relay refuses it
]
# The events of that batch, counted by (type, channel): no one has a push subscription, and
# cy's refused address is suppressed.
TARGETS_EVENTS = {
    ("delivery.sent", "in_app"): 3,
    ("delivery.sent", "email"): 1,
    ("delivery.skipped", "email"): 1,
    ("delivery.failed", "email"): 1,
    ("delivery.skipped", "push"): 3,
    ("suppression.added", None): 1,
    ("notification.completed", None): 1,
}


def refuse_cy(smtp_sink: SmtpSink) -> None:
    """The relay answers that cy's address does not exist (a hard bounce)."""
    smtp_sink.fail("cy@example.com", "550 5.1.1 No such user", times=2)


def create_webhook(
    client: FlaskClient, tenant: Tenant, url: str, events: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """An endpoint subscribed to `events` (default every type); its view, with its secret."""
    body = {"url": url, "events": events or ["*"], **extra}
    response = client.post(URL, json=body, headers=tenant.headers())
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def outbox_rows(runtime: Runtime) -> int:
    """Events waiting in the outbox plus messages formed from them, for every app."""
    with runtime.database.transaction() as session:
        events = session.scalar(select(func.count()).select_from(WebhookEvent))
        messages = session.scalar(select(func.count()).select_from(WebhookMessage))
    return int(events or 0) + int(messages or 0)


def pending_events(runtime: Runtime) -> list[dict[str, Any]]:
    """The events the outbox holds, not yet formed into a message, oldest first."""
    with runtime.database.transaction() as session:
        payloads = session.scalars(select(WebhookEvent.payload).order_by(WebhookEvent.created_at))
        return [json.loads(payload) for payload in payloads]

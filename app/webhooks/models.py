"""Webhook endpoints, the outbox of events waiting for them, the signed messages formed from
those events, and each attempt at sending one (docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdMixin, TimestampMixin, utcnow


class EventType(StrEnum):
    DELIVERY_SENT = "delivery.sent"
    DELIVERY_FAILED = "delivery.failed"
    DELIVERY_SKIPPED = "delivery.skipped"
    DELIVERY_RETRYING = "delivery.retrying"
    NOTIFICATION_COMPLETED = "notification.completed"
    NOTIFICATION_CANCELLED = "notification.cancelled"
    SUPPRESSION_ADDED = "suppression.added"
    USER_UNSUBSCRIBED = "user.unsubscribed"


EVENT_TYPES = tuple(t.value for t in EventType)
# Subscribes an endpoint to every type, those added later included.
ALL_EVENTS = "*"
# Sent on demand only (`POST /api/webhooks/<id>/test`): never subscribed to.
TEST_EVENT = "webhook.test"


def is_success(status_code: int | None) -> bool:
    """An endpoint took a message when it answered 2xx; anything else is retried."""
    return status_code is not None and 200 <= status_code < 300


def is_batched(event_type: str) -> bool:
    """Delivery events go to an endpoint up to 100 per message; every other event alone."""
    return event_type.startswith("delivery.")


class WebhookEndpoint(Base, IdMixin, TimestampMixin):
    """A URL of an app's that is sent the event types it subscribed to, signed with its secret.

    `failing_since` is when the current run of failed attempts began (None: the last attempt
    succeeded); after a day of failures the endpoint is disabled, with `disabled_reason`.
    """

    __tablename__ = "webhook_endpoints"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    # Event types, or ["*"] for all of them.
    events: Mapped[list[str]] = mapped_column()
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The signing secret (`whsec_...`), encrypted; the one it replaced signs too until
    # `previous_secret_until` (docs/webhooks.md: rotation).
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column()
    failing_since: Mapped[datetime | None] = mapped_column()


class WebhookEvent(Base, IdMixin):
    """An event waiting for one endpoint: written in the transaction of the change it reports,
    deleted when a message takes it (whose body then holds it)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_endpoint_id_created_at", "endpoint_id", "created_at"),
    )

    event_id: Mapped[str] = mapped_column(String(40))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    # The event as sent, {"id", "type", "timestamp", "appId", "data"}, serialized once when it
    # is written: a message's body is these texts joined, never decoded and encoded again.
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class MessageStatus(StrEnum):
    QUEUED = "queued"  # waits for `next_attempt_at`
    SENDING = "sending"  # claimed by a worker until `lease_until`
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: a day of failures while the endpoint took other messages


class WebhookMessage(Base, TimestampMixin):
    """One POST to an endpoint, its body fixed when it was formed: every attempt sends the same
    body with the same `webhook-id` (the message's id)."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        Index("ix_webhook_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    event_count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Queued: a task for it is in the broker until then; sending: its worker owns it until then.
    # Past it, the worker pass takes the message for lost and enqueues it again.
    lease_until: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()


class WebhookAttempt(Base, IdMixin):
    """One POST of a message: the status code or the error, and how long it took."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_endpoint_id_created_at", "endpoint_id", "created_at"),
    )

    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(40))
    event_count: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[int] = mapped_column(Integer)
    # The first KB of the endpoint's answer, for the app's developers.
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def delivered(self) -> bool:
        return is_success(self.status_code)

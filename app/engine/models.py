"""A notification is one send request; a delivery is one recipient on one channel."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdMixin, TimestampMixin


class NotificationStatus(StrEnum):
    """A notification's stored status; its transitions are `app.engine.lifecycle`'s."""

    SCHEDULED = "scheduled"  # accepted, waits in the database until `send_at`
    QUEUED = "queued"
    DISPATCHING = "dispatching"
    SENDING = "sending"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    CANCELLED = "cancelled"


class ChunkStatus(StrEnum):
    """A chunk is queued until one chunk task claims it (`app.engine.pipeline`)."""

    QUEUED = "queued"
    DONE = "done"


class DeliveryStatus(StrEnum):
    """One delivery's status; its transitions are `app.engine.states`'s."""

    QUEUED = "queued"
    SENDING = "sending"
    RETRYING = "retrying"  # failed for now: waits in the database until `next_attempt_at`
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class Notification(Base, IdMixin, TimestampMixin):
    """One accepted send: templated (the send API), direct (`POST /api/v1/notifications/send`)
    or a broadcast (the inbox API's `POST /broadcasts`).

    `status` follows `app.engine.lifecycle`; it may lag a moment behind the chunks and
    deliveries, from which readers derive the current state (`app.engine.progress`).
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_app_id_created_at", "app_id", "created_at"),
        # GET /broadcasts pages through one kind of an app's notifications, newest first.
        Index("ix_notifications_app_id_kind_created_at", "app_id", "kind", "created_at"),
        # Scheduled sends that are due: the worker finds them here, whatever Redis has lost.
        Index("ix_notifications_status_send_at", "status", "send_at"),
    )

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), default=NotificationStatus.QUEUED.value)
    channels: Mapped[list[str]] = mapped_column()
    template_id: Mapped[str | None] = mapped_column(String(36))
    template_version_id: Mapped[str | None] = mapped_column(String(36))
    template_key: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(Text)
    tag: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str | None] = mapped_column(String(100))
    # Template variables and push overrides, or the literal content of a direct send/broadcast.
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Targets exactly as accepted; the dispatcher splits them into chunks.
    targets: Mapped[list[Any]] = mapped_column(default=list)
    target_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[list[Any]] = mapped_column(default=list)
    sent_from: Mapped[str] = mapped_column(String(16), default="api")
    created_by: Mapped[str | None] = mapped_column(String(64))
    # When a scheduled send starts (None: it started when it was accepted).
    send_at: Mapped[datetime | None] = mapped_column()

    @property
    def has_literal_content(self) -> bool:
        """The same content for every recipient (broadcasts, direct sends), kept in `content`;
        templated sends render per recipient instead."""
        return self.kind != "template"


class NotificationChunk(Base, IdMixin, TimestampMixin):
    """A slice of a batch's targets, processed by one chunk task."""

    __tablename__ = "notification_chunks"

    notification_id: Mapped[str] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    targets: Mapped[list[Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=ChunkStatus.QUEUED.value, index=True)


class Delivery(Base, IdMixin, TimestampMixin):
    """One recipient on one channel; its status follows `app.engine.states`."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_notification_channel_status", "notification_id", "channel", "status"),
        Index("ix_deliveries_status_updated_at", "status", "updated_at"),
        # Retries that are due: the worker finds them here, whatever Redis has lost.
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # What to send, rendered once by the chunk task: a retry sends exactly the same thing.
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sent_at: Mapped[datetime | None] = mapped_column()
    # When a delivery that failed for now is tried again (None: not waiting to retry).
    next_attempt_at: Mapped[datetime | None] = mapped_column()

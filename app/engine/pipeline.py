"""The batch pipeline's steps as plain functions: dispatch into chunks, then process a chunk.

Actors in `workers/delivery.py` call these inside a transaction and enqueue after commit; the
chunks are released to them at their app's pace (`app.engine.pacing`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.engine.fanout import ContentFor, FanOut, fan_out
from app.engine.models import ChunkStatus, Notification, NotificationChunk, NotificationStatus
from app.orm import utcnow
from app.suppressions.links import UnsubscribeLinks
from app.users.models import User
from app.users.service import mark_notified
from app.users.targets import Target, resolve_users
from templates_store.models import TemplateVersion
from templates_store.rendering import render


@dataclass(frozen=True)
class LiteralContent:
    """The same content for every recipient (direct sends and broadcasts)."""

    in_app: Mapping[str, Any] | None = None
    email: Mapping[str, Any] | None = None
    push: Mapping[str, Any] | None = None
    # A broadcast's mobile push part, when its overrides make it differ from Web Push's.
    mobile_push: Mapping[str, Any] | None = None


def split_into_chunks(
    session: Session, *, notification_id: str, chunk_size: int
) -> list[tuple[str, int]]:
    """Store the notification's targets as chunks (once); returns the (id, position) of each
    unprocessed chunk, in order."""
    notification = session.get(Notification, notification_id, with_for_update=True)
    if notification is None:
        return []
    if notification.status == NotificationStatus.CANCELLED:
        # Chunks its feeder had not released yet: done, so that none looks lost to the reconciler.
        session.execute(
            update(NotificationChunk)
            .where(
                NotificationChunk.notification_id == notification_id,
                NotificationChunk.status == ChunkStatus.QUEUED,
            )
            .values(status=ChunkStatus.DONE, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return []
    if notification.status == NotificationStatus.QUEUED:
        targets = notification.targets
        for position, start in enumerate(range(0, len(targets), chunk_size)):
            session.add(
                NotificationChunk(
                    notification_id=notification.id,
                    position=position,
                    targets=targets[start : start + chunk_size],
                )
            )
        notification.status = NotificationStatus.DISPATCHING
        # The chunks now hold the targets; keep one copy, not two, of up to 10,000 entries.
        notification.targets = []
        session.flush()
    rows = session.execute(
        select(NotificationChunk.id, NotificationChunk.position)
        .where(
            NotificationChunk.notification_id == notification_id,
            NotificationChunk.status == ChunkStatus.QUEUED,
        )
        .order_by(NotificationChunk.position)
    )
    return [(chunk_id, position) for chunk_id, position in rows]


def process_chunk(
    session: Session, *, chunk_id: str, links: UnsubscribeLinks
) -> tuple[Notification, FanOut] | None:
    """Resolve the chunk's users and fan out; None when the chunk was already taken or done."""
    claimed = session.execute(
        update(NotificationChunk)
        .where(NotificationChunk.id == chunk_id, NotificationChunk.status == ChunkStatus.QUEUED)
        .values(status=ChunkStatus.DONE, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        return None
    chunk = session.get(NotificationChunk, chunk_id)
    notification = session.get(Notification, chunk.notification_id)
    if notification.status == NotificationStatus.CANCELLED:
        return notification, FanOut()
    targets = [Target.from_json(t) for t in chunk.targets]
    # The notification moves on to `sending` after this commits (`lifecycle.advance`).
    fanned = deliver_to_targets(session, notification=notification, targets=targets, links=links)
    return notification, fanned


def deliver_to_targets(
    session: Session, *, notification: Notification, targets: list[Target], links: UnsubscribeLinks
) -> FanOut:
    """Create or update the targets' users and fan the notification out to them."""
    users = resolve_users(session, app_id=notification.app_id, targets=targets)
    mark_notified(session, app_id=notification.app_id, user_ids=[u.id for u in users])
    return fan_out(
        session,
        notification=notification,
        users=users,
        content_for=content_for(session, notification),
        links=links,
    )


def deliver_per_channel(
    session: Session,
    *,
    notification: Notification,
    users: Mapping[str, Sequence[User]],
    links: UnsubscribeLinks,
) -> FanOut:
    """Fan a notification out to each channel's own users (a direct send's recipients)."""
    fanned = FanOut()
    content = content_for(session, notification)
    notified = {user.id for channel_users in users.values() for user in channel_users}
    mark_notified(session, app_id=notification.app_id, user_ids=sorted(notified))
    for channel, channel_users in users.items():
        part = fan_out(
            session,
            notification=notification,
            users=channel_users,
            content_for=content,
            links=links,
            channels=[channel],
        )
        fanned.merge(part)
    return fanned


def content_for(session: Session, notification: Notification) -> ContentFor:
    """How each recipient's content is produced: a template render, or literal content."""
    if notification.has_literal_content:
        literal = LiteralContent(**notification.content)
        return lambda _user, _unsubscribe_url: literal
    version = session.get(TemplateVersion, notification.template_version_id)
    push_overrides = notification.content.get("notificationPushData")
    return lambda user, unsubscribe_url: render(
        version,
        variables=notification.variables,
        user=user_context(user),
        push_overrides=push_overrides,
        unsubscribe_url=unsubscribe_url,
    )


def user_context(user: User) -> dict[str, Any]:
    """What templates see as `user`."""
    return {
        "id": user.id,
        "external_id": user.external_id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "custom_attributes": user.custom_attributes or {},
    }

"""Turning one notification and a set of users into inbox rows and deliveries, in bulk.

Used by batch chunk tasks and by realtime sends alike. A channel a user cannot be reached on is
recorded as a `skipped` delivery with its reason, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.engine import outcome_log, states, webhook_events
from app.engine.email_audience import EmailAudience
from app.engine.inbox_rows import in_app_overflow, inbox_row, inbox_values
from app.engine.models import Delivery, Notification
from app.inbox.models import InboxNotification
from app.inbox.views import inbox_view
from app.orm import new_id, utcnow
from app.preferences.service import opt_outs
from app.push.models import PushSubscription
from app.push.providers import configured_platforms
from app.push.service import active_subscriptions, channel_for_platform
from app.suppressions.links import UnsubscribeLinks
from app.tenants.models import App
from app.topics.service import unsubscribed_user_ids
from app.users.models import User
from templates_store.errors import RenderFailed


class RenderedContent(Protocol):
    """Per-channel content for one recipient (a rendered template, or literal content)."""

    in_app: Mapping[str, Any] | None
    email: Mapping[str, Any] | None
    push: Mapping[str, Any] | None

    @property
    def mobile_push(self) -> Mapping[str, Any] | None:
        """Content for Android and iOS devices when it differs from `push` (a broadcast's)."""
        ...


# An email payload holding this instead of subject/text/HTML sends the notification's own
# literal email content (`Notification.content["email"]`), stored once rather than per recipient.
SHARED_EMAIL = {"content": "notification"}


# Renders for a recipient, given the recipient's unsubscribe link ("" when there is none).
ContentFor = Callable[[User, str], RenderedContent]


@dataclass
class FanOut:
    # (user id, inbox view) of each new inbox row, for the realtime event after commit.
    inbox_events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    email_delivery_ids: list[str] = field(default_factory=list)
    push_delivery_ids: list[str] = field(default_factory=list)
    # The deliveries whose outcome fan-out decided (in-app sent, skipped, failed to render),
    # told by `report_outcomes` once they are committed: a chunk rolled back and run again
    # would otherwise log and count them twice.
    decided: list[dict[str, Any]] = field(default_factory=list)
    accepted_at: datetime | None = None

    def report_outcomes(self) -> None:
        """Log and count the outcomes decided at fan-out; call after the commit."""
        outcome_log.fanned_out(self.decided, accepted_at=self.accepted_at)

    def merge(self, part: FanOut) -> None:
        """Take in the fan-out of another part of the same notification."""
        self.inbox_events += part.inbox_events
        self.email_delivery_ids += part.email_delivery_ids
        self.push_delivery_ids += part.push_delivery_ids
        self.decided += part.decided
        self.accepted_at = part.accepted_at


def fan_out(
    session: Session,
    *,
    notification: Notification,
    users: Sequence[User],
    content_for: ContentFor,
    links: UnsubscribeLinks,
    channels: Sequence[str] | None = None,
) -> FanOut:
    """Write inbox rows and one delivery per user and channel (default: the notification's)."""
    chosen = list(channels or notification.channels)
    lookups = Lookups.of(
        session, notification=notification, users=users, links=links, chosen=chosen
    )
    rows = _Rows(notification, chosen, lookups)
    for user in users:
        rows.add(user, content_for)
    _insert(session, rows.deliveries, rows.inbox_rows)
    webhook_events.deliveries_created(session, notification.app_id, rows.deliveries, users)
    return rows.result()


@dataclass(frozen=True)
class Lookups:
    """What decides the recipients' deliveries, read for all of them at once (one query each)."""

    blocked: Mapping[str, Mapping[str, bool]]  # user id -> channels switched off
    unsubscribed: set[str]  # users who left the notification's topic or category
    subscriptions: Mapping[str, list[PushSubscription]]
    audience: EmailAudience
    # Mobile platforms the app has a provider for: "android" (FCM), "ios" (APNs).
    mobile_platforms: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        session: Session,
        *,
        notification: Notification,
        users: Sequence[User],
        links: UnsubscribeLinks,
        chosen: Sequence[str],
    ) -> Lookups:
        user_ids = [u.id for u in users]
        app_id, category = notification.app_id, notification.category
        app = session.get(App, app_id)  # its critical categories, its push providers
        mobile = configured_platforms(app) if app is not None and "push" in chosen else frozenset()
        return cls(
            blocked=opt_outs(session, app_id=app_id, user_ids=user_ids, category=category),
            unsubscribed=unsubscribed_user_ids(
                session,
                app_id=app_id,
                user_ids=user_ids,
                topic=notification.topic,
                category=category,
            ),
            subscriptions=active_subscriptions(session, app_id=app_id, user_ids=user_ids),
            audience=EmailAudience.of(
                session, app, notification, users, links=links, emails="email" in chosen
            ),
            mobile_platforms=mobile,
        )

    def recipient(self, user: User, unsubscribe_url: str) -> Recipient:
        return Recipient(
            user,
            skip="unsubscribed" if user.id in self.unsubscribed else None,
            blocked=self.blocked.get(user.id, {}),
            subscriptions=self.subscriptions.get(user.id, []),
            unsubscribe_url=unsubscribe_url,
        )


@dataclass
class _Rows:
    """The rows a fan-out writes, built one recipient at a time."""

    notification: Notification
    chosen: list[str]
    lookups: Lookups
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    inbox_rows: list[dict[str, Any]] = field(default_factory=list)
    inbox_events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def shared(self) -> bool:
        # Literal content is stored once, on the notification: emails and inbox rows refer to
        # it (a 4 MiB broadcast to 1,000 people would otherwise store GBs of copies).
        return self.notification.has_literal_content

    def add(self, user: User, content_for: ContentFor) -> None:
        notification = self.notification
        unsubscribe_url = self.lookups.audience.unsubscribe_url(user)
        try:
            content = content_for(user, unsubscribe_url)
        except RenderFailed as exc:
            # One recipient's values broke the template: record it, never fail the chunk.
            failure = f"render failed: {exc}"[:500]
            self.deliveries += [_failed(notification, user, c, failure) for c in self.chosen]
            return
        recipient = self.lookups.recipient(user, unsubscribe_url)
        for channel in self.chosen:
            delivery = _delivery_for(
                notification, recipient, channel, content,
                lookups=self.lookups, shared=self.shared,
            )  # fmt: skip
            if channel == "in_app" and delivery["status"] == states.SENT:
                delivery = self._add_inbox_row(user, content.in_app or {}, delivery)
            self.deliveries.append(delivery)

    def _add_inbox_row(
        self, user: User, in_app: Mapping[str, Any], delivery: dict[str, Any]
    ) -> dict[str, Any]:
        """The inbox row and its realtime event; a failed delivery when the row cannot fit."""
        overflow = in_app_overflow(in_app)
        if overflow is not None:  # only this recipient's inbox row is refused
            return _failed(self.notification, user, "in_app", f"render failed: {overflow}")
        row = inbox_row(self.notification, user, in_app, shared=self.shared)
        self.inbox_rows.append(inbox_values(row))
        self.inbox_events.append((user.id, inbox_view(row, in_app if self.shared else None)))
        return delivery

    def result(self) -> FanOut:
        queued = [d for d in self.deliveries if d["status"] == states.QUEUED]
        return FanOut(
            inbox_events=self.inbox_events,
            email_delivery_ids=[d["id"] for d in queued if d["channel"] == "email"],
            push_delivery_ids=[d["id"] for d in queued if d["channel"] == "push"],
            decided=[d for d in self.deliveries if d["status"] != states.QUEUED],
            accepted_at=self.notification.send_at or self.notification.created_at,
        )


def _insert(
    session: Session, deliveries: list[dict[str, Any]], inbox_rows: list[dict[str, Any]]
) -> None:
    """Plain executemany inserts: the ORM's multi-row INSERT ... VALUES statements for a chunk
    were so long that the driver spent most of a chunk task re-parsing them."""
    session.flush()  # the notification and any new users, which these rows reference
    connection = session.connection()
    if deliveries:
        connection.execute(insert(Delivery.__table__), deliveries)
    if inbox_rows:
        connection.execute(insert(InboxNotification.__table__), inbox_rows)


@dataclass(frozen=True)
class Recipient:
    """One user, with what decides their deliveries of this notification."""

    user: User
    skip: str | None  # a reason every channel is skipped for (a topic opt-out)
    blocked: Mapping[str, bool]  # channels switched off -> by an unsubscribe link
    subscriptions: list[PushSubscription]
    unsubscribe_url: str


def _delivery_for(
    notification: Notification,
    recipient: Recipient,
    channel: str,
    content: RenderedContent,
    *,
    lookups: Lookups,
    shared: bool,
) -> dict[str, Any]:
    status, reason, payload = _decide(notification, channel, recipient, content, lookups, shared)
    return _new_delivery(notification, recipient.user, channel, status, reason, payload)


def _failed(notification: Notification, user: User, channel: str, reason: str) -> dict[str, Any]:
    return _new_delivery(notification, user, channel, states.FAILED, reason, {})


def _new_delivery(
    notification: Notification,
    user: User,
    channel: str,
    status: str,
    reason: str | None,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """A delivery row born in its status: queued, or already final (sent in-app, skipped,
    failed)."""
    now = utcnow()
    return {
        "id": new_id(),
        "app_id": notification.app_id,
        "notification_id": notification.id,
        "user_id": user.id,
        "channel": channel,
        "target": user.identity,
        "status": status,
        "reason": reason,
        "attempts": 0 if status in (states.QUEUED, states.SKIPPED) else 1,
        "payload": payload,
        "sent_at": now if status == states.SENT else None,
        "created_at": now,
        "updated_at": now,
    }


def _decide(
    notification: Notification,
    channel: str,
    recipient: Recipient,
    content: RenderedContent,
    lookups: Lookups,
    shared: bool,
) -> tuple[str, str | None, dict[str, Any]]:
    """(status, reason, payload) for one user on one channel."""
    if recipient.skip:
        return states.SKIPPED, recipient.skip, {}
    if channel == "in_app":
        if "in_app" in recipient.blocked:
            return states.SKIPPED, "preference", {}
        return states.SENT, None, {}
    if channel == "push":
        return _decide_push(notification, recipient, content, lookups.mobile_platforms)
    return _decide_email(recipient, content, lookups.audience, shared)


def _decide_email(
    recipient: Recipient, content: RenderedContent, audience: EmailAudience, shared: bool
) -> tuple[str, str | None, dict[str, Any]]:
    """A one-click unsubscribe says `unsubscribed`, a choice made in the preferences API
    `preference`; the suppression list is checked once the user has an address."""
    if "email" in recipient.blocked:
        return states.SKIPPED, "unsubscribed" if recipient.blocked["email"] else "preference", {}
    address = recipient.user.email
    if not address:
        return states.SKIPPED, "no_email_address", {}
    refusal = audience.refusal(address)
    if refusal:
        return states.SKIPPED, refusal, {}
    payload = {"to": address, **dict((SHARED_EMAIL if shared else content.email) or {})}
    if recipient.unsubscribe_url:
        payload["unsubscribe_url"] = recipient.unsubscribe_url
    return states.QUEUED, None, payload


def _decide_push(
    notification: Notification,
    recipient: Recipient,
    content: RenderedContent,
    mobile_platforms: frozenset[str],
) -> tuple[str, str | None, dict[str, Any]]:
    """Queued for the platforms the user has a subscription on, has not switched off, and
    Herald can send to (browsers always; Android and iOS once the app configured FCM, APNs);
    skipped with the reason otherwise."""
    if not recipient.subscriptions:
        return states.SKIPPED, "no_push_subscription", {}
    wanted = {
        s.platform
        for s in recipient.subscriptions
        if channel_for_platform(s.platform) not in recipient.blocked
    }
    if not wanted:
        return states.SKIPPED, "preference", {}
    platforms = sorted(wanted & ({"web"} | mobile_platforms))
    if not platforms:  # iOS or Android without the app's provider, or legacy Safari tokens
        return states.SKIPPED, "provider_not_configured", {}
    in_app = content.in_app or {}
    payload: dict[str, Any] = {
        "message": dict(content.push or {}),
        "platforms": platforms,
        "sent_to": [],
    }
    if wanted & mobile_platforms:
        if content.mobile_push and content.mobile_push != content.push:
            payload["mobile_message"] = dict(content.mobile_push)
        payload["category"] = in_app.get("category") or notification.category
        payload["tag"] = notification.tag
    return states.QUEUED, None, payload

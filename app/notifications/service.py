"""The send API's service: accepting templated sends, and reading, listing and cancelling
notifications."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.allowlist.service import screen_targets
from app.engine import lifecycle, pipeline, schedule, states
from app.engine.fanout import FanOut
from app.engine.models import Delivery, Notification, NotificationStatus
from app.engine.progress import derived_status, snapshot
from app.engine.webhook_events import notification_cancelled
from app.notifications.schemas import MODES
from app.orm import utcnow
from app.pagination import fetch_page
from app.refusals import ErrorDetail, HeraldError, InvalidRequest, NotFound, Unprocessable
from app.suppressions.links import UnsubscribeLinks
from app.tenants.models import App
from app.users.targets import Target, email_taken, unique_targets
from app.wire import epoch
from templates_store.errors import InvalidVariables
from templates_store.models import TemplateVersion
from templates_store.rendering import check_push_overrides
from templates_store.service import sendable_version
from templates_store.variables import check_variables


class InvalidMode(HeraldError):
    code = "ERR_INVALID_MODE"


class TargetLimitExceeded(HeraldError):
    code = "ERR_TARGET_LIMIT_EXCEEDED"


class NotCancellable(HeraldError):
    status = 409
    code = "ERR_NOT_CANCELLABLE"


class NotReschedulable(HeraldError):
    status = 409
    code = "ERR_NOT_RESCHEDULABLE"


@dataclass(frozen=True)
class Accepted:
    notification: Notification
    fanned: FanOut | None = None

    @property
    def scheduled(self) -> bool:
        return self.notification.status == NotificationStatus.SCHEDULED


@dataclass
class TemplatedSend:
    """A send under check: each check reads the request and records what it established."""

    app: App
    request: dict[str, Any]
    caller_email: str | None
    mode: str = ""
    send_at: datetime | None = None
    targets: list[Target] = field(default_factory=list)
    version: TemplateVersion | None = None
    accepted: list[Target] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def template(self) -> dict[str, Any]:
        return self.request["template"]


def _push_overrides(send: TemplatedSend, session: Session) -> None:
    problems = check_push_overrides(send.template.get("notificationPushData"))
    if problems:
        raise InvalidRequest(details=[ErrorDetail(p.code, p.message, p.field) for p in problems])


def _send_at(send: TemplatedSend, session: Session) -> None:
    send.send_at = schedule.start_time(send.request.get("sendAt"), field="sendAt")


def _mode(send: TemplatedSend, session: Session) -> None:
    if send.request["mode"] not in MODES:
        raise InvalidMode("mode must be realtime or batch.", field="mode")
    send.mode = send.request["mode"]


def _target_limit(send: TemplatedSend, session: Session) -> None:
    send.targets = unique_targets([Target.from_json(raw) for raw in send.request["targets"]])
    realtime = send.mode == "realtime"
    limit = send.app.realtime_target_limit if realtime else send.app.batch_target_limit
    if len(send.targets) > limit:
        raise TargetLimitExceeded(
            f"{send.mode} mode allows at most {limit} target(s); got {len(send.targets)}.",
            field="targets",
        )


def _template(send: TemplatedSend, session: Session) -> None:
    ref = send.template
    send.version = sendable_version(
        session, app_id=send.app.id, key=ref.get("key"), template_id=ref.get("id")
    )


def _variables(send: TemplatedSend, session: Session) -> None:
    assert send.version is not None
    problems = check_variables(send.version, send.template["variables"])
    if problems:
        raise InvalidVariables(details=problems)


def _email_owners(send: TemplatedSend, session: Session) -> None:
    taken = email_taken(session, app_id=send.app.id, targets=send.targets)
    send.targets = [t for t in send.targets if t not in taken]
    send.rejected += [{"target": t.identity, "reason": "email_taken"} for t in taken]


def _allow_list(send: TemplatedSend, session: Session) -> None:
    send.accepted, refused = screen_targets(
        session, app=send.app, targets=send.targets, caller_email=send.caller_email
    )
    send.rejected += refused
    if not send.accepted:
        raise Unprocessable(
            "No target can be sent to: each was refused by the allow-list or names an email "
            "address another user owns.",
            code="ERR_NO_ALLOWED_TARGETS",
            field="targets",
        )


# The send API's checks, in the order it documents them (docs/sending.md): the first refusal wins.
SEND_CHECKS = (
    _push_overrides,
    _send_at,
    _mode,
    _target_limit,
    _template,
    _variables,
    _email_owners,
    _allow_list,
)


def accept_templated_send(
    session: Session,
    *,
    app: App,
    created_by: str | None,
    caller_email: str | None,
    request: dict[str, Any],
    links: UnsubscribeLinks,
) -> Accepted:
    """Run `SEND_CHECKS`, store the send, and for realtime fan it out now (its emails carrying
    `links`) unless it is scheduled for later."""
    send = TemplatedSend(app=app, request=request, caller_email=caller_email)
    for check in SEND_CHECKS:
        check(send, session)
    version, ref = send.version, send.template
    assert version is not None
    in_app = version.channels.get("in_app") or {}
    batch, later = send.mode == "batch", send.send_at is not None
    status = NotificationStatus.QUEUED if batch else NotificationStatus.SENDING
    notification = Notification(
        app_id=app.id,
        kind="template",
        mode=send.mode,
        status=NotificationStatus.SCHEDULED if later else status,
        send_at=send.send_at,
        channels=version.channel_names,
        template_id=version.template_id,
        template_version_id=version.id,
        template_key=version.template.key,
        title=request.get("title"),
        tag=request.get("tag"),
        category=in_app.get("category") or None,
        topic=in_app.get("topic") or None,
        variables=ref["variables"],
        content={"notificationPushData": ref.get("notificationPushData")},
        targets=[t.as_json() for t in send.accepted] if batch or later else [],
        target_count=len(send.accepted),
        rejected=send.rejected,
        created_by=created_by,
    )
    session.add(notification)
    session.flush()
    if batch or later:
        return Accepted(notification)
    fanned = pipeline.deliver_to_targets(
        session, notification=notification, targets=send.accepted, links=links
    )
    lifecycle.advance_fanned_out(session, notification)
    return Accepted(notification, fanned)


def get_notification(session: Session, *, app_id: str, notification_id: str) -> Notification:
    notification = session.get(Notification, notification_id)
    if notification is None or notification.app_id != app_id:
        raise NotFound("No such notification.", code="ERR_NOTIFICATION_NOT_FOUND")
    return notification


def list_notifications(
    session: Session,
    *,
    app_id: str,
    page: int,
    per_page: int,
    kind: str | None = None,
    statuses: Sequence[str] | None = None,
    template_key: str | None = None,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
) -> tuple[list[Notification], int]:
    """The app's notifications, newest first; `statuses` filters on the stored status, the
    creation times on `created_from <= created_at < created_before`."""
    query = select(Notification).where(Notification.app_id == app_id)
    if kind:
        query = query.where(Notification.kind == kind)
    if statuses:
        query = query.where(Notification.status.in_(statuses))
    if template_key:
        query = query.where(Notification.template_key == template_key)
    if created_from:
        query = query.where(Notification.created_at >= created_from)
    if created_before:
        query = query.where(Notification.created_at < created_before)
    ordered = query.order_by(Notification.created_at.desc(), Notification.id)
    return fetch_page(session, ordered, page=page, per_page=per_page)


def describe(session: Session, notifications: list[Notification]) -> list[dict[str, Any]]:
    """Wire views with status and progress, for a page of notifications in two queries."""
    progress, pending = snapshot(session, notifications)
    return [
        notification_view(n, progress[n.id], derived_status(n, progress[n.id], n.id in pending))
        for n in notifications
    ]


def describe_by_ids(session: Session, *, app_id: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """`describe` for those of the notifications named that are the app's (others are absent)."""
    mine = (Notification.app_id == app_id, Notification.id.in_(ids))
    return describe(session, list(session.scalars(select(Notification).where(*mine))))


def notification_view(notification: Notification, progress: dict, status: str) -> dict[str, Any]:
    return {
        "notificationId": notification.id,
        "templateKey": notification.template_key,
        "channels": notification.channels,
        "mode": notification.mode,
        "title": notification.title,
        "tag": notification.tag,
        "sentFrom": notification.sent_from,
        "createdAt": iso(notification.created_at),
        "status": status,
        "sendAt": iso(notification.send_at) if notification.send_at else None,
        "targets": notification.target_count,
        "rejected": notification.rejected,
        "progress": progress,
    }


def cancel_notification(session: Session, *, app_id: str, notification_id: str) -> Notification:
    """Cancel what has not been sent yet; completed notifications cannot be cancelled."""
    notification = get_notification(session, app_id=app_id, notification_id=notification_id)
    [view] = describe(session, [notification])
    if view["status"] in ("completed", "completed_with_errors"):
        raise NotCancellable("The notification has completed.")
    notification.status = NotificationStatus.CANCELLED
    states.cancel_queued(session, notification_id=notification.id)
    session.flush()
    notification_cancelled(session, notification)
    return notification


def reschedule_notification(
    session: Session, *, app_id: str, notification_id: str, send_at: datetime
) -> Notification:
    """Move a scheduled send to `send_at` (checked as `sendAt` is; a time just past starts it
    now); one that has started, or was cancelled, cannot be rescheduled."""
    notification = get_notification(session, app_id=app_id, notification_id=notification_id)
    when = schedule.start_time(send_at, field="sendAt") or utcnow()
    if not lifecycle.reschedule(session.connection(), notification.id, send_at=when):
        raise NotReschedulable("Only a scheduled send that has not started can be rescheduled.")
    session.refresh(notification)
    return notification


def list_deliveries(
    session: Session,
    *,
    app_id: str,
    notification_id: str,
    statuses: list[str] | None,
    channels: list[str] | None,
    page: int,
    per_page: int,
    reason: str | None = None,
) -> tuple[list[Delivery], int]:
    """A notification's deliveries, oldest first; `reason` matches part of the last reason."""
    get_notification(session, app_id=app_id, notification_id=notification_id)
    query = select(Delivery).where(Delivery.notification_id == notification_id)
    if statuses:
        query = query.where(Delivery.status.in_(statuses))
    if channels:
        query = query.where(Delivery.channel.in_(channels))
    if reason:
        query = query.where(Delivery.reason.contains(reason, autoescape=True))
    ordered = query.order_by(Delivery.created_at, Delivery.id)
    return fetch_page(session, ordered, page=page, per_page=per_page)


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    """One delivery; `reason` is the last failure's while it waits (`retrying`) for
    `nextAttemptAt`."""
    return {
        "id": delivery.id,
        "target": delivery.target,
        "channel": delivery.channel,
        "status": delivery.status,
        "reason": delivery.reason,
        "attempts": delivery.attempts,
        "nextAttemptAt": iso(delivery.next_attempt_at) if delivery.next_attempt_at else None,
        "updatedAt": iso(delivery.updated_at),
    }


def delivery_state(delivery: Delivery) -> dict[str, Any]:
    """One channel's delivery to one recipient, as the MagicBell-compatible inbox API shows it."""
    return {
        "channel": delivery.channel,
        "status": delivery.status,
        "reason": delivery.reason,
        "attempts": delivery.attempts,
        "sent_at": epoch(delivery.sent_at),
    }


def iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z")


def user_history(
    session: Session, *, app_id: str, user_id: str, page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    """The notifications a user was sent, newest first, with their delivery per channel."""
    sent_to_user = (
        select(Delivery.notification_id)
        .where(Delivery.app_id == app_id, Delivery.user_id == user_id)
        .distinct()
    )
    statement = (
        select(Notification)
        .where(Notification.app_id == app_id, Notification.id.in_(sent_to_user))
        .order_by(Notification.created_at.desc(), Notification.id)
    )
    notifications, total = fetch_page(session, statement, page=page, per_page=per_page)
    ids = [n.id for n in notifications]
    deliveries = (
        session.scalars(
            select(Delivery).where(Delivery.user_id == user_id, Delivery.notification_id.in_(ids))
        )
        if ids
        else []
    )
    by_notification: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        by_notification.setdefault(delivery.notification_id, []).append(delivery)
    return [
        {
            "id": n.id,
            "title": n.title,
            "category": n.category,
            "topic": n.topic,
            "template_key": n.template_key,
            "sent_at": epoch(n.created_at),
            "deliveries": [
                delivery_state(d)
                for d in sorted(by_notification.get(n.id, []), key=lambda d: d.channel)
            ],
        }
        for n in notifications
    ], total

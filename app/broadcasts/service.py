"""Broadcasts: literal content for up to 1,000 recipients or topics' subscribers.

A broadcast is a batch `Notification(kind="broadcast")` on the templated batches' pipeline:
stored queued with its recipients resolved to users (or scheduled, when given a `send_at`, until
a worker starts it), then `dispatch_notification` splits it into chunks whose tasks write inbox
rows and email/push deliveries, honouring preferences and topic opt-outs. Recipients are
resolved when the request is accepted, so that two entries naming one user (by email and by
external id, or again through a topic) are one recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.allowlist.service import screen_targets
from app.broadcasts.content import literal_content
from app.engine.models import Notification, NotificationStatus
from app.engine.progress import derived_status, snapshot
from app.engine.schedule import start_time
from app.notifications.service import list_notifications
from app.refusals import HeraldError, NotFound, Unprocessable
from app.tenants.models import App
from app.topics.service import subscriber_user_ids
from app.users.models import User
from app.users.targets import Target, resolve_users, unique_targets
from app.wire import epoch

KIND = "broadcast"
CHANNELS = ["in_app", "email", "push"]
STATUSES = {
    "scheduled": "scheduled",
    "queued": "enqueued",
    "dispatching": "processing",
    "sending": "processing",
}
GIVEN = ("title", "content", "action_url", "category", "topic", "custom_attributes", "overrides")


class BroadcastNotFound(NotFound):
    code = "ERR_BROADCAST_NOT_FOUND"


def accept_broadcast(
    session: Session,
    *,
    app: App,
    created_by: str | None,
    caller_email: str | None,
    broadcast: dict[str, Any],
    name: str = "broadcast",
) -> Notification:
    """Resolve and screen the recipients and store the broadcast, queued for dispatch or
    scheduled for its `send_at`."""
    send_at = start_time(broadcast.get("send_at"), field=f"{name}.send_at")
    recipients, rejected = _recipients(
        session,
        app=app,
        entries=broadcast["recipients"],
        caller_email=caller_email,
        field=f"{name}.recipients",
    )
    notification = Notification(
        app_id=app.id,
        kind=KIND,
        mode="batch",
        status=NotificationStatus.SCHEDULED if send_at else NotificationStatus.QUEUED,
        send_at=send_at,
        channels=CHANNELS,
        title=broadcast["title"],
        category=broadcast.get("category"),
        topic=broadcast.get("topic"),
        variables={**{k: broadcast.get(k) for k in GIVEN}, "recipients": broadcast["recipients"]},
        content=literal_content(broadcast),
        targets=[Target(external_id=u.external_id, email=u.email).as_json() for u in recipients],
        target_count=len(recipients),
        rejected=rejected,
        created_by=created_by,
    )
    session.add(notification)
    session.flush()
    return notification


def _recipients(
    session: Session,
    *,
    app: App,
    entries: Sequence[dict[str, Any]],
    caller_email: str | None,
    field: str,
) -> tuple[list[User], list[dict[str, str]]]:
    """The distinct users the entries name or subscribe, and the allow-list's rejections."""
    topics = list(dict.fromkeys(e["topic"] for e in entries if e.get("topic")))
    subscriber_ids = subscriber_user_ids(session, app_id=app.id, topics=topics)
    _check_limit(app, len(subscriber_ids), field)
    named = unique_targets([Target.from_json(e) for e in entries if not e.get("topic")])
    accepted, rejected = screen_targets(session, app=app, targets=named, caller_email=caller_email)
    users = _resolve(session, app_id=app.id, targets=accepted)
    subscribers, rejected_subscribers = _screened_subscribers(
        session, app=app, user_ids=subscriber_ids, caller_email=caller_email
    )
    recipients = list({user.id: user for user in users + subscribers}.values())
    rejected += rejected_subscribers
    if rejected and not recipients:
        raise Unprocessable(
            "No recipient passed the allow-list.", code="ERR_NO_ALLOWED_TARGETS", field=field
        )
    _check_limit(app, len(recipients), field)
    return recipients, rejected


def _check_limit(app: App, count: int, field: str) -> None:
    """Topics may expand past the 1,000 entries of a request, up to the app's batch limit."""
    if count > app.batch_target_limit:
        raise HeraldError(
            f"A broadcast reaches at most {app.batch_target_limit} recipients; got {count}.",
            code="ERR_TARGET_LIMIT_EXCEEDED",
            status=None,
            field=field,
        )


def _resolve(session: Session, *, app_id: str, targets: Sequence[Target]) -> list[User]:
    """The targets' users, created when unknown (again if a concurrent request won a race)."""
    try:
        with session.begin_nested():
            return resolve_users(session, app_id=app_id, targets=targets)
    except IntegrityError:
        return resolve_users(session, app_id=app_id, targets=targets)


def _screened_subscribers(
    session: Session, *, app: App, user_ids: Sequence[str], caller_email: str | None
) -> tuple[list[User], list[dict[str, str]]]:
    if not user_ids:
        return [], []
    users = list(session.scalars(select(User).where(User.app_id == app.id, User.id.in_(user_ids))))
    targets = [Target(external_id=u.external_id, email=u.email) for u in users]
    accepted, rejected = screen_targets(
        session, app=app, targets=targets, caller_email=caller_email
    )
    kept = {(t.external_id, t.email) for t in accepted}
    return [u for u in users if (u.external_id, u.email) in kept], rejected


def get_broadcast(session: Session, *, app_id: str, broadcast_id: str) -> Notification:
    notification = session.get(Notification, broadcast_id)
    if notification is None or notification.app_id != app_id or notification.kind != KIND:
        raise BroadcastNotFound("No such broadcast.")
    return notification


def list_broadcasts(
    session: Session, *, app_id: str, page: int, per_page: int
) -> tuple[list[Notification], int]:
    """The app's broadcasts, newest first."""
    return list_notifications(session, app_id=app_id, page=page, per_page=per_page, kind=KIND)


def describe(session: Session, broadcasts: Sequence[Notification]) -> list[dict[str, Any]]:
    """Wire views with each broadcast's status, for a page of broadcasts in two queries."""
    progress, pending = snapshot(session, broadcasts)
    return [
        broadcast_view(b, _status(b, progress[b.id], b.id in pending), progress[b.id])
        for b in broadcasts
    ]


def _status(broadcast: Notification, progress: dict[str, Any], chunks_pending: bool) -> str:
    """scheduled, enqueued, processing, or processed (which a cancelled broadcast also is)."""
    return STATUSES.get(derived_status(broadcast, progress, chunks_pending), "processed")


def broadcast_view(
    broadcast: Notification, status: str, progress: dict[str, dict[str, int]]
) -> dict[str, Any]:
    given = broadcast.variables
    return {
        "id": broadcast.id,
        **{name: given.get(name) for name in GIVEN},
        "recipients": given.get("recipients", []),
        "sent_at": epoch(broadcast.created_at),
        # Only a scheduled broadcast's view has it: the seed's view is unchanged otherwise.
        **({"send_at": epoch(broadcast.send_at)} if broadcast.send_at else {}),
        "status": {
            "status": status,
            "summary": {
                "total": broadcast.target_count,
                "failures": sum(counts["failed"] for counts in progress.values()),
            },
            "errors": [
                {
                    "code": r["reason"],
                    "message": f"{r['target']}: {r['reason'].replace('_', ' ')}",
                    "recipient": r["target"],
                }
                for r in broadcast.rejected
            ],
        },
    }

"""`/notifications` for users: the inbox, its read/seen/archived state, live on every socket."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, user_call
from app.extensions import db_session, runtime
from app.families import INBOX_API, serving
from app.http import bool_query, doc, list_query, page_from_query
from app.inbox import service
from app.inbox.schemas import FILTER_QUERY, InboxListView, InboxNotificationEnvelope
from app.inbox.service import InboxChange, InboxFilters
from app.wire import list_body

bp = serving(INBOX_API, Blueprint("inbox", __name__))

ONE = "/notifications/<notification_id>"
DEFAULT_PER_PAGE = 15
NOT_FOUND = {404: (service.InboxNotificationNotFound.code,)}


def _caller() -> dict[str, str]:
    principal = current_principal()
    return {"app_id": principal.app.id, "user_id": principal.user.id}


def _filters() -> InboxFilters:
    return InboxFilters(
        read=bool_query("read"),
        seen=bool_query("seen"),
        archived=bool_query("archived"),
        categories=list_query("categories") or None,
        topics=list_query("topics") or None,
    )


def _published(change: InboxChange) -> tuple[str, int]:
    """Commit the change, then tell the user's sockets (never before: they would refetch)."""
    db_session().commit()
    change.publish(runtime())
    return "", 204


@bp.get("/notifications")
@user_call
@doc(
    response=InboxListView,
    tag="Inbox",
    auth="user",
    query=["page", "per_page", *FILTER_QUERY],
)
def list_notifications() -> Any:
    """The calling user's notifications, newest first, with unread and unseen counts."""
    page = page_from_query(default_per_page=DEFAULT_PER_PAGE)
    filters, session = _filters(), db_session()
    rows, total = service.list_inbox(
        session, **_caller(), filters=filters, page=page.number, per_page=page.per_page
    )
    views = service.inbox_views(session, rows)
    body = list_body("notifications", views, total=total, page=page.number, per_page=page.per_page)
    return {**body, **service.counts(session, **_caller(), filters=filters).as_json()}


@bp.get(ONE)
@user_call
@doc(response=InboxNotificationEnvelope, tag="Inbox", auth="user", errors=NOT_FOUND)
def show_notification(notification_id: str) -> Any:
    """One of the calling user's notifications."""
    session = db_session()
    row = service.get_notification(session, **_caller(), notification_id=notification_id)
    return {"notification": service.inbox_views(session, [row])[0]}


@bp.delete(ONE)
@user_call
@doc(status=204, tag="Inbox", auth="user", errors=NOT_FOUND)
def delete_notification(notification_id: str) -> Any:
    """Delete a notification from the calling user's inbox."""
    return _published(
        service.delete_notification(db_session(), **_caller(), notification_id=notification_id)
    )


def _change(notification_id: str, action: str) -> tuple[str, int]:
    change = service.change_notification(
        db_session(), **_caller(), notification_id=notification_id, action=action
    )
    return _published(change)


@bp.post(f"{ONE}/read")
@user_call
@doc(status=204, tag="Inbox", auth="user", errors=NOT_FOUND)
def mark_read(notification_id: str) -> Any:
    """Mark a notification read (and so seen)."""
    return _change(notification_id, "read")


@bp.post(f"{ONE}/unread")
@user_call
@doc(status=204, tag="Inbox", auth="user", errors=NOT_FOUND)
def mark_unread(notification_id: str) -> Any:
    """Mark a notification unread."""
    return _change(notification_id, "unread")


@bp.post(f"{ONE}/archive")
@user_call
@doc(status=204, tag="Inbox", auth="user", errors=NOT_FOUND)
def archive(notification_id: str) -> Any:
    """Archive a notification."""
    return _change(notification_id, "archive")


@bp.post(f"{ONE}/unarchive")
@user_call
@doc(status=204, tag="Inbox", auth="user", errors=NOT_FOUND)
def unarchive(notification_id: str) -> Any:
    """Unarchive a notification."""
    return _change(notification_id, "unarchive")


@bp.post("/notifications/read")
@user_call
@doc(status=204, tag="Inbox", auth="user", query=FILTER_QUERY)
def mark_all_read() -> Any:
    """Mark every notification matching the filters read (and seen)."""
    change = service.mark_all(db_session(), **_caller(), filters=_filters(), action="read")
    return _published(change)


@bp.post("/notifications/seen")
@user_call
@doc(status=204, tag="Inbox", auth="user", query=FILTER_QUERY)
def mark_all_seen() -> Any:
    """Mark every notification matching the filters seen."""
    change = service.mark_all(db_session(), **_caller(), filters=_filters(), action="seen")
    return _published(change)

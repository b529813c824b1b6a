"""One user's inbox: listing with filters, counts, and read/seen/archived changes.

Every change returns an `InboxChange`, the realtime event that tells the user's open sockets
about it; the route publishes it after committing. Counts cover the unarchived notifications,
so an archived notification leaves the bell's badge like it leaves the inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, update
from sqlalchemy.orm import Session

from app.engine.models import Notification
from app.inbox.models import InboxNotification
from app.inbox.views import inbox_view
from app.orm import utcnow
from app.pagination import fetch_page
from app.realtime import frames
from app.realtime.publisher import publish_to_users
from app.refusals import NotFound

if TYPE_CHECKING:
    from app.runtime import Runtime

UNCATEGORIZED = "uncategorized"
Row = InboxNotification


class InboxNotificationNotFound(NotFound):
    code = "ERR_NOTIFICATION_NOT_FOUND"


@dataclass(frozen=True)
class InboxFilters:
    """The inbox's filters: None means "either"; `uncategorized` names a missing category."""

    read: bool | None = None
    seen: bool | None = None
    archived: bool | None = None
    categories: list[str] | None = None
    topics: list[str] | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions = [
            column.is_not(None) if wanted else column.is_(None)
            for column, wanted in (
                (Row.read_at, self.read),
                (Row.seen_at, self.seen),
                (Row.archived_at, self.archived),
            )
            if wanted is not None
        ]
        return conditions + self.place_conditions()

    def place_conditions(self) -> list[ColumnElement[bool]]:
        """Only the category and topic filters (the counts honour these, not the states)."""
        conditions: list[ColumnElement[bool]] = []
        if self.categories is not None:
            named = [c for c in self.categories if c != UNCATEGORIZED]
            either = [Row.category.in_(named)]
            if UNCATEGORIZED in self.categories:
                either.append(Row.category.is_(None))
            conditions.append(or_(*either))
        if self.topics is not None:
            conditions.append(Row.topic.in_(self.topics))
        return conditions


@dataclass(frozen=True)
class Counts:
    unread: int
    unseen: int

    def as_json(self) -> dict[str, int]:
        return {"unread_count": self.unread, "unseen_count": self.unseen}


@dataclass(frozen=True)
class InboxChange:
    """A realtime event for one user's sockets, published once the change is committed."""

    app_id: str
    user_id: str
    event: str
    data: dict[str, Any]

    def publish(self, runtime: Runtime) -> None:
        publish_to_users(
            runtime, app_id=self.app_id, user_ids=[self.user_id], event=self.event, data=self.data
        )


def _users_rows(app_id: str, user_id: str) -> list[ColumnElement[bool]]:
    return [Row.app_id == app_id, Row.user_id == user_id]


def list_inbox(
    session: Session, *, app_id: str, user_id: str, filters: InboxFilters, page: int, per_page: int
) -> tuple[list[InboxNotification], int]:
    """One page of the user's notifications, newest first, and how many match in all."""
    statement: Select[Any] = (
        select(Row)
        .where(*_users_rows(app_id, user_id), *filters.conditions())
        .order_by(Row.sent_at.desc(), Row.id.desc())
    )
    return fetch_page(session, statement, page=page, per_page=per_page)


def counts(
    session: Session, *, app_id: str, user_id: str, filters: InboxFilters | None = None
) -> Counts:
    """Unread and unseen unarchived notifications, in one query."""
    places = filters.place_conditions() if filters else []
    unread, unseen = session.execute(
        select(
            func.count(case((Row.read_at.is_(None), 1))),
            func.count(case((Row.seen_at.is_(None), 1))),
        ).where(*_users_rows(app_id, user_id), Row.archived_at.is_(None), *places)
    ).one()
    return Counts(unread=int(unread), unseen=int(unseen))


def get_notification(
    session: Session, *, app_id: str, user_id: str, notification_id: str
) -> InboxNotification:
    """The user's own notification; 404 for anyone else's."""
    row = session.scalar(
        select(Row).where(*_users_rows(app_id, user_id), Row.id == notification_id)
    )
    if row is None:
        raise InboxNotificationNotFound("No such notification.")
    return row


def _read(row: InboxNotification) -> None:
    now = utcnow()
    row.read_at = row.read_at or now
    row.seen_at = row.seen_at or now


def _unread(row: InboxNotification) -> None:
    row.read_at = None


def _archive(row: InboxNotification) -> None:
    row.archived_at = row.archived_at or utcnow()


def _unarchive(row: InboxNotification) -> None:
    row.archived_at = None


ACTIONS: dict[str, tuple[Callable[[InboxNotification], None], str]] = {
    "read": (_read, frames.NOTIFICATION_READ),
    "unread": (_unread, frames.NOTIFICATION_UNREAD),
    "archive": (_archive, frames.NOTIFICATION_ARCHIVED),
    "unarchive": (_unarchive, frames.NOTIFICATION_UNARCHIVED),
}


def change_notification(
    session: Session, *, app_id: str, user_id: str, notification_id: str, action: str
) -> InboxChange:
    """Mark one notification read (and seen), unread, archived or unarchived."""
    row = get_notification(session, app_id=app_id, user_id=user_id, notification_id=notification_id)
    apply, event = ACTIONS[action]
    apply(row)
    session.flush()
    return _change(session, app_id, user_id, event, {"id": row.id})


def delete_notification(
    session: Session, *, app_id: str, user_id: str, notification_id: str
) -> InboxChange:
    """Remove the notification from the user's inbox."""
    row = get_notification(session, app_id=app_id, user_id=user_id, notification_id=notification_id)
    session.delete(row)
    session.flush()
    return _change(session, app_id, user_id, frames.NOTIFICATION_DELETED, {"id": notification_id})


def mark_all(
    session: Session, *, app_id: str, user_id: str, filters: InboxFilters, action: str
) -> InboxChange:
    """Mark every matching notification read (and seen) or seen, in one UPDATE."""
    now = utcnow()
    values: dict[str, Any]
    if action == "read":
        pending, event = Row.read_at.is_(None), frames.NOTIFICATIONS_READ_ALL
        first_seen = func.coalesce(Row.seen_at, literal(now, Row.seen_at.type))
        values = {"read_at": now, "seen_at": first_seen}
    else:
        pending, event = Row.seen_at.is_(None), frames.NOTIFICATIONS_SEEN_ALL
        values = {"seen_at": now}
    changed = session.scalars(
        update(Row)
        .where(and_(*_users_rows(app_id, user_id), pending, *filters.conditions()))
        .values(values)
        .returning(Row.id)
        .execution_options(synchronize_session=False)
    ).all()
    return _change(session, app_id, user_id, event, {"ids": list(changed)})


def _change(
    session: Session, app_id: str, user_id: str, event: str, data: dict[str, Any]
) -> InboxChange:
    fresh = counts(session, app_id=app_id, user_id=user_id)
    return InboxChange(app_id, user_id, event, {**data, **fresh.as_json()})


def inbox_views(session: Session, rows: Sequence[InboxNotification]) -> list[dict[str, Any]]:
    """Views of stored rows; rows of literal sends take their content from the notification
    (one query for all of them)."""
    ids = {row.notification_id for row in rows if row.shared_content and row.notification_id}
    shared: dict[str | None, Mapping[str, Any]] = {}
    if ids:
        # Only the in-app part: the email copy of a broadcast can be megabytes.
        in_app = Notification.content["in_app"]
        found = session.execute(select(Notification.id, in_app).where(Notification.id.in_(ids)))
        shared = {nid: content or {} for nid, content in found}
    return [
        inbox_view(row, shared.get(row.notification_id, {}) if row.shared_content else None)
        for row in rows
    ]

"""What claimed push deliveries are sent to, read with their claim: each user's subscriptions
Herald can push to, and for users with an iOS device their unread inbox count (the badge)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection

from app.inbox.models import InboxNotification
from app.push.service import PushTarget, push_targets

UserKey = tuple[str, str | None]  # (app id, user id)

# Unread, unarchived inbox notifications per user: what the inbox's own badge shows.
_UNREAD = (
    select(InboxNotification.user_id, func.count())
    .where(
        InboxNotification.app_id == bindparam("app_id"),
        InboxNotification.user_id.in_(bindparam("user_ids", expanding=True)),
        InboxNotification.read_at.is_(None),
        InboxNotification.archived_at.is_(None),
    )
    .group_by(InboxNotification.user_id)
)


@dataclass(frozen=True)
class PushTargets:
    targets: dict[UserKey, list[PushTarget]] = field(default_factory=dict)
    badges: dict[UserKey, int] = field(default_factory=dict)

    def of(self, row: Any) -> list[PushTarget]:
        return self.targets.get((row.app_id, row.user_id), [])

    def badge_of(self, row: Any) -> int | None:
        return self.badges.get((row.app_id, row.user_id))


def push_targets_of(connection: Connection, push_rows: Sequence[Any]) -> PushTargets:
    """For claimed push delivery rows (app_id, user_id): one query per app for the targets, one
    more for the badges of users with an iOS device."""
    users_by_app: dict[str, list[str]] = {}
    for row in push_rows:
        if row.user_id is not None:
            users_by_app.setdefault(row.app_id, []).append(row.user_id)
    found = PushTargets()
    for app_id, user_ids in users_by_app.items():
        by_user = push_targets(connection, app_id=app_id, user_ids=user_ids)
        found.targets.update({(app_id, user): targets for user, targets in by_user.items()})
        ios_users = [u for u, ts in by_user.items() if any(t.platform == "ios" for t in ts)]
        if ios_users:
            rows = connection.execute(_UNREAD, {"app_id": app_id, "user_ids": ios_users})
            counts = {user: count for user, count in rows}
            found.badges.update({(app_id, user): counts.get(user, 0) for user in ios_users})
    return found

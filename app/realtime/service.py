"""The WebSocket API's message: resolve users and groups, deliver to connected sockets."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from app.groups.service import member_user_ids
from app.orm import new_id, utcnow
from app.realtime.frames import MESSAGE
from app.realtime.publisher import deliver_to_users
from app.realtime.schemas import target_ids
from app.users.models import User
from app.users.service import match_names

if TYPE_CHECKING:
    from app.runtime import Runtime
    from app.tenants.credentials import Credentials


def send_message(
    *,
    open_session: Callable[[], AbstractContextManager[Session]],
    credentials: Credentials,
    runtime: Runtime,
    app_id: str,
    to: list[dict[str, Any]],
    type: str,
    message: str | None,
    data: str | None,
) -> int:
    """Deliver one `message` frame to every connected socket of the targets; returns how many.

    A socket reached through several targets (its user and its groups) gets it, and counts,
    once. Nothing is stored: offline users simply miss it. A database session is opened only
    for targets this process's cache cannot name.
    """
    user_ids = resolve_targets(
        open_session=open_session, credentials=credentials, app_id=app_id, to=to
    )
    frame_data = {
        "id": new_id(),
        "tenantId": app_id,
        "type": type,
        "message": message,
        "data": data,
        "sentAt": utcnow().isoformat().replace("+00:00", "Z"),
    }
    return deliver_to_users(
        runtime, app_id=app_id, user_ids=user_ids, event=MESSAGE, data=frame_data
    )


def resolve_targets(
    *,
    open_session: Callable[[], AbstractContextManager[Session]],
    credentials: Credentials,
    app_id: str,
    to: list[dict[str, Any]],
) -> set[str]:
    """Herald user ids named by the targets: users by id (or email), groups by their members.

    Users this process already knows by external id (the connected ones, typically) cost no
    database round trip; when they are all it knows, no session is opened.
    """
    user_names = [i for target in to if target["type"] == "user" for i in target_ids(target["id"])]
    group_names = [
        i for target in to if target["type"] == "group" for i in target_ids(target["id"])
    ]
    known, wanted = credentials.users_by_external_id(app_id, list(dict.fromkeys(user_names)))
    found = set(known.values())
    if not wanted and not group_names:
        return found
    with open_session() as session:
        found |= _user_ids_named(session, credentials, app_id, wanted)
        found |= member_user_ids(session=session, app_id=app_id, names=group_names)
    return found


# Built once: `POST /send` runs it on every call.
_users = User.__table__.c
_USERS_NAMED = select(_users.id, _users.external_id, _users.email).where(
    _users.app_id == bindparam("app_id"),
    or_(
        _users.external_id.in_(bindparam("names", expanding=True)),
        _users.email.in_(bindparam("names", expanding=True)),
    ),
)


def _user_ids_named(
    session: Session, credentials: Credentials, app_id: str, names: list[str]
) -> set[str]:
    """The users with these external ids or emails, by pages (remembering external ids)."""
    found: set[str] = set()
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        matched = match_names(
            chunk, session.execute(_USERS_NAMED, {"app_id": app_id, "names": chunk})
        )
        found.update(row.id for row in matched.values())
        credentials.remember_external_ids(
            app_id, {name: row.id for name, row in matched.items() if row.external_id == name}
        )
    return found

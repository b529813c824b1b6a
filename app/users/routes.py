"""`/users`: the admin side of the people an app notifies (the MagicBell-compatible inbox API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request

from app.auth import current_principal, server_call
from app.extensions import db_session
from app.families import INBOX_API, serving
from app.groups.service import group_ids_by_user
from app.http import doc, load_body, page_from_query
from app.users import service
from app.users.models import User
from app.users.schemas import (
    CreateUserBody,
    UpdateUserBody,
    UserEnvelope,
    UserListQuery,
    UserListView,
    UserNotificationListView,
)
from app.wire import list_body

bp = serving(INBOX_API, Blueprint("users", __name__))

USER_PATH = "/users/<path:user_id>"
NOT_FOUND = {404: (service.UserNotFound.code,)}
LIST_QUERY = [
    "page",
    "per_page",
    "last_seen_at:before",
    "last_seen_at:after",
    "last_notified_at:before",
    "last_notified_at:after",
    "order_by",
]


@bp.post("/users")
@server_call("manage_users")
@doc(body=CreateUserBody, response=UserEnvelope, status=201, tag="Users")
def create_user() -> Any:
    """Create a user identified by email and/or external id."""
    body = load_body(CreateUserBody)
    session = db_session()
    user = service.create_user(
        session=session, app_id=current_principal().app.id, attributes=body["user"]
    )
    session.commit()
    return {"user": user_views([user])[0]}, 201


@bp.get("/users")
@server_call("read")
@doc(response=UserListView, tag="Users", query=LIST_QUERY)
def list_users() -> Any:
    """List the app's users, filtered by last_seen_at/last_notified_at and ordered."""
    page = page_from_query()
    query = load_body(UserListQuery, document=request.args.to_dict())
    users, total = service.list_users(
        session=db_session(),
        app_id=current_principal().app.id,
        filters=service.UserFilters(**query),
        page=page.number,
        per_page=page.per_page,
    )
    listed = user_views(users)
    return list_body("users", listed, total=total, page=page.number, per_page=page.per_page)


@bp.get(USER_PATH, merge_slashes=False)
@server_call("read")
@doc(response=UserEnvelope, tag="Users", errors=NOT_FOUND)
def show_user(user_id: str) -> Any:
    """Fetch a user by Herald id, `email:<email>` or `external_id:<external id>`."""
    user = service.get_user(
        session=db_session(), app_id=current_principal().app.id, user_ref=user_id
    )
    return {"user": user_views([user])[0]}


@bp.get(f"{USER_PATH}/notifications", merge_slashes=False)
@server_call("read")
@doc(
    response=UserNotificationListView,
    tag="Users",
    query=["page", "per_page"],
    errors=NOT_FOUND,
)
def list_user_notifications(user_id: str) -> Any:
    """The notifications sent to a user, with the delivery state on each channel."""
    from app.notifications.service import user_history

    page = page_from_query()
    session = db_session()
    app_id = current_principal().app.id
    user = service.get_user(session=session, app_id=app_id, user_ref=user_id)
    items, total = user_history(
        session, app_id=app_id, user_id=user.id, page=page.number, per_page=page.per_page
    )
    return list_body("notifications", items, total=total, page=page.number, per_page=page.per_page)


@bp.put(USER_PATH, merge_slashes=False)
@server_call("manage_users")
@doc(body=UpdateUserBody, response=UserEnvelope, tag="Users", errors=NOT_FOUND)
def update_user(user_id: str) -> Any:
    """Update a user named by Herald id, `email:<email>` or `external_id:<external id>`."""
    body = load_body(UpdateUserBody)
    session = db_session()
    user = service.update_user(
        session=session,
        app_id=current_principal().app.id,
        user_ref=user_id,
        changes=body["user"],
    )
    session.commit()
    return {"user": user_views([user])[0]}


@bp.delete(USER_PATH, merge_slashes=False)
@server_call("manage_users")
@doc(status=204, tag="Users", errors=NOT_FOUND)
def delete_user(user_id: str) -> Any:
    """Delete a user with their inbox, subscriptions and preferences."""
    session = db_session()
    service.delete_user(session=session, app_id=current_principal().app.id, user_ref=user_id)
    session.commit()
    return "", 204


@dataclass(frozen=True)
class ListedUser:
    """A user with the ids of their groups: what `UserView` shows."""

    user: User
    groups: list[str]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.user, name)


def user_views(users: list[User]) -> list[ListedUser]:
    """Users as the API shows them, with their groups (one query for the whole list)."""
    groups = group_ids_by_user(
        db_session(), app_id=current_principal().app.id, user_ids=[u.id for u in users]
    )
    return [ListedUser(user, groups.get(user.id, [])) for user in users]

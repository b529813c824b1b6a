"""`/api/groups`: named sets of users that realtime sends can target."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, server_call
from app.extensions import db_session
from app.families import HERALD_API, serving
from app.groups import service
from app.groups.schemas import GroupListSchema, GroupMembersSchema, GroupSchema
from app.http import doc, load_body, page_from_query
from app.refusals import ErrorDetail, invalid
from app.wire import page_body

bp = serving(HERALD_API, Blueprint("groups", __name__, url_prefix="/api/groups"))

MAX_ID_LENGTH = 255
NOT_FOUND = "ERR_GROUP_NOT_FOUND"


@bp.get("")
@server_call("read")
@doc(response=GroupListSchema, tag="Groups", query=["page", "perPage"])
def list_groups() -> Any:
    """List the app's groups by id, with member counts."""
    page = page_from_query()
    groups, total = service.list_groups(
        session=db_session(),
        app_id=current_principal().app.id,
        page=page.number,
        per_page=page.per_page,
    )
    return page_body("groups", groups, total=total, page=page.number, per_page=page.per_page)


@bp.get("/<group_id>")
@server_call("read")
@doc(response=GroupSchema, tag="Groups", errors={404: (NOT_FOUND,)})
def show_group(group_id: str) -> Any:
    """Read one group with its members' user ids."""
    return _group_body(group_id)


@bp.put("/<group_id>")
@server_call("manage_users")
@doc(body=GroupMembersSchema, response=GroupSchema, tag="Groups", upsert=True)
def replace_group(group_id: str) -> Any:
    """Create or replace a group's members (unknown users are created)."""
    members = load_body(GroupMembersSchema)["members"]
    session = db_session()
    service.replace_members(
        session=session,
        app_id=current_principal().app.id,
        name=_checked(group_id, "group_id"),
        external_ids=members,
    )
    session.commit()
    return _group_body(group_id)


@bp.delete("/<group_id>")
@server_call("manage_users")
@doc(status=204, tag="Groups", errors={404: (NOT_FOUND,)})
def delete_group(group_id: str) -> Any:
    """Delete a group (its users stay)."""
    session = db_session()
    service.delete_group(session=session, app_id=current_principal().app.id, name=group_id)
    session.commit()
    return "", 204


@bp.post("/<group_id>/members/<user_id>")
@server_call("manage_users")
@doc(status=(201, 200), response=GroupSchema, tag="Groups", upsert=True)
def add_group_member(group_id: str, user_id: str) -> Any:
    """Add a user to a group, creating either if needed (200 when already a member)."""
    session = db_session()
    _, added = service.add_member(
        session=session,
        app_id=current_principal().app.id,
        name=_checked(group_id, "group_id"),
        external_id=_checked(user_id, "user_id"),
    )
    session.commit()
    return _group_body(group_id), 201 if added else 200


@bp.delete("/<group_id>/members/<user_id>")
@server_call("manage_users")
@doc(status=204, tag="Groups", errors={404: (NOT_FOUND, "ERR_MEMBER_NOT_FOUND")})
def remove_group_member(group_id: str, user_id: str) -> Any:
    """Remove a user from a group."""
    session = db_session()
    service.remove_member(
        session=session, app_id=current_principal().app.id, name=group_id, external_id=user_id
    )
    session.commit()
    return "", 204


def _group_body(group_id: str) -> service.GroupView:
    session = db_session()
    group = service.get_group(session=session, app_id=current_principal().app.id, name=group_id)
    return service.describe_group(session=session, group=group)


def _checked(value: str, field: str) -> str:
    if not value.strip() or len(value) > MAX_ID_LENGTH:
        message = f"{field} must be 1 to {MAX_ID_LENGTH} characters."
        raise invalid([ErrorDetail("ERR_BAD_REQUEST", message, field)])
    return value

"""Groups and their members. Services flush; the caller owns the transaction.

Members are named in the API by the app's user ids (external ids); rows hold Herald user ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.groups.models import Group, GroupMember
from app.orm import utcnow
from app.pagination import fetch_page
from app.refusals import NotFound
from app.users.models import User, identity_of
from app.users.service import find_user
from app.users.targets import Target, resolve_users


@dataclass(frozen=True)
class GroupView:
    """A group as the API shows it; `members` only when asked for."""

    name: str
    member_count: int
    created_at: datetime
    updated_at: datetime
    members: list[str] | None = None


def get_group(*, session: Session, app_id: str, name: str) -> Group:
    group = _find_group(session, app_id=app_id, name=name)
    if group is None:
        raise NotFound(f"No group {name}.", code="ERR_GROUP_NOT_FOUND")
    return group


def describe_group(*, session: Session, group: Group) -> GroupView:
    """The group with its members' user ids (external id, else email), sorted."""
    query = (
        select(User.external_id, User.email, User.id)  # columns: no ORM object per member
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group.id)
        .order_by(User.external_id, User.email)
    )
    members = [identity_of(*row) for row in session.execute(query)]
    return GroupView(group.name, len(members), group.created_at, group.updated_at, members)


def list_groups(
    *, session: Session, app_id: str, page: int, per_page: int
) -> tuple[list[GroupView], int]:
    """One page of the app's groups by name, with member counts, and the total."""
    statement = select(Group).where(Group.app_id == app_id).order_by(Group.name)
    groups, total = fetch_page(session, statement, page=page, per_page=per_page)
    counts = _member_counts(session, [group.id for group in groups])
    views = [
        GroupView(group.name, counts.get(group.id, 0), group.created_at, group.updated_at)
        for group in groups
    ]
    return views, total


def replace_members(*, session: Session, app_id: str, name: str, external_ids: list[str]) -> Group:
    """Create the group if needed and make these users (created if unknown) its only members."""
    group = _find_or_create_group(session, app_id=app_id, name=name)
    users = _users_named(session, app_id, external_ids)
    session.execute(delete(GroupMember).where(GroupMember.group_id == group.id))
    now = utcnow()
    if users:
        session.execute(
            insert(GroupMember),
            [{"group_id": group.id, "user_id": user.id, "created_at": now} for user in users],
        )
    group.updated_at = now
    session.flush()
    return group


def add_member(*, session: Session, app_id: str, name: str, external_id: str) -> tuple[Group, bool]:
    """Add one user (created if unknown) to a group (created if missing); True if newly added."""
    group = _find_or_create_group(session, app_id=app_id, name=name)
    [user] = _users_named(session, app_id, [external_id])
    if session.get(GroupMember, (group.id, user.id)) is not None:
        return group, False
    session.add(GroupMember(group_id=group.id, user_id=user.id))
    group.updated_at = utcnow()
    session.flush()
    return group, True


def remove_member(*, session: Session, app_id: str, name: str, external_id: str) -> None:
    group = get_group(session=session, app_id=app_id, name=name)
    user = find_user(session=session, app_id=app_id, external_id=external_id)
    membership = session.get(GroupMember, (group.id, user.id)) if user else None
    if membership is None:
        raise NotFound(f"User {external_id} is not in group {name}.", code="ERR_MEMBER_NOT_FOUND")
    session.delete(membership)
    group.updated_at = utcnow()
    session.flush()


def delete_group(*, session: Session, app_id: str, name: str) -> None:
    group = get_group(session=session, app_id=app_id, name=name)
    session.delete(group)  # its memberships go with it (ON DELETE CASCADE)
    session.flush()


def member_user_ids(*, session: Session, app_id: str, names: Iterable[str]) -> set[str]:
    """Herald user ids of every member of these groups; unknown groups add nobody."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return set()
    query = (
        select(GroupMember.user_id)
        .join(Group, Group.id == GroupMember.group_id)
        .where(Group.app_id == app_id, Group.name.in_(wanted))
    )
    return set(session.scalars(query))


def group_ids_by_user(
    session: Session, *, app_id: str, user_ids: list[str]
) -> dict[str, list[str]]:
    """For each Herald user id, the ids (names) of its groups, sorted; [] when in none."""
    result: dict[str, list[str]] = {user_id: [] for user_id in user_ids}
    if not user_ids:
        return result
    query = (
        select(GroupMember.user_id, Group.name)
        .join(Group, Group.id == GroupMember.group_id)
        .where(Group.app_id == app_id, GroupMember.user_id.in_(user_ids))
        .order_by(Group.name)
    )
    for user_id, name in session.execute(query):
        result[user_id].append(name)
    return result


def _users_named(session: Session, app_id: str, external_ids: list[str]) -> list[User]:
    """Each named user once, created if unknown, through the pipeline's one bulk resolver."""
    targets = [Target(external_id=external_id) for external_id in dict.fromkeys(external_ids)]
    return resolve_users(session, app_id=app_id, targets=targets)


def _find_group(session: Session, *, app_id: str, name: str) -> Group | None:
    return session.scalar(select(Group).where(Group.app_id == app_id, Group.name == name))


def _find_or_create_group(session: Session, *, app_id: str, name: str) -> Group:
    group = _find_group(session, app_id=app_id, name=name)
    if group is not None:
        return group
    try:
        with session.begin_nested():
            group = Group(app_id=app_id, name=name)
            session.add(group)
    except IntegrityError:  # created concurrently by another request
        group = get_group(session=session, app_id=app_id, name=name)
    return group


def _member_counts(session: Session, group_ids: list[str]) -> dict[str, int]:
    if not group_ids:
        return {}
    query = (
        select(GroupMember.group_id, func.count())
        .where(GroupMember.group_id.in_(group_ids))
        .group_by(GroupMember.group_id)
    )
    return {group_id: count for group_id, count in session.execute(query)}

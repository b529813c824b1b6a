"""Users: finding, creating (also implicitly, on first contact), listing, updating, deleting."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.orm import utcnow
from app.pagination import fetch_page
from app.refusals import ErrorDetail, NotFound, invalid
from app.users.models import User

IDENTIFIERS = ("external_id", "email")
WRITABLE = ("external_id", "email", "first_name", "last_name", "custom_attributes", "phone_numbers")


class UserNotFound(NotFound):
    code = "ERR_USER_NOT_FOUND"


@dataclass(frozen=True)
class UserFilters:
    """`GET /users` filters; `order_by` is one of the inbox API's `column,DIRECTION` values."""

    last_seen_before: datetime | None = None
    last_seen_after: datetime | None = None
    last_notified_before: datetime | None = None
    last_notified_after: datetime | None = None
    order_by: str = "created_at,DESC"


def find_user(
    *, session: Session, app_id: str, external_id: str | None = None, email: str | None = None
) -> User | None:
    """The app's user with this external id (preferred) or, failing that, this email."""
    if external_id:
        return session.scalar(
            select(User).where(User.app_id == app_id, User.external_id == external_id)
        )
    if email:
        return session.scalar(select(User).where(User.app_id == app_id, User.email == email))
    return None


class NamedUser(Protocol):
    external_id: str | None
    email: str | None


NamedRow = TypeVar("NamedRow", bound=NamedUser)


def match_names(names: Iterable[str], candidates: Iterable[NamedRow]) -> dict[str, NamedRow]:
    """Each name's user among candidates matching by external id or email: the external id
    wins, as in `find_user` (a name can be one user's external id and another's email)."""
    by_email: dict[str, NamedRow] = {}
    by_external_id: dict[str, NamedRow] = {}
    for candidate in candidates:
        if candidate.email:
            by_email.setdefault(candidate.email, candidate)
        if candidate.external_id:
            by_external_id[candidate.external_id] = candidate
    matched = {}
    for name in names:
        user = by_external_id.get(name) or by_email.get(name)
        if user is not None:
            matched[name] = user
    return matched


def find_or_create_user(
    *, session: Session, app_id: str, external_id: str | None = None, email: str | None = None
) -> User:
    """The matching user, created when missing; safe when another process creates it too."""
    user = find_user(session=session, app_id=app_id, external_id=external_id, email=email)
    if user is not None:
        return user
    try:
        with session.begin_nested():
            user = User(app_id=app_id, external_id=external_id, email=email)
            session.add(user)
    except IntegrityError:
        user = find_user(session=session, app_id=app_id, external_id=external_id, email=email)
        if user is None:
            raise
    return user


# How precisely `last_seen_at` is kept (WebSocket handshakes: see app.tenants.credentials).
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def touch_user_for_call(
    *, session: Session, app_id: str, external_id: str | None, email: str | None
) -> User:
    """The user making a user call, created if new, with `last_seen_at` moved to now.

    Moved only when a minute old or more: a polling inbox would otherwise write its user's row
    on every call (and, under SQLite, take the database's one write lock each time).
    """
    user = find_or_create_user(session=session, app_id=app_id, external_id=external_id, email=email)
    now = utcnow()
    if user.last_seen_at is None or now - user.last_seen_at >= LAST_SEEN_RESOLUTION:
        user.last_seen_at = now
    session.flush()
    return user


def get_user(*, session: Session, app_id: str, user_ref: str) -> User:
    """The user named by Herald's id, `email:<email>` or `external_id:<id>`; else 404."""
    kind, _, value = user_ref.partition(":")
    if kind == "email" and value:
        user = find_user(session=session, app_id=app_id, email=value)
    elif kind == "external_id" and value:
        user = find_user(session=session, app_id=app_id, external_id=value)
    else:
        user = session.scalar(select(User).where(User.app_id == app_id, User.id == user_ref))
    if user is None:
        raise UserNotFound(f"No user {user_ref}.")
    return user


def create_user(*, session: Session, app_id: str, attributes: Mapping[str, Any]) -> User:
    """A new user; an external id or email already taken in the app is refused (422)."""
    values = normalized(attributes)
    _require_free_identifiers(session, app_id=app_id, values=values, user_id=None)
    user = User(app_id=app_id, custom_attributes={}, phone_numbers=[])
    _save(session, user, values)
    return user


def update_user(
    *, session: Session, app_id: str, user_ref: str, changes: Mapping[str, Any]
) -> User:
    """Change the given fields; the user keeps an email or external id, both unique in the app."""
    user = get_user(session=session, app_id=app_id, user_ref=user_ref)
    values = normalized(changes)
    if not values.get("external_id", user.external_id) and not values.get("email", user.email):
        raise invalid(
            [ErrorDetail("ERR_BAD_REQUEST", "A user needs an email or an external_id.", "user")]
        )
    _require_free_identifiers(session, app_id=app_id, values=values, user_id=user.id)
    _save(session, user, values)
    return user


def delete_user(*, session: Session, app_id: str, user_ref: str) -> None:
    """Delete a user; the database cascades to their push and topic subscriptions, preferences
    and inbox."""
    session.delete(get_user(session=session, app_id=app_id, user_ref=user_ref))
    session.flush()


def list_users(
    *, session: Session, app_id: str, filters: UserFilters, page: int, per_page: int
) -> tuple[list[User], int]:
    """One page of the app's users, filtered and ordered, and how many match in all."""
    return fetch_page(session, _users_query(app_id, filters), page=page, per_page=per_page)


def search_users(
    *, session: Session, app_id: str, prefix: str, page: int, per_page: int
) -> tuple[list[User], int]:
    """One page of the app's users whose external id or email starts with `prefix` (every user
    when it is empty), newest first, and how many match in all."""
    # Newest first, as the index on (app_id, created_at) reads backwards (created_at is never
    # null, so no NULLS LAST, which that index's order could not give).
    statement = (
        select(User).where(User.app_id == app_id).order_by(User.created_at.desc(), User.id.desc())
    )
    if prefix:
        # LIKE 'prefix%' with the prefix's own `%` and `_` escaped: the pattern indexes serve it.
        statement = statement.where(
            or_(
                User.external_id.startswith(prefix, autoescape=True),
                User.email.startswith(prefix, autoescape=True),
            )
        )
    return fetch_page(session, statement, page=page, per_page=per_page)


def mark_notified(session: Session, *, app_id: str, user_ids: Sequence[str]) -> None:
    """Set `last_notified_at` to now for these users (one statement for the whole chunk)."""
    if user_ids:
        session.execute(
            update(User)
            .where(User.app_id == app_id, User.id.in_(list(user_ids)))
            .values(last_notified_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def normalized(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Validated wire fields as model values: unknown/read-only dropped, null lists emptied."""
    values = {name: attributes[name] for name in WRITABLE if name in attributes}
    if "custom_attributes" in values and values["custom_attributes"] is None:
        values["custom_attributes"] = {}
    if "phone_numbers" in values and values["phone_numbers"] is None:
        values["phone_numbers"] = []
    return values


def _users_query(app_id: str, filters: UserFilters) -> Select[tuple[User]]:
    conditions: list[ColumnElement[bool]] = [User.app_id == app_id]
    bounds = (
        (filters.last_seen_before, User.last_seen_at.__lt__),
        (filters.last_seen_after, User.last_seen_at.__gt__),
        (filters.last_notified_before, User.last_notified_at.__lt__),
        (filters.last_notified_after, User.last_notified_at.__gt__),
    )
    conditions += [compare(moment) for moment, compare in bounds if moment is not None]
    column_name, _, direction = filters.order_by.partition(",")
    column = getattr(User, column_name)
    ordered = column.asc() if direction == "ASC" else column.desc()
    tiebreak = User.id.asc() if direction == "ASC" else User.id.desc()
    return select(User).where(*conditions).order_by(ordered.nulls_last(), tiebreak)


def _require_free_identifiers(
    session: Session, *, app_id: str, values: Mapping[str, Any], user_id: str | None
) -> None:
    taken = []
    for name in IDENTIFIERS:
        value = values.get(name)
        if not value:
            continue
        holder = session.scalar(
            select(User.id).where(User.app_id == app_id, getattr(User, name) == value)
        )
        if holder is not None and holder != user_id:
            taken.append(ErrorDetail("ERR_BAD_REQUEST", f"This {name} is already taken.", name))
    if taken:
        raise invalid(
            [ErrorDetail(d.code, d.message, f"user.{d.field}") for d in taken],
        )


def _save(session: Session, user: User, values: Mapping[str, Any]) -> None:
    """Apply and flush in a savepoint: a concurrent writer taking an identifier yields a 422."""
    try:
        with session.begin_nested():
            for name, value in values.items():
                setattr(user, name, value)
            session.add(user)
    except IntegrityError as exc:
        fields = [f"user.{name}" for name in IDENTIFIERS if values.get(name)]
        raise invalid(
            [ErrorDetail("ERR_BAD_REQUEST", "This identifier is already taken.", f) for f in fields]
        ) from exc

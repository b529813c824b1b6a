"""Finding and creating users. Every path that meets a user it has not seen creates it here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.orm import utcnow
from app.users.models import User


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


def touch_user_for_call(
    *, session: Session, app_id: str, external_id: str | None, email: str | None
) -> User:
    """The user making a user call, created if new, with `last_seen_at` moved to now."""
    user = find_or_create_user(session=session, app_id=app_id, external_id=external_id, email=email)
    user.last_seen_at = utcnow()
    session.flush()
    return user


def find_or_create_users(*, session: Session, app_id: str, external_ids: list[str]) -> list[User]:
    """The users with these external ids, in the order given, creating the missing ones in bulk."""
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, User] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(User).where(User.app_id == app_id, User.external_id.in_(chunk))
        found.update((user.external_id or "", user) for user in session.scalars(query))
    missing = [external_id for external_id in wanted if external_id not in found]
    if missing:
        try:
            with session.begin_nested():
                created = [User(app_id=app_id, external_id=external_id) for external_id in missing]
                session.add_all(created)
            found.update(zip(missing, created, strict=True))
        except IntegrityError:  # another process created some meanwhile: one at a time
            for external_id in missing:
                found[external_id] = find_or_create_user(
                    session=session, app_id=app_id, external_id=external_id
                )
    return [found[external_id] for external_id in wanted]

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

"""Send targets: parsing, de-duplication, and resolving them to users in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.orm import new_id
from app.users.models import User
from app.users.statistics import note_created

PROFILE_FIELDS = ("first_name", "last_name", "custom_attributes")


@dataclass(frozen=True)
class Target:
    """A recipient named by external id and/or email, with optional profile attributes."""

    external_id: str | None = None
    email: str | None = None
    profile: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def identity(self) -> str:
        """How responses name this target: the external id, else the email address."""
        return self.external_id or self.email or ""

    def as_json(self) -> dict[str, Any]:
        return {"external_id": self.external_id, "email": self.email, **self.profile}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Target:
        profile = {k: raw[k] for k in PROFILE_FIELDS if raw.get(k) is not None}
        return cls(external_id=raw.get("external_id"), email=raw.get("email"), profile=profile)


def unique_targets(targets: Sequence[Target]) -> list[Target]:
    """Drop repeats: two entries naming the same external id (or, lacking one, email) are one."""
    seen: set[tuple[str, str]] = set()
    kept: list[Target] = []
    for target in targets:
        key = ("id", target.external_id) if target.external_id else ("email", target.email or "")
        if key not in seen:
            seen.add(key)
            kept.append(target)
    return kept


def email_taken(session: Session, *, app_id: str, targets: Sequence[Target]) -> set[Target]:
    """The targets whose email another user of the app owns: sending would mean stealing it.

    A target object is an upsert of the profile it carries, its email included; the address
    is taken when a user with a different external id owns it (in the database, or an earlier
    target of the same list). A user known by email alone is adopted instead by a target whose
    external id no user has yet.
    """
    owners = _existing_users(session, app_id=app_id, targets=targets)
    claimed: dict[str, str] = {}  # address -> the external id of the target that keeps it
    taken: set[Target] = set()
    for target in targets:
        if not target.email or not target.external_id:
            continue  # a target named by email alone is that address's owner
        if _may_hold(target, owners, claimed.get(target.email)):
            claimed[target.email] = target.external_id
        else:
            taken.add(target)
    return taken


def _may_hold(target: Target, owners: dict[tuple[str, str], User], claimant: str | None) -> bool:
    assert target.email and target.external_id
    if claimant is not None:
        return claimant == target.external_id
    owner = owners.get(("email", target.email))
    if owner is None or owner.external_id == target.external_id:
        return True
    # An email-only user is adopted by a target whose external id no user has yet.
    return owner.external_id is None and ("id", target.external_id) not in owners


def resolve_users(session: Session, *, app_id: str, targets: Sequence[Target]) -> list[User]:
    """The users for these targets, in order: found in one query, missing ones created in bulk.

    Profile attributes given with a target update the user (marketing lists send fresh data).
    When another process creates some of the same users meanwhile, the unique constraints
    refuse our copies; the savepoint rolls them back and a second pass finds theirs.
    """
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                return _resolve(session, app_id=app_id, targets=targets)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _resolve(session: Session, *, app_id: str, targets: Sequence[Target]) -> list[User]:
    existing = _existing_users(session, app_id=app_id, targets=targets)
    users: list[User] = []
    created = 0
    for target in targets:
        user = _match(existing, target)
        if user is None:
            email_owner = existing.get(("email", target.email or ""))
            user = User(
                # Set here, not by the column default: with every key known, the flush inserts
                # by `executemany` (one short statement) instead of `INSERT ... RETURNING` pages
                # of a thousand rows, which psycopg re-parses each time.
                id=new_id(),
                app_id=app_id,
                external_id=target.external_id,
                email=target.email if email_owner is None else None,
                custom_attributes={},
                phone_numbers=[],
            )
            session.add(user)
            created += 1
            _remember(existing, user)
        _apply_profile(user, target, existing)
        users.append(user)
    session.flush()
    note_created(session, app_id=app_id, count=created)
    return users


def _existing_users(
    session: Session, *, app_id: str, targets: Sequence[Target]
) -> dict[tuple[str, str], User]:
    external_ids = [t.external_id for t in targets if t.external_id]
    emails = [t.email for t in targets if t.email]
    conditions = []
    if external_ids:
        conditions.append(User.external_id.in_(external_ids))
    if emails:
        conditions.append(User.email.in_(emails))
    found: dict[tuple[str, str], User] = {}
    if conditions:
        for user in session.scalars(select(User).where(User.app_id == app_id, or_(*conditions))):
            _remember(found, user)
    return found


def _remember(index: dict[tuple[str, str], User], user: User) -> None:
    if user.external_id:
        index[("id", user.external_id)] = user
    if user.email:
        index.setdefault(("email", user.email), user)


def _match(index: dict[tuple[str, str], User], target: Target) -> User | None:
    """By external id; a target with an external id may adopt an email-only user."""
    if target.external_id:
        user = index.get(("id", target.external_id))
        if user is None and target.email:
            owner = index.get(("email", target.email))
            if owner is not None and owner.external_id is None:
                owner.external_id = target.external_id
                index[("id", target.external_id)] = owner
                return owner
        return user
    return index.get(("email", target.email or ""))


def _apply_profile(user: User, target: Target, index: dict[tuple[str, str], User]) -> None:
    """Store the target's email and profile fields on the user.

    The email replaces the stored one unless another user owns it: `email_taken` refuses such
    targets when the send is accepted, so only a concurrent change can get here, and then the
    stored address stays rather than moving to a second user.
    """
    if target.email and user.email != target.email:
        owner = index.get(("email", target.email))
        if owner is None or owner is user:
            if user.email and index.get(("email", user.email)) is user:
                del index[("email", user.email)]
            user.email = target.email
            index[("email", target.email)] = user
    for name, value in target.profile.items():
        if name == "custom_attributes":
            user.custom_attributes = {**(user.custom_attributes or {}), **value}
        else:
            setattr(user, name, value)

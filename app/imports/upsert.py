"""Upserting one chunk of imported user records: matched by external id, else by email."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.errors import marshmallow_details
from app.users.models import User
from app.users.schemas import NewUserFieldsSchema
from app.users.service import normalized

FAILURE_CODE = "ERR_VALIDATION"


@dataclass
class ChunkOutcome:
    created: int = 0
    updated: int = 0
    failures: list[tuple[int, Any, list[dict[str, str]]]] = field(default_factory=list)


@dataclass
class _KnownUsers:
    """The app's users this chunk can touch, by external id and by email, kept current."""

    by_external_id: dict[str, User]
    by_email: dict[str, User]

    def match(self, values: dict[str, Any]) -> User | None:
        external_id, email = values.get("external_id"), values.get("email")
        user = self.by_external_id.get(external_id) if external_id else None
        holder = self.by_email.get(email) if email else None
        # An email-only user gets the record's external id; one with another id is not ours.
        if user is None and holder is not None and not (external_id and holder.external_id):
            return holder
        return user

    def taken_email(self, values: dict[str, Any], user: User | None) -> bool:
        holder = self.by_email.get(values.get("email") or "")
        return holder is not None and holder is not user

    def forget(self, user: User) -> None:
        self.by_external_id.pop(user.external_id or "", None)
        self.by_email.pop(user.email or "", None)

    def remember(self, user: User) -> None:
        if user.external_id:
            self.by_external_id[user.external_id] = user
        if user.email:
            self.by_email[user.email] = user


def upsert_users(
    session: Session, *, app_id: str, records: Sequence[Any], first_index: int
) -> ChunkOutcome:
    """Validate each record as POST /users does and upsert the valid ones; flushes once."""
    outcome, valid = ChunkOutcome(), []
    schema = NewUserFieldsSchema()
    for offset, record in enumerate(records):
        index = first_index + offset
        errors, values = _validate(schema, record)
        if errors:
            outcome.failures.append((index, record, errors))
        else:
            valid.append((index, record, values))
    known = _known_users(session, app_id, [values for _, _, values in valid])
    for index, record, values in valid:
        user = known.match(values)
        if known.taken_email(values, user):
            message = "This email is already taken by another user."
            outcome.failures.append((index, record, [_error(message, "email")]))
            continue
        if user is None:
            user = User(app_id=app_id, custom_attributes={}, phone_numbers=[])
            session.add(user)
            outcome.created += 1
        else:
            known.forget(user)
            outcome.updated += 1
        for name, value in values.items():
            setattr(user, name, value)
        known.remember(user)
    session.flush()
    outcome.failures.sort(key=lambda failure: failure[0])
    return outcome


def _validate(schema: NewUserFieldsSchema, record: Any) -> tuple[list[dict[str, str]], dict]:
    if not isinstance(record, dict):
        return [_error("Each user must be a JSON object.", None)], {}
    try:
        return [], normalized(schema.load(record))
    except ValidationError as exc:
        details = marshmallow_details(exc.messages)
        return [_error(d.message, d.field) for d in details], {}


def _known_users(session: Session, app_id: str, values: Sequence[dict[str, Any]]) -> _KnownUsers:
    external_ids = {v["external_id"] for v in values if v.get("external_id")}
    emails = {v["email"] for v in values if v.get("email")}
    known = _KnownUsers({}, {})
    if external_ids or emails:
        users = session.scalars(
            select(User).where(
                User.app_id == app_id,
                or_(User.external_id.in_(external_ids), User.email.in_(emails)),
            )
        )
        for user in users:
            known.remember(user)
    return known


def _error(message: str, field_name: str | None) -> dict[str, str]:
    error = {"code": FAILURE_CODE, "message": message}
    if field_name:
        error["field"] = field_name
    return error

"""Upserting one chunk of imported user records: matched by external id, else by email.

Records are validated like POST /users, matched against the app's users in one lookup per
identifier, then written with one bulk INSERT and bulk UPDATEs: no per-record round trips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.orm import new_id, utcnow
from app.refusals import marshmallow_details
from app.users.models import User
from app.users.schemas import NewUserFieldsSchema
from app.users.service import normalized

FAILURE_CODE = "ERR_VALIDATION"


@dataclass
class ChunkOutcome:
    created: int = 0
    updated: int = 0
    failures: list[tuple[int, Any, list[dict[str, str]]]] = field(default_factory=list)


@dataclass(eq=False)
class _Target:
    """A user this chunk writes: an existing one (changes only) or a new one (every column)."""

    id: str
    external_id: str | None
    email: str | None
    is_new: bool
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class _KnownUsers:
    """The users this chunk can touch, by external id and by email, kept current as it goes."""

    by_external_id: dict[str, _Target] = field(default_factory=dict)
    by_email: dict[str, _Target] = field(default_factory=dict)

    def match(self, values: dict[str, Any]) -> _Target | None:
        external_id, email = values.get("external_id"), values.get("email")
        target = self.by_external_id.get(external_id) if external_id else None
        holder = self.by_email.get(email) if email else None
        # An email-only user gets the record's external id; one with another id is not ours.
        if target is None and holder is not None and not (external_id and holder.external_id):
            return holder
        return target

    def email_taken(self, values: dict[str, Any], target: _Target | None) -> bool:
        holder = self.by_email.get(values.get("email") or "")
        return holder is not None and holder is not target

    def apply(self, target: _Target, values: dict[str, Any]) -> None:
        self.by_external_id.pop(target.external_id or "", None)
        self.by_email.pop(target.email or "", None)
        target.changes.update(values)
        target.external_id = target.changes.get("external_id", target.external_id)
        target.email = target.changes.get("email", target.email)
        self.remember(target)

    def remember(self, target: _Target) -> None:
        if target.external_id:
            self.by_external_id[target.external_id] = target
        if target.email:
            self.by_email[target.email] = target


def upsert_users(
    session: Session, *, app_id: str, records: Sequence[Any], first_index: int
) -> ChunkOutcome:
    """Validate each record as POST /users does and upsert the valid ones."""
    outcome, valid = ChunkOutcome(), []
    schema = NewUserFieldsSchema()
    for offset, record in enumerate(records):
        errors, values = _validate(schema, record)
        if errors:
            outcome.failures.append((first_index + offset, record, errors))
        else:
            valid.append((first_index + offset, record, values))
    known = _known_users(session, app_id, [values for _, _, values in valid])
    targets: dict[str, _Target] = {}
    for index, record, values in valid:
        target = known.match(values)
        if known.email_taken(values, target):
            message = "This email is already taken by another user."
            outcome.failures.append((index, record, [_error(message, "email")]))
            continue
        if target is None:
            target = _Target(new_id(), None, None, is_new=True)
            outcome.created += 1
        else:
            outcome.updated += 1
        known.apply(target, values)
        targets[target.id] = target
    _write(session, app_id, list(targets.values()))
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
    """The users these records name, in one lookup per identifier (each on its unique index)."""
    known = _KnownUsers()
    for name in ("external_id", "email"):
        wanted = {v[name] for v in values if v.get(name)}
        if not wanted:
            continue
        column = getattr(User, name)
        rows = session.execute(
            select(User.id, User.external_id, User.email).where(
                User.app_id == app_id, column.in_(wanted)
            )
        )
        for user_id, external_id, email in rows:
            known.remember(_Target(user_id, external_id, email, is_new=False))
    return known


def _write(session: Session, app_id: str, targets: Sequence[_Target]) -> None:
    """One bulk INSERT for the new users; bulk UPDATEs (by primary key) for the others."""
    now = utcnow()
    new_rows = [
        {
            "id": t.id,
            "app_id": app_id,
            "external_id": None,
            "email": None,
            "first_name": None,
            "last_name": None,
            "custom_attributes": {},
            "phone_numbers": [],
            "created_at": now,
            "updated_at": now,
            **t.changes,
        }
        for t in targets
        if t.is_new
    ]
    if new_rows:
        session.execute(insert(User), new_rows)
    by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}
    for target in targets:
        if not target.is_new:
            row = {"id": target.id, "updated_at": now, **target.changes}
            by_columns.setdefault(frozenset(row), []).append(row)
    for rows in by_columns.values():
        session.execute(update(User), rows)


def _error(message: str, field_name: str | None) -> dict[str, str]:
    error = {"code": FAILURE_CODE, "message": message}
    if field_name:
        error["field"] = field_name
    return error

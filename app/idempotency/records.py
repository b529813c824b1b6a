"""Idempotency keys' records, free of Flask: claiming a key, storing or forgetting its answer.

The HTTP API (`app.idempotency.guard`) and the command line's `herald send` share them, so a
key is one key whichever way the send came in. Records live in the database, the source of
truth, so a Redis restart cannot turn a retried send into a double send. A unique index makes
two concurrent requests with one key race to a single winner.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.idempotency.models import MAX_KEY_LENGTH, RETENTION, IdempotencyRecord
from app.orm import utcnow
from app.refusals import Conflict, InvalidRequest

# A request that has not finished after this long is taken to have died with its process.
ABANDONED_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer given under a key: replayed for the same request."""

    status: int
    body: str
    content_type: str


def check_key(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"Idempotency-Key is limited to {MAX_KEY_LENGTH} characters.", field="Idempotency-Key"
        )


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same request: method, path with query, and body."""
    digest = hashlib.sha256()
    for part in (method, path):
        digest.update(part.encode() + b"\0")
    digest.update(body)
    return digest.hexdigest()


def claim(session: Session, *, scope: str, key: str, fingerprint: str) -> StoredAnswer | None:
    """Record the key as in progress (None), or the answer of an earlier use of it.

    `session` must not be in a transaction: the claim commits its own.
    """
    for _ in range(2):
        try:
            with session.begin():
                session.add(
                    IdempotencyRecord(
                        scope=scope, key=key, fingerprint=fingerprint, state="running"
                    )
                )
            return None
        except IntegrityError:
            session.rollback()
        existing = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
            )
        )
        session.rollback()
        if existing is None:
            continue
        age = utcnow() - existing.created_at
        if age > RETENTION or (existing.state == "running" and age > ABANDONED_AFTER):
            forget(session, scope=scope, key=key)
            continue
        return _answer_for(existing, fingerprint)
    raise Conflict("Idempotency-Key is in use.", code="idempotency_key_in_progress")


def _answer_for(existing: IdempotencyRecord, fingerprint: str) -> StoredAnswer:
    if existing.fingerprint != fingerprint:
        raise Conflict(
            "This Idempotency-Key was used for a different request.",
            code="idempotency_key_reused",
        )
    if existing.state == "running":
        raise Conflict(
            "A request with this Idempotency-Key is still running.",
            code="idempotency_key_in_progress",
        )
    return StoredAnswer(
        status=existing.response_status or 200,
        body=existing.response_body or "",
        content_type=existing.response_type or "application/json",
    )


def store(session: Session, *, scope: str, key: str, answer: StoredAnswer) -> None:
    """Keep the answer for the key's replays; commits."""
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    if record is not None:
        record.state = "done"
        record.response_status = answer.status
        record.response_body = answer.body
        record.response_type = answer.content_type
    session.commit()


def forget(session: Session, *, scope: str, key: str) -> None:
    """Free the key (a server error is no answer: the same request may be retried); commits."""
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    session.commit()

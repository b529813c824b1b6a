"""`Idempotency-Key` for every authenticated POST/PUT/PATCH/DELETE (API_CONVENTIONS.md).

The first response (a refusal too, but not a server error) is stored for 24 hours and replayed
for the same key, method, path and body. Keys are scoped per app (and per user for user calls).
Records live in the database, the source of truth, so a Redis restart cannot turn a retried send
into a double send.
A unique index makes two concurrent requests with one key race to a single winner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Response, make_response, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import response_for
from app.extensions import db_session
from app.idempotency.models import MAX_KEY_LENGTH, RETENTION, IdempotencyRecord
from app.orm import utcnow
from app.refusals import Conflict, HeraldError, InvalidRequest
from templates_store.errors import TemplateStoreError

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A request that has not finished after this long is taken to have died with its process.
ABANDONED_AFTER = timedelta(minutes=5)


def run_idempotently(scope: str, view: Callable[[], Any]) -> Any:
    """Run the view once per Idempotency-Key; replay its stored response afterwards."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if request.method not in WRITE_METHODS or not key:
        return view()
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(
            f"Idempotency-Key is limited to {MAX_KEY_LENGTH} characters.", field="Idempotency-Key"
        )
    fingerprint = _fingerprint()
    # The request's own session throughout: a second connection would wait on the first's
    # write lock under SQLite.
    session = db_session()
    session.commit()
    replay = _claim(session, scope=scope, key=key, fingerprint=fingerprint)
    if replay is not None:
        return replay
    try:
        response = make_response(view())
    except (HeraldError, TemplateStoreError) as refusal:
        # A refusal is the request's answer too: replayed like any other (a retry with the same
        # key and body gets it again, a corrected body needs a new key).
        session.rollback()
        response = response_for(refusal)
    except BaseException:
        session.rollback()
        _forget(session, scope, key)
        raise
    session.rollback()
    # A server error is not an answer: the key stays free for a retry.
    if response.status_code >= 500 or response.is_streamed:
        _forget(session, scope, key)
    else:
        _store(session, scope, key, response)
    return response


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.full_path):
        digest.update(part.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _claim(session: Session, *, scope: str, key: str, fingerprint: str) -> Response | None:
    """Record the key as in progress (None), or answer for an earlier use of it."""
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
            _forget(session, scope, key)
            continue
        return _answer_for(existing, fingerprint)
    raise Conflict("Idempotency-Key is in use.", code="idempotency_key_in_progress")


def _answer_for(existing: IdempotencyRecord, fingerprint: str) -> Response:
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
    response = Response(
        existing.response_body or "",
        status=existing.response_status or 200,
        content_type=existing.response_type or "application/json",
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _store(session: Session, scope: str, key: str, response: Response) -> None:
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    if record is not None:
        record.state = "done"
        record.response_status = response.status_code
        record.response_body = response.get_data(as_text=True)
        record.response_type = response.content_type
    session.commit()


def _forget(session: Session, scope: str, key: str) -> None:
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    session.commit()

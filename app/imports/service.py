"""Imports: storing the records in chunks, then importing one chunk per transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from app.db import Database
from app.imports.models import (
    PROCESSED,
    PROCESSING,
    Import,
    ImportChunk,
    ImportFailure,
)
from app.imports.upsert import upsert_users
from app.orm import utcnow
from app.refusals import NotFound
from app.users import statistics as user_statistics

CHUNK_SIZE = 500


class ImportNotFound(NotFound):
    code = "ERR_IMPORT_NOT_FOUND"


def create_import(*, session: Session, app_id: str, records: Sequence[Any]) -> Import:
    """Store an enqueued import with its records split into chunks for the worker."""
    users_import = Import(app_id=app_id, total=len(records))
    session.add(users_import)
    session.flush()
    session.add_all(
        ImportChunk(
            import_id=users_import.id,
            first_index=start,
            records=list(records[start : start + CHUNK_SIZE]),
        )
        for start in range(0, len(records), CHUNK_SIZE)
    )
    session.flush()
    return users_import


def get_import(*, session: Session, app_id: str, import_id: str) -> Import:
    """The app's import with this id; 404 otherwise."""
    users_import = session.scalar(
        select(Import).where(Import.app_id == app_id, Import.id == import_id)
    )
    if users_import is None:
        raise ImportNotFound(f"No import {import_id}.")
    return users_import


def list_failures(*, session: Session, import_id: str) -> list[ImportFailure]:
    """The records that could not be imported, in input order."""
    return list(
        session.scalars(
            select(ImportFailure)
            .where(ImportFailure.import_id == import_id)
            .order_by(ImportFailure.record_index)
        )
    )


def run_import(database: Database, *, import_id: str) -> None:
    """Import every remaining chunk, one transaction each; resumes where a crash left off."""
    while import_next_chunk(database, import_id=import_id):
        pass


def import_next_chunk(database: Database, *, import_id: str) -> bool:
    """Import the first waiting chunk and delete it, atomically; False when none is left."""
    with database.transaction() as session:
        users_import = session.get(Import, import_id)
        if users_import is None:
            return False
        chunk = session.scalar(
            select(ImportChunk)
            .where(ImportChunk.import_id == import_id)
            .order_by(ImportChunk.first_index)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if chunk is None:
            _finish_if_done(session, users_import)
            return False
        outcome = upsert_users(
            session,
            app_id=users_import.app_id,
            records=chunk.records,
            first_index=chunk.first_index,
        )
        session.add_all(
            ImportFailure(import_id=import_id, record_index=index, record=record, errors=errors)
            for index, record, errors in outcome.failures
        )
        session.execute(
            update(Import)
            .where(Import.id == import_id)
            .values(
                status=PROCESSING,
                created_count=Import.created_count + outcome.created,
                updated_count=Import.updated_count + outcome.updated,
                failed_count=Import.failed_count + len(outcome.failures),
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        # The planner must keep using the unique indexes while `users` grows (app.users.statistics).
        user_statistics.note_created(session, app_id=users_import.app_id, count=outcome.created)
        session.delete(chunk)
    return True


def _finish_if_done(session: Session, users_import: Import) -> None:
    """Mark processed unless another worker still holds (locks) a chunk of it."""
    waiting = session.scalar(select(exists().where(ImportChunk.import_id == users_import.id)))
    if not waiting and users_import.status != PROCESSED:
        users_import.status = PROCESSED
        users_import.finished_at = utcnow()

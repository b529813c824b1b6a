"""`/imports`: bulk user imports, processed by a worker."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, server_call
from app.extensions import actors, db_session
from app.families import INBOX_API, serving
from app.http import doc, load_body
from app.imports import service
from app.imports.schemas import ImportBody, ImportCreatedEnvelope, ImportEnvelope, import_body

bp = serving(INBOX_API, Blueprint("imports", __name__))


@bp.post("/imports")
@server_call("manage_users")
@doc(body=ImportBody, response=ImportCreatedEnvelope, status=201, tag="Imports")
def create_import() -> Any:
    """Enqueue an import of users (upserted by external_id, else email)."""
    records = load_body(ImportBody)["import_"]["users"]
    session = db_session()
    users_import = service.create_import(
        session=session, app_id=current_principal().app.id, records=records
    )
    session.commit()
    work = actors()
    work.hand_off([work.import_users.message(users_import.id)])
    return {"import": {"id": users_import.id, "status": users_import.status}}, 201


@bp.get("/imports/<import_id>")
@server_call("read")
@doc(response=ImportEnvelope, tag="Imports", errors={404: (service.ImportNotFound.code,)})
def show_import(import_id: str) -> Any:
    """An import's status, summary counts and per-record failures."""
    session = db_session()
    users_import = service.get_import(
        session=session, app_id=current_principal().app.id, import_id=import_id
    )
    return import_body(users_import, service.list_failures(session=session, import_id=import_id))

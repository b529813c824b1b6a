"""`/api/apps/current/allow_list`: read (scope read) and replace (scope admin)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.allowlist import service
from app.allowlist.schemas import AllowListSchema, AllowListView
from app.auth import current_principal, server_call
from app.extensions import db_session
from app.families import HERALD_API, serving
from app.http import doc, load_body

bp = serving(
    HERALD_API, Blueprint("allowlist", __name__, url_prefix="/api/apps/current/allow_list")
)


@bp.get("")
@server_call("read")
@doc(response=AllowListView, tag="Apps")
def show_allow_list() -> Any:
    """The app's allow-list for email recipients."""
    allow_list = service.get_allow_list(db_session(), app_id=current_principal().app.id)
    return allow_list


@bp.put("")
@server_call("admin")
@doc(body=AllowListSchema, response=AllowListView, tag="Apps")
def replace_allow_list() -> Any:
    """Replace the allow-list as a whole."""
    settings = load_body(AllowListSchema)
    session = db_session()
    allow_list = service.replace_allow_list(
        session, app_id=current_principal().app.id, settings=settings
    )
    session.commit()
    return allow_list

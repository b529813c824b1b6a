"""`/api/apps/current`: the calling app's settings."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, server_call
from app.extensions import db_session, runtime
from app.families import HERALD_API, serving
from app.http import doc, load_body
from app.tenants import service
from app.tenants.schemas import AppSettingsSchema, AppView

bp = serving(HERALD_API, Blueprint("tenants", __name__, url_prefix="/api/apps"))


@bp.get("/current")
@server_call("admin")  # Reading and changing settings both need `admin` (docs/api.md)
@doc(response=AppView, tag="Apps")
def show_current_app() -> Any:
    """Read the calling app's settings."""
    return current_principal().app


@bp.patch("/current")
@server_call("admin")
@doc(body=AppSettingsSchema, response=AppView, tag="Apps")
def update_current_app() -> Any:
    """Change some of the calling app's settings; answers all of them."""
    changes = load_body(AppSettingsSchema)
    session = db_session()
    app = service.update_settings(
        session=session,
        app=current_principal().app,
        changes=changes,
        encryptor=runtime().encryptor,
        jwks_dir=runtime().settings.jwks_dir,
    )
    session.commit()
    return app

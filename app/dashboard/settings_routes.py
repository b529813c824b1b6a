"""`/dashboard/settings`: the app's settings and allow-list, read-only, as the API shows them."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, render_template

from app.allowlist import service as allowlist
from app.allowlist.schemas import AllowListView
from app.dashboard import gate
from app.extensions import db_session
from app.tenants import service as tenants
from app.tenants.schemas import AppView

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.get("")
def show_settings() -> str:
    """The app's settings (`GET /api/apps/current`) and allow-list (`GET /api/allow-list`)."""
    session, app_id = db_session(), gate.operator().app_id
    app = tenants.get_tenant(session=session, app_id=app_id)
    allow_list = allowlist.get_allow_list(session, app_id=app_id)
    return render_template(
        "dashboard/settings.html",
        settings=_shown(AppView().dump(app)),
        allow_list=_shown(AllowListView().dump(allow_list)),
    )


def _shown(view: dict[str, Any]) -> list[tuple[str, str]]:
    """Each field with its value as text: lists and objects as JSON, absent values as a dash."""
    return [
        (name, "—" if value is None else value if isinstance(value, str) else json.dumps(value))
        for name, value in view.items()
    ]

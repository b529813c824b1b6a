"""`/notification_preferences`: the calling user's channel choices per category."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, user_call
from app.extensions import db_session
from app.families import INBOX_API, serving
from app.http import doc, load_body
from app.preferences import service
from app.preferences.schemas import PreferencesBody, PreferencesEnvelope, preferences_body

bp = serving(INBOX_API, Blueprint("preferences", __name__))


@bp.get("/notification_preferences")
@user_call
@doc(response=PreferencesEnvelope, tag="Preferences", auth="user")
def show_preferences() -> Any:
    """The calling user's preferences; anything not listed is enabled."""
    principal = current_principal()
    preferences = service.get_preferences(
        session=db_session(), app=principal.app, user_id=principal.user.id
    )
    return preferences_body(preferences)


@bp.put("/notification_preferences")
@user_call
@doc(body=PreferencesBody, response=PreferencesEnvelope, tag="Preferences", auth="user")
def update_preferences() -> Any:
    """Merge preferences by category and channel; critical categories cannot be disabled."""
    body = load_body(PreferencesBody)["notification_preferences"]
    principal, session = current_principal(), db_session()
    preferences = service.update_preferences(
        session=session, app=principal.app, user_id=principal.user.id, categories=body["categories"]
    )
    session.commit()
    return preferences_body(preferences)

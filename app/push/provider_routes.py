"""`/api/apps/current/push_providers`: the calling app's FCM and APNs credentials (scope admin)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, server_call
from app.extensions import db_session, runtime
from app.families import HERALD_API, serving
from app.http import doc, load_body
from app.push import providers
from app.push.provider_schemas import ApnsProviderSchema, FcmProviderSchema, PushProvidersView

bp = serving(
    HERALD_API,
    Blueprint("push_providers", __name__, url_prefix="/api/apps/current/push_providers"),
)

NOT_FOUND = {404: (providers.PushProviderNotFound.code, providers.PushProviderNotConfigured.code)}


@bp.get("")
@server_call("admin")  # like the app's other settings (docs/api.md)
@doc(response=PushProvidersView, tag="Apps")
def show_push_providers() -> Any:
    """Which mobile push providers the app has, and what identifies them (never their keys)."""
    return providers.provider_settings(current_principal().app)


@bp.put("/fcm")
@server_call("admin")
@doc(body=FcmProviderSchema, response=PushProvidersView, tag="Apps")
def configure_fcm() -> Any:
    """Set (or replace) the app's FCM service account; answers the providers as read."""
    service_account = load_body(FcmProviderSchema)["serviceAccount"]
    app, session = current_principal().app, db_session()
    providers.configure_fcm(
        session=session,
        app=app,
        service_account=service_account,
        encryptor=runtime().encryptor,
        destinations=runtime().push_http.guard,
    )
    session.commit()
    return providers.provider_settings(app)


@bp.put("/apns")
@server_call("admin")
@doc(body=ApnsProviderSchema, response=PushProvidersView, tag="Apps")
def configure_apns() -> Any:
    """Set (or replace) the app's APNs token key; answers the providers as read."""
    credentials = load_body(ApnsProviderSchema)
    app, session = current_principal().app, db_session()
    providers.configure_apns(
        session=session, app=app, credentials=credentials, encryptor=runtime().encryptor
    )
    session.commit()
    return providers.provider_settings(app)


@bp.delete("/<provider>")
@server_call("admin")
@doc(status=204, tag="Apps", errors=NOT_FOUND)
def remove_push_provider(provider: str) -> Any:
    """Remove the app's `fcm` or `apns` credentials: its pushes there stop."""
    session = db_session()
    providers.remove_provider(session=session, app=current_principal().app, provider=provider)
    session.commit()
    return "", 204

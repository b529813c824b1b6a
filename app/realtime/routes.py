"""The WebSocket API's `POST /send`: a message to users and groups, answered with `delivered`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_app_id, current_credentials, server_call
from app.extensions import autocommit_session, runtime
from app.families import HERALD_API, serving
from app.http import doc, load_body
from app.realtime.schemas import SendResponseSchema, SendSchema
from app.realtime.service import send_message

bp = serving(HERALD_API, Blueprint("realtime_send", __name__))


@bp.post("/send")
@server_call("send_notifications")
@doc(body=SendSchema, response=SendResponseSchema, tag="Realtime")
def send() -> Any:
    """Send a message to the connected sockets of users and groups."""
    body = load_body(SendSchema)
    app_id = current_app_id()
    delivered = send_message(
        # Reads only: statements commit one by one, sparing BEGIN and ROLLBACK round trips.
        open_session=autocommit_session,
        credentials=current_credentials(),
        runtime=runtime(),
        app_id=app_id,
        **body,
    )
    return {
        "ok": True,
        "tenantId": app_id,
        "delivered": delivered,
        "to": body["to"],
        "type": body["type"],
        "message": body["message"],
        "data": body["data"],
    }

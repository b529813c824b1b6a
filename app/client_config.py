"""`GET /config`: what a browser needs to subscribe to Web Push and open the realtime socket."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint
from marshmallow import fields

from app.auth import current_principal, user_call
from app.extensions import runtime
from app.families import INBOX_API, serving
from app.http import doc
from app.wire import View

bp = serving(INBOX_API, Blueprint("client_config", __name__))


class ClientConfigView(View):
    vapid_public_key = fields.String()
    ws_url = fields.String()


class ClientConfigEnvelope(View):
    config = fields.Nested(ClientConfigView)


def websocket_url(public_url: str) -> str:
    """The public URL with a ws/wss scheme and `/ws` appended to its path."""
    parts = urlsplit(public_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws", "", ""))


@bp.get("/config")
@user_call
@doc(response=ClientConfigEnvelope, tag="Push", auth="user")
def show_client_config() -> Any:
    """The app's VAPID public key and the WebSocket URL, for the calling user's browser."""
    config = {
        "vapid_public_key": current_principal().app.vapid_public_key,
        "ws_url": websocket_url(runtime().settings.public_url),
    }
    return {"config": config}

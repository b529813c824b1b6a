"""`GET /ws`: the realtime WebSocket (flask-sock), authenticated before the upgrade."""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, g, request
from flask.blueprints import BlueprintSetupState
from flask_sock import Sock
from simple_websocket import Server

from app.auth import authenticate_socket
from app.extensions import db_session, runtime
from app.families import INBOX_API, serving
from app.http import doc
from app.realtime.connection import Connection
from app.realtime.hub import hub_for

bp = serving(INBOX_API, Blueprint("realtime_ws", __name__))
sock = Sock()

MAX_CLIENT_FRAME_BYTES = 4096  # clients only ever send pings
# Handshakes authenticating at once. Below the database pool size, so that a reconnect storm
# queues here instead of opening (and closing again) overflow database connections.
_handshake_slots = threading.BoundedSemaphore(8)


@bp.record_once
def _configure_sockets(state: BlueprintSetupState) -> None:
    settings = state.app.extensions["herald"].settings
    state.app.config.setdefault(
        "SOCK_SERVER_OPTIONS",
        {
            "ping_interval": settings.realtime_ping_interval_s,
            "max_message_size": MAX_CLIENT_FRAME_BYTES,
        },
    )


@bp.before_request
def _authenticate_handshake() -> None:
    """Refuse with an error response (401/403) before upgrading, else attach to the hub."""
    with _handshake_slots:
        owner = authenticate_socket(db_session(), request.headers, request.args)
        # A socket lives for hours: give its pooled database connection back now.
        g.pop("db_session").close()
    # Frames are small JSON; a per-socket deflate context would cost ~300 KB of memory each.
    request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    # Counted and reachable before the client sees its 101; frames wait until `serve` runs.
    conn = Connection(app_id=owner.app_id, user_id=owner.user_id)
    hub_for(current_app.extensions, runtime()).attach(conn)
    g.socket_connection = conn


@bp.teardown_request
def _detach(_exc: BaseException | None) -> None:
    conn = g.pop("socket_connection", None)
    if conn is not None:
        hub_for(current_app.extensions, runtime()).detach(conn)


@sock.route("/ws", bp=bp)
@doc(tag="Realtime", auth="socket", query=["api_key", "user_id", "user_email", "user_hmac"])
def realtime_socket(ws: Server) -> None:
    """Open the realtime WebSocket (see docs/realtime.md for frames)."""
    g.socket_connection.serve(ws)

"""`/broadcasts` and the admin `POST /notifications` of the MagicBell-compatible inbox API:
literal sends to many."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, server_call
from app.broadcasts import service
from app.broadcasts.recipients import recipient_notifications
from app.broadcasts.schemas import (
    BroadcastBody,
    BroadcastEnvelope,
    BroadcastListView,
    NotificationBody,
    NotificationEnvelope,
    RecipientNotificationListView,
)
from app.extensions import actors, db_session
from app.families import INBOX_API, serving
from app.http import doc, load_body, page_from_query
from app.wire import list_body

bp = serving(INBOX_API, Blueprint("broadcasts", __name__))

REFUSED = {422: ("ERR_NO_ALLOWED_TARGETS", "ERR_TARGET_LIMIT_EXCEEDED")}
NOT_FOUND = {404: (service.BroadcastNotFound.code,)}


def _accept(name: str, schema: type[BroadcastBody] | type[NotificationBody]) -> dict[str, Any]:
    """Store the broadcast, commit, then hand it to the workers (a scheduled one waits for a
    worker to start it when due); returns its view."""
    fields = load_body(schema)[name]
    principal, session = current_principal(), db_session()
    broadcast = service.accept_broadcast(
        session,
        app=principal.app,
        created_by=principal.key_id,
        caller_email=principal.owner_email,
        broadcast=fields,
        name=name,
    )
    [view] = service.describe(session, [broadcast])
    session.commit()
    if broadcast.send_at is None:
        work = actors()
        work.hand_off([work.delivery.dispatch_notification.message(broadcast.id)])
    return view


@bp.post("/broadcasts")
@server_call("send_notifications")
@doc(body=BroadcastBody, response=BroadcastEnvelope, status=201, tag="Broadcasts", errors=REFUSED)
def create_broadcast() -> Any:
    """Broadcast a notification to up to 1,000 users or topics' subscribers."""
    return {"broadcast": _accept("broadcast", BroadcastBody)}, 201


# The inbox API's documented Ruby example posts this body to the API's root URL: the same
# operation there.
@bp.post("/")
@bp.post("/notifications")
@server_call("send_notifications")
@doc(
    body=NotificationBody,
    response=NotificationEnvelope,
    status=201,
    tag="Broadcasts",
    errors=REFUSED,
)
def create_notification() -> Any:
    """Create a notification for several recipients in one request (a broadcast)."""
    return {"notification": _accept("notification", NotificationBody)}, 201


@bp.get("/broadcasts")
@server_call("read")
@doc(response=BroadcastListView, tag="Broadcasts", query=["page", "per_page"])
def list_broadcasts() -> Any:
    """The app's broadcasts, newest first, with their status."""
    page, session = page_from_query(), db_session()
    rows, total = service.list_broadcasts(
        session, app_id=current_principal().app.id, page=page.number, per_page=page.per_page
    )
    views = service.describe(session, rows)
    return list_body("broadcasts", views, total=total, page=page.number, per_page=page.per_page)


@bp.get("/broadcasts/<broadcast_id>")
@server_call("read")
@doc(response=BroadcastEnvelope, tag="Broadcasts", errors=NOT_FOUND)
def show_broadcast(broadcast_id: str) -> Any:
    """A broadcast and its status: enqueued, processing or processed, with total and failures."""
    session = db_session()
    broadcast = service.get_broadcast(
        session, app_id=current_principal().app.id, broadcast_id=broadcast_id
    )
    return {"broadcast": service.describe(session, [broadcast])[0]}


@bp.get("/broadcasts/<broadcast_id>/notifications")
@server_call("read")
@doc(
    response=RecipientNotificationListView,
    tag="Broadcasts",
    query=["page", "per_page"],
    errors=NOT_FOUND,
)
def list_broadcast_notifications(broadcast_id: str) -> Any:
    """The broadcast's notification per recipient, with the delivery state on each channel."""
    page = page_from_query()
    views, total = recipient_notifications(
        db_session(),
        app_id=current_principal().app.id,
        broadcast_id=broadcast_id,
        page=page.number,
        per_page=page.per_page,
    )
    return list_body("notifications", views, total=total, page=page.number, per_page=page.per_page)

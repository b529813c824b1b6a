"""`POST /api/v1/notifications/send`: the direct send API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, server_call
from app.direct import service
from app.direct.schemas import DirectSendResponse, DirectSendSchema
from app.extensions import actors, db_session, runtime
from app.families import HERALD_API, serving
from app.http import doc, load_body
from app.notifications.service import iso

bp = serving(HERALD_API, Blueprint("direct", __name__, url_prefix="/api/v1/notifications"))


@bp.post("/send")
@server_call("send_notifications")
@doc(
    body=DirectSendSchema,
    response=DirectSendResponse,
    status=202,
    tag="Notifications",
    errors={
        422: ("invalid_email", "not_in_allow_list", "unknown_recipient", "max_recipients_exceeded")
    },
)
def send_direct() -> Any:
    """Queue a plain message to up to 50 recipients per channel, screened by the allow-list, to
    send now or at `send_at`."""
    request = load_body(DirectSendSchema)
    principal = current_principal()
    session = db_session()
    notification, fanned, screening = service.accept_direct_send(
        session,
        app=principal.app,
        created_by=principal.key_id,
        caller_email=principal.owner_email,
        request=request,
        links=runtime().unsubscribe_links,
    )
    session.commit()
    actors().delivery.after_fan_out(principal.app.id, fanned, realtime=False)
    data = {
        "notification_id": notification.id,
        "queued_at": iso(notification.created_at),
        "channels": notification.channels,
        "accepted_recipients": screening.accepted,
        "rejected_recipients": screening.rejected,
    }
    if notification.send_at is not None:  # the seed's answer, plus when a scheduled one starts
        data |= {"status": notification.status, "send_at": iso(notification.send_at)}
    return {"data": data}, 202

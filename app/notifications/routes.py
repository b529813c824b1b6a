"""`/api/notifications`: the send API's templated send, progress, deliveries, cancel and
reschedule."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, server_call
from app.engine import states
from app.engine.models import NotificationStatus
from app.extensions import actors, db_session, runtime
from app.families import HERALD_API, serving
from app.http import doc, list_query, load_body, page_from_query
from app.notifications import service
from app.notifications.dispatch import send_answer, start_delivery
from app.notifications.schemas import (
    DeliveryListSchema,
    NotificationListSchema,
    NotificationSchema,
    RescheduleSchema,
    SendRequestSchema,
    SendResponseSchema,
)
from app.refusals import ErrorDetail, invalid
from app.wire import page_body

bp = serving(HERALD_API, Blueprint("notifications", __name__, url_prefix="/api/notifications"))

CHANNELS = ("email", "push", "in_app")
NOTIFICATION_STATUSES = tuple(s.value for s in NotificationStatus)
NOT_FOUND = "ERR_NOTIFICATION_NOT_FOUND"


@bp.post("/send")
@server_call("send_notifications")
@doc(
    body=SendRequestSchema,
    response=SendResponseSchema,
    status=(202, 200),
    tag="Notifications",
    errors={
        400: ("ERR_INVALID_MODE", "ERR_TARGET_LIMIT_EXCEEDED", "ERR_INVALID_VARIABLES"),
        404: ("ERR_TEMPLATE_NOT_FOUND",),
        422: ("ERR_TEMPLATE_NOT_APPROVED", "ERR_NO_ALLOWED_TARGETS"),
    },
)
def send_notification() -> Any:
    """Send a templated notification: realtime to one user (200), a batch or a scheduled send
    (202)."""
    request = load_body(SendRequestSchema)
    principal = current_principal()
    session = db_session()
    accepted = service.accept_templated_send(
        session,
        app=principal.app,
        created_by=principal.key_id,
        caller_email=principal.owner_email,
        request=request,
        links=runtime().unsubscribe_links,
    )
    [view] = service.describe(session, [accepted.notification])
    session.commit()
    start_delivery(actors(), principal.app.id, accepted)
    return send_answer(accepted, view)


@bp.get("")
@server_call("read")
@doc(response=NotificationListSchema, tag="Notifications", query=["status", "page", "perPage"])
def list_notifications() -> Any:
    """List the app's notifications, newest first, with status and progress."""
    page = page_from_query()
    statuses = _enum_query("status", NOTIFICATION_STATUSES)
    session = db_session()
    rows, total = service.list_notifications(
        session,
        app_id=current_principal().app.id,
        page=page.number,
        per_page=page.per_page,
        statuses=statuses,
    )
    views = service.describe(session, rows)
    return page_body("notifications", views, total=total, page=page.number, per_page=page.per_page)


@bp.get("/<notification_id>")
@server_call("read")
@doc(response=NotificationSchema, tag="Notifications", errors={404: (NOT_FOUND,)})
def show_notification(notification_id: str) -> Any:
    """A notification's status and per-channel progress (cheap enough to poll every second)."""
    session = db_session()
    notification = service.get_notification(
        session, app_id=current_principal().app.id, notification_id=notification_id
    )
    return service.describe(session, [notification])[0]


@bp.patch("/<notification_id>")
@server_call("send_notifications")
@doc(
    body=RescheduleSchema,
    response=NotificationSchema,
    tag="Notifications",
    errors={404: (NOT_FOUND,), 409: ("ERR_NOT_RESCHEDULABLE",)},
)
def reschedule_notification(notification_id: str) -> Any:
    """Move a scheduled send that has not started to another time."""
    request = load_body(RescheduleSchema)
    session = db_session()
    notification = service.reschedule_notification(
        session,
        app_id=current_principal().app.id,
        notification_id=notification_id,
        send_at=request["sendAt"],
    )
    [view] = service.describe(session, [notification])
    session.commit()
    return view


@bp.get("/<notification_id>/deliveries")
@server_call("read")
@doc(
    response=DeliveryListSchema,
    tag="Notifications",
    query=["status", "channel", "page", "perPage"],
    errors={404: (NOT_FOUND,)},
)
def list_deliveries(notification_id: str) -> Any:
    """Deliveries of a notification, filtered by status and channel."""
    page = page_from_query()
    statuses = _enum_query("status", states.STATUSES)
    channels = _enum_query("channel", CHANNELS)
    rows, total = service.list_deliveries(
        db_session(),
        app_id=current_principal().app.id,
        notification_id=notification_id,
        statuses=statuses,
        channels=channels,
        page=page.number,
        per_page=page.per_page,
    )
    views = [service.delivery_view(d) for d in rows]
    return page_body("deliveries", views, total=total, page=page.number, per_page=page.per_page)


@bp.post("/<notification_id>/cancel")
@server_call("send_notifications")
@doc(
    response=NotificationSchema,
    tag="Notifications",
    errors={404: (NOT_FOUND,), 409: ("ERR_NOT_CANCELLABLE",)},
)
def cancel_notification(notification_id: str) -> Any:
    """Cancel every delivery of the notification not yet sent."""
    session = db_session()
    notification = service.cancel_notification(
        session, app_id=current_principal().app.id, notification_id=notification_id
    )
    [view] = service.describe(session, [notification])
    session.commit()
    return view


def _enum_query(name: str, allowed: tuple[str, ...]) -> list[str] | None:
    values = list_query(name)
    unknown = sorted(set(values or ()) - set(allowed))
    if unknown:
        message = f"{name} must be one of {', '.join(allowed)}; got {', '.join(unknown)}."
        raise invalid([ErrorDetail("ERR_BAD_REQUEST", message, name)])
    return values

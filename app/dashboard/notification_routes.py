"""`/dashboard/notifications`: the app's sends with live progress, one send's deliveries, and
cancelling it; every read and write is the send API's service (`app.notifications.service`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from app.dashboard import gate
from app.dashboard.paging import page_links, page_number
from app.dashboard.progress import (
    FINISHED,
    channel_bars,
    following,
    overall_bar,
    progress_stream,
    read_progress,
)
from app.engine import states
from app.engine.models import NotificationStatus
from app.extensions import db_session
from app.notifications import service
from app.refusals import InvalidRequest

bp = Blueprint("notifications", __name__, url_prefix="/notifications")

PER_PAGE = 20
STATUSES = tuple(s.value for s in NotificationStatus)
CHANNELS = ("email", "push", "in_app")
# One page's worth: a stream follows the sends of the page that opened it.
MAX_STREAMED = 100


@bp.get("")
def list_notifications() -> str:
    """The app's notifications, newest first, filtered by status, template and date."""
    filters = {
        "status": _one_of("status", STATUSES),
        "template": request.args.get("template", "").strip(),
        "from": request.args.get("from", ""),
        "to": request.args.get("to", ""),
    }
    session, number = db_session(), page_number()
    rows, total = service.list_notifications(
        session,
        app_id=gate.operator().app_id,
        page=number,
        per_page=PER_PAGE,
        statuses=[filters["status"]] if filters["status"] else None,
        template_key=filters["template"] or None,
        created_from=_day_start("from", filters["from"]),
        created_before=_day_end("to", filters["to"]),
    )
    views = [{**v, "bar": overall_bar(v["progress"])} for v in service.describe(session, rows)]
    return render_template(
        "dashboard/notifications.html",
        notifications=views,
        live=following(views),
        filters=filters,
        statuses=STATUSES,
        pages=page_links(number, PER_PAGE, total),
        total=total,
    )


@bp.get("/<notification_id>")
def show_notification(notification_id: str) -> str:
    """One send: per-channel progress, its deliveries (filtered, paged), and cancel."""
    session, number = db_session(), page_number()
    app_id = gate.operator().app_id
    notification = service.get_notification(session, app_id=app_id, notification_id=notification_id)
    [view] = service.describe(session, [notification])
    filters = {
        "channel": _one_of("channel", CHANNELS),
        "status": _one_of("status", states.STATUSES),
        "reason": request.args.get("reason", "").strip(),
    }
    deliveries, total = service.list_deliveries(
        session,
        app_id=app_id,
        notification_id=notification_id,
        statuses=[filters["status"]] if filters["status"] else None,
        channels=[filters["channel"]] if filters["channel"] else None,
        reason=filters["reason"] or None,
        page=number,
        per_page=PER_PAGE,
    )
    return render_template(
        "dashboard/notification.html",
        notification=view,
        bars=channel_bars(view["progress"]),
        overall=overall_bar(view["progress"]),
        deliveries=[service.delivery_view(d) for d in deliveries],
        filters=filters,
        channels=CHANNELS,
        statuses=states.STATUSES,
        pages=page_links(number, PER_PAGE, total),
        total=total,
        cancellable=view["status"] not in FINISHED,
    )


@bp.post("/<notification_id>/cancel")
def cancel_notification(notification_id: str) -> Any:
    """Cancel what the send has not delivered yet (needs `send_notifications`)."""
    gate.require_scope("send_notifications")
    session = db_session()
    service.cancel_notification(
        session, app_id=gate.operator().app_id, notification_id=notification_id
    )
    session.commit()
    return redirect(url_for(".show_notification", notification_id=notification_id))


@bp.get("/progress")
def progress_events() -> Response:
    """Server-sent events with the progress of the notifications named by `id` (the app's)."""
    ids = request.args.getlist("id")[:MAX_STREAMED]
    cookie = request.cookies.get(gate.SESSION_COOKIE)

    def read(unfinished: list[str]) -> list[dict[str, Any]] | None:
        session = db_session()
        try:
            signed_in = gate.signed_in_session(cookie, touch=False)
            if signed_in is None:
                return None
            return read_progress(session, app_id=signed_in.app_id, ids=unfinished)
        finally:
            session.rollback()  # no transaction held open between readings

    stream = stream_with_context(progress_stream(read, ids))
    response = Response(stream, mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # a proxy must pass each event on at once
    return response


def _one_of(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if value not in allowed:
        raise InvalidRequest(f"{name} must be one of {', '.join(allowed)}.", field=name)
    return value


def _day(name: str, raw: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date (YYYY-MM-DD).", field=name) from None


def _day_start(name: str, raw: str) -> datetime | None:
    day = _day(name, raw)
    return datetime.combine(day, time.min, UTC) if day else None


def _day_end(name: str, raw: str) -> datetime | None:
    """The end of the day named (its next midnight): `to` includes the whole day."""
    day = _day(name, raw)
    return datetime.combine(day + timedelta(days=1), time.min, UTC) if day else None

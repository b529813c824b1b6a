"""`/dashboard/users`: finding a user by the start of their external id or email, and a user's
page (profile, preferences, push subscriptions, deliveries, inbox), read-only; every read is the
service the API's user, preference, push, send and inbox routes use."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from app.dashboard import gate
from app.dashboard.paging import page_links, page_number
from app.dashboard.user_views import (
    attribute_rows,
    delivery_rows,
    inbox_rows,
    subscription_view,
)
from app.extensions import db_session
from app.inbox import service as inbox
from app.notifications import service as notifications
from app.preferences import service as preferences
from app.push import service as push
from app.tenants import service as tenants
from app.users import service as users

bp = Blueprint("users", __name__, url_prefix="/users")

PER_PAGE = 20
SUBSCRIPTIONS_SHOWN = 50
INBOX_SHOWN = 20


@bp.get("")
def search_users() -> str:
    """The app's users whose external id or email starts with `q`, newest first."""
    prefix, number = request.args.get("q", "").strip(), page_number()
    found, total = users.search_users(
        session=db_session(),
        app_id=gate.operator().app_id,
        prefix=prefix,
        page=number,
        per_page=PER_PAGE,
    )
    return render_template(
        "dashboard/users.html",
        users=found,
        prefix=prefix,
        pages=page_links(number, PER_PAGE, total),
        total=total,
    )


@bp.get("/<user_id>")
def show_user(user_id: str) -> str:
    """One of the app's users: profile, preferences, push subscriptions, deliveries (paged)
    and the newest of their inbox; another app's user is not found (404)."""
    session, app_id, number = db_session(), gate.operator().app_id, page_number()
    user = users.get_user(session=session, app_id=app_id, user_ref=user_id)
    app = tenants.get_tenant(session=session, app_id=app_id)
    subscriptions, subscription_total = push.page_subscriptions(
        session=session, app_id=app_id, user_id=user.id, page=1, per_page=SUBSCRIPTIONS_SHOWN
    )
    history, delivered_total = notifications.user_history(
        session, app_id=app_id, user_id=user.id, page=number, per_page=PER_PAGE
    )
    inbox_page, inbox_total = inbox.list_inbox(
        session,
        app_id=app_id,
        user_id=user.id,
        filters=inbox.InboxFilters(),
        page=1,
        per_page=INBOX_SHOWN,
    )
    return render_template(
        "dashboard/user.html",
        user=user,
        attributes=attribute_rows(user.custom_attributes or {}),
        preferences=preferences.get_preferences(session=session, app=app, user_id=user.id),
        channels=preferences.CHANNELS,
        subscriptions=[subscription_view(s) for s in subscriptions],
        subscription_total=subscription_total,
        deliveries=delivery_rows(history),
        delivered_total=delivered_total,
        pages=page_links(number, PER_PAGE, delivered_total),
        inbox=inbox_rows(inbox.inbox_views(session, inbox_page)),
        inbox_total=inbox_total,
    )

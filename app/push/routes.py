"""Push subscriptions: a user's own (`/push_subscriptions`) and the admin view of a user's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy.orm import Session

from app.auth import current_principal, server_call, user_call
from app.extensions import db_session, runtime
from app.families import INBOX_API, serving
from app.http import doc, load_body, page_from_query
from app.push import service
from app.push.schemas import (
    PushSubscriptionBody,
    PushSubscriptionEnvelope,
    PushSubscriptionPageView,
)
from app.users.service import UserNotFound, get_user
from app.wire import list_body

bp = serving(INBOX_API, Blueprint("push", __name__))

NOT_FOUND = {404: (service.PushSubscriptionNotFound.code,)}
USER_NOT_FOUND = {404: (UserNotFound.code,)}


@bp.post("/push_subscriptions")
@user_call
@doc(
    body=PushSubscriptionBody,
    response=PushSubscriptionEnvelope,
    status=(201, 200),
    tag="Push",
    auth="user",
)
def register_push_subscription() -> Any:
    """Register a device token or browser Web Push subscription (again: 200, same one)."""
    fields = load_body(PushSubscriptionBody)["push_subscription"]
    keys = fields.get("keys", {})
    principal, session = current_principal(), db_session()
    subscription, created = service.register_subscription(
        session=session,
        app_id=principal.app.id,
        user_id=principal.user.id,
        platform=fields["platform"],
        device_token=fields["device_token"],
        destinations=runtime().push_http.guard,
        app_bundle_id=fields.get("app_bundle_id"),
        p256dh=keys.get("p256dh"),
        auth=keys.get("auth"),
    )
    session.commit()
    return {"push_subscription": subscription}, 201 if created else 200


@bp.get("/push_subscriptions")
@user_call
@doc(response=PushSubscriptionPageView, tag="Push", auth="user", query=["page", "per_page"])
def list_push_subscriptions() -> Any:
    """The calling user's push subscriptions, paginated; discarded ones with `discarded_at`."""
    principal = current_principal()
    return _subscriptions_page(db_session(), principal.app.id, principal.user.id)


@bp.delete("/push_subscriptions/<path:token_or_id>", merge_slashes=False)
@user_call
@doc(status=204, tag="Push", auth="user", errors=NOT_FOUND)
def delete_push_subscription(token_or_id: str) -> Any:
    """Remove one of the calling user's subscriptions by device token (URL-encoded) or id."""
    principal, session = current_principal(), db_session()
    service.delete_subscription(
        session=session,
        app_id=principal.app.id,
        user_id=principal.user.id,
        token_or_id=token_or_id,
    )
    session.commit()
    return "", 204


@bp.get("/users/<path:user_id>/push_subscriptions", merge_slashes=False)
@server_call("read")
@doc(
    response=PushSubscriptionPageView,
    tag="Users",
    query=["page", "per_page"],
    errors=USER_NOT_FOUND,
)
def list_user_push_subscriptions(user_id: str) -> Any:
    """A user's push subscriptions, paginated (admin)."""
    session, app_id = db_session(), current_principal().app.id
    user = get_user(session=session, app_id=app_id, user_ref=user_id)
    return _subscriptions_page(session, app_id, user.id)


def _subscriptions_page(session: Session, app_id: str, user_id: str) -> dict[str, Any]:
    page = page_from_query()
    subscriptions, total = service.page_subscriptions(
        session=session, app_id=app_id, user_id=user_id, page=page.number, per_page=page.per_page
    )
    return list_body(
        "push_subscriptions", subscriptions, total=total, page=page.number, per_page=page.per_page
    )


@bp.delete("/users/<path:user_id>/push_subscriptions/<subscription_id>", merge_slashes=False)
@server_call("manage_users")
@doc(status=204, tag="Users", errors={404: (UserNotFound.code, *NOT_FOUND[404])})
def delete_user_push_subscription(user_id: str, subscription_id: str) -> Any:
    """Delete one of a user's push subscriptions by its id (admin)."""
    session, app_id = db_session(), current_principal().app.id
    user = get_user(session=session, app_id=app_id, user_ref=user_id)
    service.delete_subscription_by_id(
        session=session, app_id=app_id, user_id=user.id, subscription_id=subscription_id
    )
    session.commit()
    return "", 204

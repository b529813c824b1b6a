"""`/subscriptions`: the calling user's topic subscriptions and opt-outs."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.auth import current_principal, user_call
from app.extensions import db_session
from app.families import INBOX_API, serving
from app.http import doc, load_body, page_from_query
from app.topics import service
from app.topics.schemas import (
    DeleteSubscriptionBody,
    SubscribeBody,
    SubscriptionEnvelope,
    SubscriptionListView,
    UnsubscribeBody,
)
from app.wire import list_body

bp = serving(INBOX_API, Blueprint("topics", __name__))

TOPIC_PATH = "/subscriptions/<path:topic>"
NOT_FOUND = {404: (service.TopicSubscriptionNotFound.code,)}


def _caller() -> dict[str, str]:
    principal = current_principal()
    return {"app_id": principal.app.id, "user_id": principal.user.id}


@bp.post("/subscriptions")
@user_call
@doc(
    body=SubscribeBody,
    response=SubscriptionEnvelope,
    status=(201, 200),
    tag="Topics",
    auth="user",
)
def subscribe() -> Any:
    """Subscribe the calling user to a topic and categories (resubscribing: 200)."""
    fields = load_body(SubscribeBody)["subscription"]
    session = db_session()
    subscription, created = service.subscribe(
        session=session, **_caller(), topic=fields["topic"], categories=fields["categories"]
    )
    session.commit()
    return {"subscription": subscription}, 201 if created else 200


@bp.get("/subscriptions")
@user_call
@doc(response=SubscriptionListView, tag="Topics", auth="user", query=["page", "per_page"])
def list_subscriptions() -> Any:
    """The calling user's topic subscriptions, paginated."""
    page = page_from_query()
    subscriptions, total = service.list_subscriptions(
        session=db_session(), **_caller(), page=page.number, per_page=page.per_page
    )
    return list_body(
        "subscriptions", subscriptions, total=total, page=page.number, per_page=page.per_page
    )


@bp.post(TOPIC_PATH + "/unsubscribe", merge_slashes=False)
@user_call
@doc(body=UnsubscribeBody, response=SubscriptionEnvelope, tag="Topics", auth="user", upsert=True)
def unsubscribe(topic: str) -> Any:
    """Opt out of the listed categories of a topic, or of the whole topic if none is listed."""
    fields = load_body(UnsubscribeBody).get("subscription", {})
    session = db_session()
    subscription = service.unsubscribe(
        session=session, **_caller(), topic=topic, categories=fields.get("categories") or []
    )
    session.commit()
    return {"subscription": subscription}


@bp.get(TOPIC_PATH, merge_slashes=False)
@user_call
@doc(response=SubscriptionEnvelope, tag="Topics", auth="user", errors=NOT_FOUND)
def show_subscription(topic: str) -> Any:
    """The calling user's subscription to one topic, with its categories."""
    subscription = service.get_subscription(session=db_session(), **_caller(), topic=topic)
    return {"subscription": subscription}


@bp.delete(TOPIC_PATH, merge_slashes=False)
@user_call
@doc(body=DeleteSubscriptionBody, status=204, tag="Topics", auth="user", errors=NOT_FOUND)
def delete_subscription(topic: str) -> Any:
    """Delete the listed categories of a topic subscription, or all of it if none is listed."""
    body = load_body(DeleteSubscriptionBody)
    given = body.get("categories") or body.get("subscription", {}).get("categories") or []
    session = db_session()
    service.delete_subscription(
        session=session, **_caller(), topic=topic, categories=[c["slug"] for c in given] or None
    )
    session.commit()
    return "", 204

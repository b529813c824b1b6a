"""Topic subscriptions: subscribing, opting out, and whom a topic's notifications reach."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.orm import utcnow
from app.pagination import fetch_page
from app.refusals import InvalidRequest, NotFound
from app.topics.models import (
    SUBSCRIBED,
    UNSUBSCRIBED,
    TopicSubscription,
    TopicSubscriptionCategory,
)

MAX_TOPIC = TopicSubscription.__table__.c.topic.type.length


class TopicSubscriptionNotFound(NotFound):
    code = "ERR_SUBSCRIPTION_NOT_FOUND"


def subscribe(
    *, session: Session, app_id: str, user_id: str, topic: str, categories: Sequence[dict[str, Any]]
) -> tuple[TopicSubscription, bool]:
    """Subscribe to the topic (resubscribing after an opt-out) and to the listed categories.

    With no categories listed, every category opted out of before is resubscribed too.
    Returns the subscription and whether it is new.
    """
    subscription, created = _find_or_create(session, app_id=app_id, user_id=user_id, topic=topic)
    subscription.status = SUBSCRIBED
    if categories:
        _set_categories(subscription, categories, SUBSCRIBED)
    else:
        for category in subscription.categories:
            category.status = SUBSCRIBED
    session.flush()
    return subscription, created


def unsubscribe(
    *, session: Session, app_id: str, user_id: str, topic: str, categories: Sequence[dict[str, Any]]
) -> TopicSubscription:
    """Opt out of the listed categories of the topic, or of the whole topic if none is listed."""
    subscription, _ = _find_or_create(session, app_id=app_id, user_id=user_id, topic=topic)
    if categories:
        _set_categories(subscription, categories, UNSUBSCRIBED)
    else:
        subscription.status = UNSUBSCRIBED
    session.flush()
    return subscription


def get_subscription(
    *, session: Session, app_id: str, user_id: str, topic: str
) -> TopicSubscription:
    """The user's subscription to this topic; 404 when there is none."""
    subscription = _find(session, app_id=app_id, user_id=user_id, topic=topic)
    if subscription is None:
        raise TopicSubscriptionNotFound(f"No subscription to topic {topic}.")
    return subscription


def list_subscriptions(
    *, session: Session, app_id: str, user_id: str, page: int, per_page: int
) -> tuple[list[TopicSubscription], int]:
    """One page of the user's topic subscriptions (by topic) and their total."""
    statement = (
        select(TopicSubscription)
        .where(TopicSubscription.app_id == app_id, TopicSubscription.user_id == user_id)
        .order_by(TopicSubscription.topic)
    )
    return fetch_page(session, statement, page=page, per_page=per_page)


def delete_subscription(
    *, session: Session, app_id: str, user_id: str, topic: str, categories: Sequence[str] | None
) -> None:
    """Forget the listed categories' choices, or (none listed) the whole topic subscription."""
    subscription = get_subscription(session=session, app_id=app_id, user_id=user_id, topic=topic)
    if categories:
        subscription.categories = [c for c in subscription.categories if c.slug not in categories]
    if not categories or (subscription.status is None and not subscription.categories):
        session.delete(subscription)
    session.flush()


def unsubscribed_user_ids(
    session: Session,
    *,
    app_id: str,
    user_ids: Sequence[str],
    topic: str | None,
    category: str | None,
) -> set[str]:
    """Users who opted out of this topic, or of this category within it (one query)."""
    if topic is None or not user_ids:
        return set()
    opted_out = TopicSubscription.status == UNSUBSCRIBED
    statement = select(TopicSubscription.user_id).where(
        TopicSubscription.app_id == app_id,
        TopicSubscription.topic == topic,
        TopicSubscription.user_id.in_(list(user_ids)),
    )
    if category is not None:
        statement = statement.outerjoin(
            TopicSubscriptionCategory,
            and_(
                TopicSubscriptionCategory.subscription_id == TopicSubscription.id,
                TopicSubscriptionCategory.slug == category,
            ),
        )
        opted_out = or_(opted_out, TopicSubscriptionCategory.status == UNSUBSCRIBED)
    return set(session.scalars(statement.where(opted_out)))


def subscriber_user_ids(session: Session, *, app_id: str, topics: Sequence[str]) -> list[str]:
    """Users currently subscribed to any of the topics, in one query: topic by topic in the
    order given, oldest subscription first, each user once."""
    if not topics:
        return []
    rows = session.execute(
        select(TopicSubscription.topic, TopicSubscription.user_id)
        .where(
            TopicSubscription.app_id == app_id,
            TopicSubscription.topic.in_(list(topics)),
            TopicSubscription.status == SUBSCRIBED,
        )
        .order_by(TopicSubscription.created_at, TopicSubscription.id)
    )
    by_topic: dict[str, list[str]] = {}
    for topic, user_id in rows:
        by_topic.setdefault(topic, []).append(user_id)
    return list(dict.fromkeys(u for topic in topics for u in by_topic.get(topic, [])))


def _find(session: Session, *, app_id: str, user_id: str, topic: str) -> TopicSubscription | None:
    return session.scalar(
        select(TopicSubscription).where(
            TopicSubscription.app_id == app_id,
            TopicSubscription.user_id == user_id,
            TopicSubscription.topic == topic,
        )
    )


def _find_or_create(
    session: Session, *, app_id: str, user_id: str, topic: str
) -> tuple[TopicSubscription, bool]:
    subscription = _find(session, app_id=app_id, user_id=user_id, topic=topic)
    if subscription is not None:
        return subscription, False
    if not 1 <= len(topic) <= MAX_TOPIC:  # a topic named in the path, unchecked by any schema
        raise InvalidRequest(f"A topic has 1 to {MAX_TOPIC} characters.", field="topic")
    try:
        with session.begin_nested():
            subscription = TopicSubscription(app_id=app_id, user_id=user_id, topic=topic)
            session.add(subscription)
    except IntegrityError:
        subscription = _find(session, app_id=app_id, user_id=user_id, topic=topic)
        if subscription is None:
            raise
        return subscription, False
    return subscription, True


def _set_categories(
    subscription: TopicSubscription, categories: Sequence[dict[str, Any]], status: str
) -> None:
    by_slug = {category.slug: category for category in subscription.categories}
    for given in categories:
        category = by_slug.get(given["slug"])
        if category is None:
            category = TopicSubscriptionCategory(slug=given["slug"])
            subscription.categories.append(category)
        category.status = status
        if given.get("reason") is not None:
            category.reason = given["reason"]
    subscription.categories.sort(key=lambda c: c.slug)
    subscription.updated_at = utcnow()

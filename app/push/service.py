"""Push subscriptions as the delivery pipeline sees them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.orm import utcnow
from app.push.models import PushSubscription


def active_subscriptions(
    session: Session, *, app_id: str, user_ids: Sequence[str]
) -> dict[str, list[PushSubscription]]:
    """Undiscarded subscriptions of these users, by user id, in one query."""
    if not user_ids:
        return {}
    rows = session.scalars(
        select(PushSubscription)
        .where(
            PushSubscription.app_id == app_id,
            PushSubscription.user_id.in_(list(user_ids)),
            PushSubscription.discarded_at.is_(None),
        )
        .order_by(PushSubscription.created_at)
    )
    by_user: dict[str, list[PushSubscription]] = defaultdict(list)
    for subscription in rows:
        by_user[subscription.user_id].append(subscription)
    return dict(by_user)


def discard_subscription(session: Session, *, subscription_id: str) -> None:
    """The push service said this subscription is gone: never send to it again."""
    session.execute(
        update(PushSubscription)
        .where(PushSubscription.id == subscription_id, PushSubscription.discarded_at.is_(None))
        .values(discarded_at=utcnow())
    )

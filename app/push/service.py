"""Push subscriptions: registering, listing and removing them; which ones the pipeline uses."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, bindparam, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.orm import utcnow
from app.pagination import fetch_page
from app.push.models import MOBILE_PLATFORMS, PushSubscription
from app.refusals import InvalidRequest, NotFound

if TYPE_CHECKING:  # the guard is given by the caller (the runtime's)
    from app.engine.channels.destinations import DestinationGuard


class PushSubscriptionNotFound(NotFound):
    code = "ERR_PUSH_SUBSCRIPTION_NOT_FOUND"


def token_hash(device_token: str) -> str:
    """The indexed form of a token (Web Push endpoint URLs are too long to index)."""
    return hashlib.sha256(device_token.encode()).hexdigest()


def channel_for_platform(platform: str) -> str:
    """The preference channel a subscription delivers: `mobile_push` or `web_push`."""
    return "mobile_push" if platform in MOBILE_PLATFORMS else "web_push"


def register_subscription(
    *,
    session: Session,
    app_id: str,
    user_id: str,
    platform: str,
    device_token: str,
    destinations: DestinationGuard,
    app_bundle_id: str | None = None,
    p256dh: str | None = None,
    auth: str | None = None,
) -> tuple[PushSubscription, bool]:
    """The user's subscription for this token, created or refreshed (and undiscarded).

    Returns it with True when it is new. The same token held by another user of the app (a
    device that changed hands) is discarded there, so it only reaches its current user. A web
    endpoint must be one `destinations` lets Herald push to (end users choose it).
    """
    if platform == "web":
        _require_safe_endpoint(device_token, destinations)
    digest = token_hash(device_token)
    details = {
        "platform": platform,
        "app_bundle_id": app_bundle_id,
        "p256dh": p256dh,
        "auth": auth,
        "discarded_at": None,
    }
    subscription = _existing(session, user_id, digest)
    created = subscription is None
    if subscription is None:
        new = PushSubscription(
            app_id=app_id, user_id=user_id, device_token=device_token, token_hash=digest, **details
        )
        subscription, created = _insert(session, new)
    for name, value in details.items():
        setattr(subscription, name, value)
    session.execute(
        update(PushSubscription)
        .where(
            PushSubscription.app_id == app_id,
            PushSubscription.token_hash == digest,
            PushSubscription.user_id != user_id,
            PushSubscription.discarded_at.is_(None),
        )
        .values(discarded_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    session.flush()
    return subscription, created


def _require_safe_endpoint(endpoint: str, destinations: DestinationGuard) -> None:
    refusal = destinations.registration_refusal(endpoint)
    if refusal is not None:
        raise InvalidRequest(
            f"{refusal} Web Push endpoints must lead to a public push service.",
            field="push_subscription.device_token",
        )


def page_subscriptions(
    *, session: Session, app_id: str, user_id: str, page: int, per_page: int
) -> tuple[list[PushSubscription], int]:
    """One page of the user's subscriptions (discarded ones included, oldest first) and their
    total."""
    return fetch_page(session, _user_subscriptions(app_id, user_id), page=page, per_page=per_page)


def delete_subscription(*, session: Session, app_id: str, user_id: str, token_or_id: str) -> None:
    """Remove the user's subscription with this device token (or this subscription id)."""
    subscription = session.scalar(
        _user_subscriptions(app_id, user_id).where(
            or_(
                PushSubscription.token_hash == token_hash(token_or_id),
                PushSubscription.id == token_or_id,
            )
        )
    )
    if subscription is None:
        raise PushSubscriptionNotFound("No such push subscription for this user.")
    session.delete(subscription)
    session.flush()


def delete_subscription_by_id(
    *, session: Session, app_id: str, user_id: str, subscription_id: str
) -> None:
    """Remove one of the user's subscriptions by its id."""
    subscription = session.scalar(
        _user_subscriptions(app_id, user_id).where(PushSubscription.id == subscription_id)
    )
    if subscription is None:
        raise PushSubscriptionNotFound(f"No push subscription {subscription_id} for this user.")
    session.delete(subscription)
    session.flush()


def active_subscriptions(
    session: Session, *, app_id: str, user_ids: Sequence[str]
) -> dict[str, list[PushSubscription]]:
    """Undiscarded subscriptions of these users, by user id (one query for the whole chunk)."""
    by_user: dict[str, list[PushSubscription]] = defaultdict(list)
    if not user_ids:
        return {}
    rows = session.scalars(
        select(PushSubscription)
        .where(*_active(app_id, list(user_ids)))
        .order_by(PushSubscription.created_at, PushSubscription.id)
    )
    for subscription in rows:
        by_user[subscription.user_id].append(subscription)
    return dict(by_user)


def _active(app_id: Any, user_ids: Any) -> tuple[ColumnElement[bool], ...]:
    """Undiscarded subscriptions of these users of this app (values or bound parameters)."""
    return (
        PushSubscription.app_id == app_id,
        PushSubscription.user_id.in_(user_ids),
        PushSubscription.discarded_at.is_(None),
    )


# The platforms Herald pushes to: browsers by Web Push, Android by FCM, iOS by APNs. Legacy
# Safari (pre-16 macOS push) tokens are kept but sent to by nothing.
SENDABLE_PLATFORMS = ("web", "android", "ios")


@dataclass(frozen=True)
class PushTarget:
    """One subscription a push delivery is sent to: a browser's endpoint and keys, or a device
    token (with the iOS app's bundle id when it registered one)."""

    subscription_id: str
    platform: str
    token: str  # the Web Push endpoint URL, or the device token
    p256dh: str = ""
    auth: str = ""
    app_bundle_id: str | None = None


# Built once: the worker runs it for every batch of claimed push deliveries.
_PUSH_TARGETS = (
    select(
        PushSubscription.user_id,
        PushSubscription.id,
        PushSubscription.platform,
        PushSubscription.device_token,
        PushSubscription.p256dh,
        PushSubscription.auth,
        PushSubscription.app_bundle_id,
    )
    .where(
        *_active(bindparam("app_id"), bindparam("user_ids", expanding=True)),
        PushSubscription.platform.in_(SENDABLE_PLATFORMS),
    )
    .order_by(PushSubscription.created_at, PushSubscription.id)
)


def push_targets(
    connection: Connection, *, app_id: str, user_ids: Sequence[str]
) -> dict[str, list[PushTarget]]:
    """The active subscriptions of these users that Herald can push to, by user id, oldest
    first."""
    if not user_ids:
        return {}
    rows = connection.execute(_PUSH_TARGETS, {"app_id": app_id, "user_ids": list(user_ids)})
    found: dict[str, list[PushTarget]] = defaultdict(list)
    for user_id, subscription_id, platform, token, p256dh, auth, bundle_id in rows:
        found[user_id].append(
            PushTarget(subscription_id, platform, token, p256dh or "", auth or "", bundle_id)
        )
    return dict(found)


def discard_subscriptions(session: Session, *, subscription_ids: Sequence[str]) -> None:
    """Stop using subscriptions their push service called gone (Web Push 404/410, FCM
    UNREGISTERED, APNs Unregistered); they stay listed, with `discarded_at`."""
    if not subscription_ids:
        return
    session.execute(
        update(PushSubscription)
        .where(
            PushSubscription.id.in_(list(subscription_ids)),
            PushSubscription.discarded_at.is_(None),
        )
        .values(discarded_at=utcnow())
    )


def _existing(session: Session, user_id: str, digest: str) -> PushSubscription | None:
    return session.scalar(
        select(PushSubscription).where(
            PushSubscription.user_id == user_id, PushSubscription.token_hash == digest
        )
    )


def _insert(session: Session, new: PushSubscription) -> tuple[PushSubscription, bool]:
    """The new row, or the one a concurrent registration of the same token just made."""
    try:
        with session.begin_nested():
            session.add(new)
    except IntegrityError:
        existing = _existing(session, new.user_id, new.token_hash)
        if existing is None:
            raise
        return existing, False
    return new, True


def _user_subscriptions(app_id: str, user_id: str) -> Select[tuple[PushSubscription]]:
    return (
        select(PushSubscription)
        .where(PushSubscription.app_id == app_id, PushSubscription.user_id == user_id)
        .order_by(PushSubscription.created_at, PushSubscription.id)
    )

"""What the users pages show of a user's records: a push subscription without its token, and
a user's deliveries as rows of a table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from app.push.models import PushSubscription

# Enough of a device token to tell a user's devices apart; never enough to push to one.
TOKEN_PREFIX_LENGTH = 8


def token_prefix(subscription: PushSubscription) -> str:
    """The token's first characters; for Web Push, the push service's host and the first
    characters of the endpoint's last segment (the URL's scheme tells nothing apart)."""
    token = subscription.device_token
    if subscription.is_web_push:
        endpoint = urlsplit(token)
        last_segment = endpoint.path.rstrip("/").rpartition("/")[2]
        return f"{endpoint.hostname}/…/{last_segment[:TOKEN_PREFIX_LENGTH]}…"
    return f"{token[:TOKEN_PREFIX_LENGTH]}…"


def subscription_view(subscription: PushSubscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "platform": subscription.platform,
        "token": token_prefix(subscription),
        "created_at": subscription.created_at,
        "discarded_at": subscription.discarded_at,
    }


def delivery_rows(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per delivery of `app.notifications.service.user_history`'s notifications, each
    with its notification (a notification sent on no channel yet still has its row)."""
    rows = []
    for notification in history:
        sent_at = moment(notification["sent_at"])
        for delivery in notification["deliveries"] or [None]:
            rows.append(
                {
                    "notification_id": notification["id"],
                    "template_key": notification["template_key"],
                    "created_at": sent_at,
                    "delivery": {**delivery, "sent_at": moment(delivery["sent_at"])}
                    if delivery
                    else None,
                }
            )
    return rows


def moment(epoch_seconds: int | None) -> datetime | None:
    """Unix seconds, as the services' inbox-family views give them, as a UTC time."""
    return datetime.fromtimestamp(epoch_seconds, UTC) if epoch_seconds is not None else None


def inbox_rows(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The inbox service's views with their times as UTC times."""
    times = ("sent_at", "seen_at", "read_at", "archived_at")
    return [{**view, **{name: moment(view[name]) for name in times}} for view in views]


def attribute_rows(attributes: dict[str, Any]) -> list[tuple[str, str]]:
    """Custom attributes by name, each value as text: strings as they are, the rest as JSON."""
    return [
        (name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for name, value in sorted(attributes.items())
    ]

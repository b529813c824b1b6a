"""Preferences: reading and merging a user's choices; which deliveries they switch off."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.preferences.models import NotificationPreference
from app.refusals import ErrorDetail, invalid
from app.tenants.models import App

CHANNELS = ("in_app", "email", "web_push", "mobile_push")


def get_preferences(*, session: Session, app: App, user_id: str) -> dict[str, dict[str, bool]]:
    """category -> every channel -> enabled, for each category the user set anything in.

    Critical categories read as enabled: they are delivered whatever was stored.
    """
    preferences: dict[str, dict[str, bool]] = {}
    rows = session.scalars(
        select(NotificationPreference).where(
            NotificationPreference.app_id == app.id, NotificationPreference.user_id == user_id
        )
    )
    for row in rows:
        channels = preferences.setdefault(row.category, dict.fromkeys(CHANNELS, True))
        channels[row.channel] = row.enabled or row.category in app.critical_categories
    return preferences


def update_preferences(
    *, session: Session, app: App, user_id: str, categories: Sequence[dict[str, Any]]
) -> dict[str, dict[str, bool]]:
    """Merge the given choices: categories and channels not given keep their settings.

    Disabling any channel of one of the app's critical categories is refused (422).
    """
    _refuse_disabling_critical(app, categories)
    choices = {
        (category["slug"], channel["slug"]): channel["enabled"]
        for category in categories
        for channel in category["channels"]
    }
    try:
        with session.begin_nested():
            _store(session, app_id=app.id, user_id=user_id, choices=choices)
    except IntegrityError:
        # A concurrent PUT inserted the same rows first; they exist now, so update them.
        with session.begin_nested():
            _store(session, app_id=app.id, user_id=user_id, choices=choices)
    return get_preferences(session=session, app=app, user_id=user_id)


def disabled_channels(
    session: Session, *, app_id: str, user_ids: Sequence[str], category: str | None
) -> dict[str, set[str]]:
    """user id -> channels that user disabled for this category (absent: nothing disabled).

    Uncategorized notifications and the app's critical categories are never disabled.
    """
    if category is None or not user_ids:
        return {}
    app = session.get(App, app_id)
    if app is None or category in app.critical_categories:
        return {}
    disabled: dict[str, set[str]] = defaultdict(set)
    rows = session.execute(
        select(NotificationPreference.user_id, NotificationPreference.channel).where(
            NotificationPreference.app_id == app_id,
            NotificationPreference.category == category,
            NotificationPreference.user_id.in_(list(user_ids)),
            NotificationPreference.enabled.is_(False),
        )
    )
    for user_id, channel in rows:
        disabled[user_id].add(channel)
    return dict(disabled)


def _refuse_disabling_critical(app: App, categories: Iterable[dict[str, Any]]) -> None:
    details = [
        ErrorDetail(
            "ERR_BAD_REQUEST",
            f"{category['slug']} is a critical category; its channels cannot be disabled.",
            f"notification_preferences.categories.{index}.slug",
        )
        for index, category in enumerate(categories)
        if category["slug"] in app.critical_categories
        and not all(channel["enabled"] for channel in category["channels"])
    ]
    if details:
        raise invalid(details)


def _store(
    session: Session, *, app_id: str, user_id: str, choices: dict[tuple[str, str], bool]
) -> None:
    if not choices:
        return
    existing = {
        (row.category, row.channel): row
        for row in session.scalars(
            select(NotificationPreference).where(
                NotificationPreference.user_id == user_id,
                NotificationPreference.category.in_({category for category, _ in choices}),
            )
        )
    }
    for (category, channel), enabled in choices.items():
        row = existing.get((category, channel))
        if row is None:
            session.add(
                NotificationPreference(
                    app_id=app_id,
                    user_id=user_id,
                    category=category,
                    channel=channel,
                    enabled=enabled,
                )
            )
        else:
            row.enabled = enabled

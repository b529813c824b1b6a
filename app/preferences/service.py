"""Preferences: reading and merging a user's choices; which deliveries they switch off."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.orm import utcnow
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
    found = opt_outs(session, app_id=app_id, user_ids=user_ids, category=category)
    return {user_id: set(channels) for user_id, channels in found.items()}


def opt_outs(
    session: Session, *, app_id: str, user_ids: Sequence[str], category: str | None
) -> dict[str, dict[str, bool]]:
    """user id -> each channel that user disabled for this category -> whether an unsubscribe
    link disabled it (rather than the preferences API); one query.

    Uncategorized notifications and the app's critical categories are never disabled.
    """
    if category is None or not user_ids:
        return {}
    app = session.get(App, app_id)
    if app is None or category in app.critical_categories:
        return {}
    disabled: dict[str, dict[str, bool]] = defaultdict(dict)
    rows = session.execute(
        select(
            NotificationPreference.user_id,
            NotificationPreference.channel,
            NotificationPreference.unsubscribed_at,
        ).where(
            NotificationPreference.app_id == app_id,
            NotificationPreference.category == category,
            NotificationPreference.user_id.in_(list(user_ids)),
            NotificationPreference.enabled.is_(False),
        )
    )
    for user_id, channel, unsubscribed_at in rows:
        disabled[user_id][channel] = unsubscribed_at is not None
    return dict(disabled)


def unsubscribe_from_email(*, session: Session, app_id: str, user_id: str, category: str) -> bool:
    """Switch email off for one category of the user's, as an unsubscribe link does; again
    changes nothing (False). A critical category's row is stored too, and ignored like any
    other."""
    try:
        with session.begin_nested():
            return _unsubscribe_from_email(
                session, app_id=app_id, user_id=user_id, category=category
            )
    except IntegrityError:
        # A concurrent click inserted the row first; it exists now, so update it.
        with session.begin_nested():
            return _unsubscribe_from_email(
                session, app_id=app_id, user_id=user_id, category=category
            )


def _unsubscribe_from_email(session: Session, *, app_id: str, user_id: str, category: str) -> bool:
    row = session.scalar(
        select(NotificationPreference).where(
            NotificationPreference.user_id == user_id,
            NotificationPreference.category == category,
            NotificationPreference.channel == "email",
        )
    )
    if row is None:
        row = NotificationPreference(
            app_id=app_id, user_id=user_id, category=category, channel="email"
        )
        session.add(row)
    changed = row.enabled is not False or row.unsubscribed_at is None
    row.enabled = False
    row.unsubscribed_at = row.unsubscribed_at or utcnow()
    return changed


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
        elif row.enabled != enabled:
            row.enabled, row.unsubscribed_at = enabled, None

"""What an unsubscribe link does: email of one category off in the user's preferences, or the
user's address on the app's suppression list when the link covers all of the app's email."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.preferences.service import unsubscribe_from_email
from app.refusals import NotFound
from app.suppressions.links import UnsubscribeLink
from app.suppressions.models import SuppressionReason
from app.suppressions.service import suppress, suppressed
from app.tenants.models import App
from app.users.models import User
from app.webhooks.models import EventType
from app.webhooks.outbox import Event, write_events

INVALID_LINK = "ERR_UNSUBSCRIBE_LINK_INVALID"


@dataclass(frozen=True)
class Unsubscription:
    """What a link stops, in the words its page shows."""

    app_name: str
    category: str | None  # None: all of the app's email
    email: str | None


def invalid_link() -> NotFound:
    return NotFound("This unsubscribe link is not valid.", code=INVALID_LINK)


def describe(session: Session, link: UnsubscribeLink) -> Unsubscription:
    """What the link would stop; changes nothing (link scanners open every URL)."""
    user = session.get(User, link.user_id)
    app = session.get(App, link.app_id)
    if user is None or app is None or user.app_id != app.id:
        raise invalid_link()  # the user (or the app) was deleted since the email went out
    return Unsubscription(app.name, link.category, user.email)


def unsubscribe(session: Session, link: UnsubscribeLink) -> Unsubscription:
    """Stop what the link names, telling the app's webhooks (`user.unsubscribed`); again
    changes nothing."""
    stopped = describe(session, link)
    changed = False
    if link.category is not None:
        changed = unsubscribe_from_email(
            session=session, app_id=link.app_id, user_id=link.user_id, category=link.category
        )
    elif stopped.email:
        reason = SuppressionReason.UNSUBSCRIBED
        changed = not suppressed(session, app_id=link.app_id, emails=[stopped.email])
        suppress(session, app_id=link.app_id, emails=[stopped.email], reason=reason)
    if changed:
        _report(session, link)
    return stopped


def _report(session: Session, link: UnsubscribeLink) -> None:
    user = session.get(User, link.user_id)
    data = {
        "user": {"externalId": user.external_id, "email": user.email} if user else None,
        "category": link.category,
        "allEmail": link.category is None,
    }
    write_events(session, [Event(link.app_id, EventType.USER_UNSUBSCRIBED, data)])

"""Who of a chunk's recipients may be emailed, and the unsubscribe link each email carries.

Every email outside the app's critical categories carries a one-click unsubscribe link (RFC
8058) for its category, or for all of the app's email when it has none; the templates get the
same link as `unsubscribe_url`. Addresses on the app's suppression list are not emailed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.engine.models import Notification
from app.suppressions.links import UnsubscribeLink, UnsubscribeLinks
from app.suppressions.models import SuppressionReason
from app.suppressions.service import canonical, suppressed
from app.tenants.models import App
from app.users.models import User


@dataclass(frozen=True)
class EmailAudience:
    links: UnsubscribeLinks
    notification: Notification
    critical: bool
    suppressed: Mapping[str, str]  # canonical address -> suppression reason

    @classmethod
    def of(
        cls,
        session: Session,
        app: App | None,
        notification: Notification,
        users: Sequence[User],
        *,
        links: UnsubscribeLinks,
        emails: bool,
    ) -> EmailAudience:
        """The audience of this notification of `app` among these users (one query, none when
        no email is to be sent)."""
        category = notification.category
        critical = app is not None and category is not None and category in app.critical_categories
        addresses = [u.email for u in users if u.email] if emails else []
        listed = suppressed(session, app_id=notification.app_id, emails=addresses)
        return cls(links, notification, critical, listed)

    def unsubscribe_url(self, user: User) -> str:
        """The user's link for this notification; "" for a critical category, which has none."""
        if self.critical:
            return ""
        link = UnsubscribeLink(self.notification.app_id, user.id, self.notification.category)
        return self.links.url(link)

    def refusal(self, email: str) -> str | None:
        """Why this address is not emailed (a delivery's skip reason), or None.

        An address the recipient took off all of the app's email (an app-wide unsubscribe link)
        still gets the critical categories, which nobody can opt out of; a hard bounce or an
        operator's entry stops everything.
        """
        reason = self.suppressed.get(canonical(email))
        if reason is None:
            return None
        if reason == SuppressionReason.UNSUBSCRIBED:
            return None if self.critical else "unsubscribed"
        return "suppressed"

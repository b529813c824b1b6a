"""One-click unsubscribe links (RFC 8058): signed tokens naming an app, a user and a category.

Nothing is stored per link: the token carries what it names and a signature under a key derived
from SECRET_KEY (`app.security.signed_token`), so it cannot be made, or changed to name another
user, app or category, without that key. Changing SECRET_KEY invalidates every link sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.config import Settings
from app.security import signed_token, signed_values

PURPOSE = "unsubscribe"
PATH = "/unsubscribe/"
# Far longer than any token this module makes (ids of 36 characters, a category of 100).
MAX_TOKEN_LENGTH = 1000


@dataclass(frozen=True)
class UnsubscribeLink:
    """What one link unsubscribes: the user's email of one category, or (None) all of the
    app's email."""

    app_id: str
    user_id: str
    category: str | None


@dataclass(frozen=True)
class UnsubscribeLinks:
    """Makes and reads this installation's links, under PUBLIC_URL."""

    secret_key: str
    public_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> UnsubscribeLinks:
        return cls(secret_key=settings.secret_key, public_url=settings.public_url)

    def url(self, link: UnsubscribeLink) -> str:
        """The link's URL, as the List-Unsubscribe header and the templates carry it."""
        token = signed_token(self.secret_key, PURPOSE, [link.app_id, link.user_id, link.category])
        return f"{self.public_url.rstrip('/')}{PATH}{token}"

    def read(self, token: str) -> UnsubscribeLink | None:
        """The link a token names; None when this installation did not sign it as it is."""
        if len(token) > MAX_TOKEN_LENGTH:
            return None
        values = signed_values(self.secret_key, PURPOSE, token)
        if values is None or len(values) != 3:
            return None
        app_id, user_id, category = values
        if app_id is None or user_id is None:
            return None
        return UnsubscribeLink(app_id, user_id, category)

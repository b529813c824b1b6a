"""What a mobile push carries, whichever provider (FCM, APNs) takes it to the device."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The reason a token's delivery fails with once its provider refused Herald's credential twice
# (the second time with a fresh one): the app's key or service account needs attention.
PROVIDER_AUTH_FAILED = "provider_auth_failed"


@dataclass(frozen=True)
class MobileMessage:
    """A rendered push for one user: the template's push channel (title, body, data, url,
    icon), the notification's category and tag, the user's unread count for iOS badges."""

    title: str | None = None
    body: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    url: str | None = None
    image: str | None = None
    category: str | None = None
    tag: str | None = None
    badge: int | None = None
    ttl_s: int = 24 * 60 * 60

    @classmethod
    def of(
        cls,
        content: Mapping[str, Any],
        *,
        category: str | None,
        tag: str | None,
        badge: int | None,
        ttl_s: int,
    ) -> MobileMessage:
        data = content.get("data")
        return cls(
            title=content.get("title") or None,
            body=content.get("body") or None,
            data=data if isinstance(data, Mapping) else {},
            url=content.get("url") or None,
            image=content.get("icon") or None,
            category=category,
            tag=tag,
            badge=badge,
            ttl_s=ttl_s,
        )

    def string_data(self) -> dict[str, str]:
        """The data as FCM takes it (every value a string: JSON for anything else), with the
        URL under `url` unless the data has its own."""
        strings = {
            str(key): value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            for key, value in self.data.items()
        }
        if self.url and "url" not in strings:
            strings["url"] = self.url
        return strings


class ProviderRefusedCredential(Exception):
    """The provider refused the credential a request carried (FCM 401, APNs
    Expired/InvalidProviderToken): the caller refreshes it once and tries again."""

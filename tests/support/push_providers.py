"""An app's push provider credentials as `/api/apps/current/push_providers` takes them."""

from __future__ import annotations

from tests.support.mobile_push_keys import ApnsKey, new_apns_key

PROVIDERS = "/api/apps/current/push_providers"


def apns_body(key: ApnsKey | None = None, **overrides: str) -> dict[str, str]:
    """The APNs signing key (a new one unless given) for com.acme.shop in production, with
    `overrides` of any field."""
    key = key or new_apns_key()
    return {
        "keyId": key.key_id,
        "teamId": key.team_id,
        "privateKey": key.p8,
        "bundleId": "com.acme.shop",
        "environment": "production",
        **overrides,
    }

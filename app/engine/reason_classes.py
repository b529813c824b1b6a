"""The class of a delivery failure's reason: a handful of values a dashboard can group by and an
alert can name, where reasons themselves carry each provider's words.

Reasons are the channels' own (`app.engine.channels`): `smtp 421: ...`, `push subscription gone
(410)`, `fcm 404: UNREGISTERED`, `apns 400: BadDeviceToken`, `provider_auth_failed`,
`blocked_destination`, `render failed: ...`. A push reason may list several refusals joined by
`; `, one per device: the first one classifies it.
"""

from __future__ import annotations

import re

from app.engine.channels.apns import GONE_REASONS
from app.engine.channels.mobile import PROVIDER_AUTH_FAILED

SMTP_4XX, SMTP_5XX = "smtp_4xx", "smtp_5xx"
PUSH_GONE, PROVIDER_AUTH, TIMEOUT = "push_gone", "provider_auth", "timeout"
BLOCKED_DESTINATION, RENDER, OTHER = "blocked_destination", "render", "other"
REASON_CLASSES = (
    SMTP_4XX,
    SMTP_5XX,
    PUSH_GONE,
    PROVIDER_AUTH,
    TIMEOUT,
    BLOCKED_DESTINATION,
    RENDER,
    OTHER,
)

_SMTP_REPLY = re.compile(r"smtp ([45])\d\d:")
# A Web Push 404/410, and FCM's word for a token it no longer knows (its INVALID_ARGUMENT about
# the token reads `fcm 400: INVALID_ARGUMENT` with nothing after it).
_PUSH_GONE = re.compile(r"push subscription gone|fcm \d+: (UNREGISTERED|INVALID_ARGUMENT$)")
# Credentials the provider refused: Web Push's VAPID signature (401/403), FCM's 401/403, APNs's
# 403 for a bad or expired provider token or certificate.
_PROVIDER_AUTH = re.compile(r"push service answered 40[13]$|fcm 40[13]:|apns 403:")
_APNS_REASON = re.compile(r"apns \d+: (\w+)")
_RENDER = re.compile(r"render failed|in_app\.\w+ renders to more than")


def reason_class(reason: str | None) -> str:
    """The class of a failure's reason (one of REASON_CLASSES)."""
    first = (reason or "").split("; ", 1)[0].strip()
    if smtp := _SMTP_REPLY.match(first):
        return SMTP_4XX if smtp[1] == "4" else SMTP_5XX
    if first == "blocked_destination":
        return BLOCKED_DESTINATION
    apns = _APNS_REASON.match(first)
    if _PUSH_GONE.match(first) or (apns and apns[1] in GONE_REASONS):
        return PUSH_GONE
    if first == PROVIDER_AUTH_FAILED or _PROVIDER_AUTH.match(first):
        return PROVIDER_AUTH
    if _RENDER.match(first):
        return RENDER
    if "timeout" in first.lower():
        return TIMEOUT
    return OTHER

"""Web Push (RFC 8030 delivery, RFC 8291 encryption, VAPID) to one browser subscription."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import requests
from pywebpush import WebPushException, webpush

from app.channels.base import PermanentFailure, TransientFailure


class SubscriptionGone(PermanentFailure):
    """The push service no longer knows this subscription (404/410): discard it."""


_sessions = threading.local()

DEFAULT_TTL_S = 24 * 60 * 60


def send_web_push(
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    payload: Mapping[str, Any],
    vapid_private_key: str,
    vapid_subject: str,
    timeout: float,
) -> None:
    """Encrypt and post one payload; raise a classified failure when the push service refuses."""
    try:
        webpush(
            subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=json.dumps(payload, separators=(",", ":")),
            vapid_private_key=vapid_private_key,
            vapid_claims={"sub": vapid_subject},
            timeout=timeout,
            ttl=DEFAULT_TTL_S,
            requests_session=_session(),
        )
    except WebPushException as exc:
        raise _classified(exc) from exc
    except requests.RequestException as exc:
        raise TransientFailure(f"push service unreachable: {exc.__class__.__name__}") from exc


def _session() -> requests.Session:
    session = getattr(_sessions, "session", None)
    if session is None:
        _sessions.session = session = requests.Session()
    return session


def _classified(exc: WebPushException) -> TransientFailure | PermanentFailure:
    status = exc.response.status_code if exc.response is not None else None
    if status in (404, 410):
        return SubscriptionGone(f"push subscription gone ({status})")
    if status is None:
        return PermanentFailure(f"push refused: {exc.message}"[:500])
    if status == 429 or status >= 500:
        return TransientFailure(f"push service answered {status}")
    return PermanentFailure(f"push service answered {status}")

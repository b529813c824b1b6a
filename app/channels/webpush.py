"""Web Push (RFC 8030 delivery, RFC 8291 encryption, VAPID) to one browser subscription."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

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
    subscription = {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}
    try:
        pusher = WebPusher(subscription, requests_session=_session())
        response = pusher.send(
            json.dumps(payload, separators=(",", ":")),
            headers=_vapid_headers(vapid_private_key, vapid_subject, endpoint),
            ttl=DEFAULT_TTL_S,
            timeout=timeout,
        )
    except requests.RequestException as exc:
        raise TransientFailure(f"push service unreachable: {exc.__class__.__name__}") from exc
    except (WebPushException, ValueError) as exc:  # keys unusable for encryption
        raise PermanentFailure(f"push refused: {exc}"[:500]) from exc
    if response.status_code > 202:
        raise _classified(response.status_code)


VAPID_LIFETIME_S = 12 * 60 * 60
_vapid_cache: dict[tuple[str, str, str], tuple[float, dict[str, str]]] = {}


def _vapid_headers(private_key: str, subject: str, endpoint: str) -> dict[str, str]:
    """The VAPID `Authorization` header for the endpoint's push service, signed once per origin
    and key and reused until an hour before it expires (signing each send doubled its cost).

    The cache is keyed by a hash of the key, so no key material ends up in a dictionary key.
    """
    parts = urlsplit(endpoint)
    audience = f"{parts.scheme}://{parts.netloc}"
    key = (hashlib.sha256(private_key.encode()).hexdigest(), subject, audience)
    now = time.time()
    cached = _vapid_cache.get(key)
    if cached is not None and cached[0] - 3600 > now:
        return cached[1]
    expires = int(now) + VAPID_LIFETIME_S
    headers = Vapid.from_string(private_key=private_key).sign(
        {"sub": subject, "aud": audience, "exp": expires}
    )
    _vapid_cache[key] = (expires, headers)
    return headers


def _session() -> requests.Session:
    session = getattr(_sessions, "session", None)
    if session is None:
        _sessions.session = session = requests.Session()
    return session


def _classified(status: int) -> TransientFailure | PermanentFailure:
    if status in (404, 410):
        return SubscriptionGone(f"push subscription gone ({status})")
    if status == 429 or status >= 500:
        return TransientFailure(f"push service answered {status}")
    return PermanentFailure(f"push service answered {status}")

"""Web Push (RFC 8030 delivery, RFC 8291 encryption, VAPID) to one browser subscription."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import urllib3
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from app.engine.channels.base import PermanentFailure, SubscriptionGone, TransientFailure
from app.engine.channels.guarded_http import GuardedHttp, HttpReply
from app.engine.retry import Verdict, http_verdict, retry_after_s

DEFAULT_TTL_S = 24 * 60 * 60
CONTENT_ENCODING = "aes128gcm"


def send_web_push(
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    payload: Mapping[str, Any],
    vapid_private_key: str,
    vapid_subject: str,
    timeout: float,
    http: GuardedHttp,
) -> None:
    """Encrypt and post one payload through `http`, which refuses endpoints leading inside the
    network (BlockedDestination); raise a classified failure when the push service refuses."""
    subscription = {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}
    data = json.dumps(payload, separators=(",", ":")).encode()
    try:
        body = WebPusher(subscription).encode(data, CONTENT_ENCODING)["body"]
    except (WebPushException, ValueError) as exc:  # keys unusable for encryption
        raise PermanentFailure(f"push refused: {exc}"[:500]) from exc
    headers = {
        **_vapid_headers(vapid_private_key, vapid_subject, endpoint),
        "Content-Encoding": CONTENT_ENCODING,
        "Content-Type": "application/octet-stream",
        "TTL": str(DEFAULT_TTL_S),
    }
    try:
        reply = http.post(endpoint, body=body, headers=headers, timeout=timeout)
    except (urllib3.exceptions.HTTPError, OSError) as exc:  # OSError: the name did not resolve
        raise TransientFailure(f"push service unreachable: {exc.__class__.__name__}") from exc
    if reply.status > 202:
        raise _classified(reply)


VAPID_LIFETIME_S = 12 * 60 * 60
MAX_CACHED_HEADERS = 10_000  # apps x push service hosts; beyond it, start again
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
    if len(_vapid_cache) >= MAX_CACHED_HEADERS:
        _vapid_cache.clear()
    _vapid_cache[key] = (expires, headers)
    return headers


def _classified(reply: HttpReply) -> TransientFailure | PermanentFailure:
    verdict = http_verdict(reply.status)
    if verdict is Verdict.GONE:
        return SubscriptionGone(f"push subscription gone ({reply.status})")
    if verdict is Verdict.TRANSIENT:
        return TransientFailure(
            f"push service answered {reply.status}", retry_after=retry_after_s(reply.retry_after)
        )
    return PermanentFailure(f"push service answered {reply.status}")

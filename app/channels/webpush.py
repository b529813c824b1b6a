"""Web Push (RFC 8030 delivery, RFC 8291 encryption, VAPID) to one browser subscription."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.request
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import urllib3
from py_vapid import Vapid
from pywebpush import WebPusher, WebPushException

from app.channels.base import PermanentFailure, TransientFailure


class SubscriptionGone(PermanentFailure):
    """The push service no longer knows this subscription (404/410): discard it."""


DEFAULT_TTL_S = 24 * 60 * 60
CONTENT_ENCODING = "aes128gcm"
# urllib3 rather than requests: a quarter of the client CPU per push. Connections are kept alive
# per push service and shared by the process's threads; retries are the pipeline's business.
_direct = urllib3.PoolManager(num_pools=64, maxsize=32, retries=False)


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
        response = _pool_for(endpoint).request(
            "POST", endpoint, body=body, headers=headers, timeout=timeout
        )
    except urllib3.exceptions.HTTPError as exc:
        raise TransientFailure(f"push service unreachable: {exc.__class__.__name__}") from exc
    if response.status > 202:
        raise _classified(response.status)


def _pool_for(endpoint: str) -> urllib3.PoolManager:
    """The direct pool, or a proxy's when HTTPS_PROXY / HTTP_PROXY (minus NO_PROXY) says so."""
    parts = urlsplit(endpoint)
    return _proxy_pool(parts.scheme, parts.hostname or "")


@lru_cache(maxsize=1024)
def _proxy_pool(scheme: str, host: str) -> urllib3.PoolManager:
    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return _direct
    return _proxy_manager(proxy)


@lru_cache(maxsize=8)
def _proxy_manager(proxy: str) -> urllib3.ProxyManager:
    return urllib3.ProxyManager(proxy, num_pools=64, maxsize=32, retries=False)


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


def _classified(status: int) -> TransientFailure | PermanentFailure:
    if status in (404, 410):
        return SubscriptionGone(f"push subscription gone ({status})")
    if status == 429 or status >= 500:
        return TransientFailure(f"push service answered {status}")
    return PermanentFailure(f"push service answered {status}")

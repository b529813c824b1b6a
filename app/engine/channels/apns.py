"""Apple Push Notification service to iOS devices: token-based authentication over HTTP/2.

Each worker process keeps one HTTP/2 connection per APNs host, which all its threads share as
concurrent streams (httpx over h2); a connection the server closes (GOAWAY, idle timeout) is
reopened on the next send. The provider token (an ES256 JWT) is signed once per key and reused
for 50 minutes: Apple refuses tokens older than an hour and keys refreshed more often than every
20 minutes.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import jwt

from app.engine.channels.base import PermanentFailure, SubscriptionGone, TransientFailure
from app.engine.channels.mobile import (
    PROVIDER_AUTH_FAILED,
    MobileMessage,
    ProviderRefusedCredential,
)
from app.engine.retry import Verdict, http_verdict, retry_after_s

if TYPE_CHECKING:
    from app.push.providers import ApnsCredentials

HOSTS = {
    "production": "https://api.push.apple.com",
    "sandbox": "https://api.sandbox.push.apple.com",
}
PROVIDER_TOKEN_LIFETIME_S = 50 * 60
MAX_COLLAPSE_ID_BYTES = 64
# Refusals meaning the device token will never work again (the app was removed, or the token
# is not one): its subscription is discarded.
GONE_REASONS = frozenset({"Unregistered", "BadDeviceToken"})
CREDENTIAL_REASONS = frozenset({"ExpiredProviderToken", "InvalidProviderToken"})


class ProviderTokens:
    """Provider JWTs per signing key, signed once and shared by the process's threads."""

    def __init__(self, *, lifetime_s: float = PROVIDER_TOKEN_LIFETIME_S) -> None:
        self._lifetime_s = lifetime_s
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(self, credentials: ApnsCredentials, *, rejected: str | None = None) -> str:
        """The key's current token; a new one when it is too old or when `rejected` (APNs refused
        it) is still the current one, so that threads refused at once sign one between them."""
        key = hashlib.sha256(
            f"{credentials.team_id}:{credentials.key_id}:{credentials.private_key}".encode()
        ).hexdigest()
        now = time.time()
        with self._lock:
            current = self._tokens.get(key)
            if (
                current is not None
                and now - current[1] < self._lifetime_s
                and current[0] != rejected
            ):
                return current[0]
            try:
                token = jwt.encode(
                    {"iss": credentials.team_id, "iat": int(now)},
                    credentials.private_key,
                    algorithm="ES256",
                    headers={"kid": credentials.key_id},
                )
            except (ValueError, TypeError, jwt.PyJWTError) as exc:  # checked when saved
                raise PermanentFailure(PROVIDER_AUTH_FAILED) from exc
            self._tokens[key] = (token, now)
            return token


class ApnsClient:
    """Sends one alert to one iOS device token; raises a classified failure."""

    def __init__(
        self,
        *,
        tokens: ProviderTokens,
        timeout: float,
        base_url: str = "",
        ca_file: str | None = None,
    ) -> None:
        self._tokens = tokens
        self._timeout = timeout
        self._base_url = base_url.rstrip("/")
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file) if ca_file else True
        )
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def send(
        self,
        credentials: ApnsCredentials,
        device_token: str,
        message: MobileMessage,
        *,
        topic: str,
    ) -> None:
        body = json.dumps(apns_payload(message), separators=(",", ":")).encode()
        headers = apns_headers(message, topic=topic)
        url = f"{self._host(credentials)}/3/device/{device_token}"
        token = self._tokens.token(credentials)
        try:
            self._post(url, body, headers, token)
        except ProviderRefusedCredential:
            token = self._tokens.token(credentials, rejected=token)
            try:
                self._post(url, body, headers, token)
            except ProviderRefusedCredential as exc:
                raise PermanentFailure(PROVIDER_AUTH_FAILED) from exc

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def _host(self, credentials: ApnsCredentials) -> str:
        return self._base_url or HOSTS[credentials.environment]

    def _client(self, host: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(host)
            if client is None:
                client = httpx.Client(
                    http1=False, http2=True, verify=self._verify, timeout=self._timeout
                )
                self._clients[host] = client
            return client

    def _post(self, url: str, body: bytes, headers: dict[str, str], token: str) -> None:
        headers = {**headers, "authorization": f"bearer {token}"}
        client = self._client(url.split("/3/", 1)[0])
        try:
            reply = _post_once_more_on_goaway(client, url, body, headers)
        except httpx.HTTPError as exc:
            raise TransientFailure(f"apns unreachable: {exc.__class__.__name__}") from exc
        if reply.status_code == 200:
            return
        reason = _reason_of(reply.content)
        if reply.status_code == 403 and reason in CREDENTIAL_REASONS:
            raise ProviderRefusedCredential()
        raise _classified(reply.status_code, reason, reply.headers.get("retry-after"))


def _post_once_more_on_goaway(
    client: httpx.Client, url: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """A stream the server had not processed when it said GOAWAY is safe to send again, on the
    new connection the client opens for it."""
    try:
        return client.post(url, content=body, headers=headers)
    except httpx.RemoteProtocolError:
        return client.post(url, content=body, headers=headers)


def apns_payload(message: MobileMessage) -> dict[str, Any]:
    """`aps` (alert, sound, badge, thread-id) and the template's data beside it."""
    alert = {name: value for name, value in (("title", message.title), ("body", message.body))}
    aps: dict[str, Any] = {
        "alert": {name: value for name, value in alert.items() if value},
        "sound": "default",
    }
    if message.badge is not None:
        aps["badge"] = message.badge
    if message.category:
        aps["thread-id"] = message.category
    payload: dict[str, Any] = {
        str(key): value for key, value in message.data.items() if key != "aps"
    }
    if message.url and "url" not in payload:
        payload["url"] = message.url
    payload["aps"] = aps
    return payload


def apns_headers(message: MobileMessage, *, topic: str) -> dict[str, str]:
    headers = {
        "apns-topic": topic,
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": str(int(time.time()) + message.ttl_s),
    }
    if message.tag:
        collapse_id = message.tag.encode()[:MAX_COLLAPSE_ID_BYTES].decode(errors="ignore")
        headers["apns-collapse-id"] = collapse_id
    return headers


def _reason_of(body: bytes) -> str:
    try:
        reason = json.loads(body).get("reason")
    except (ValueError, AttributeError):
        return ""
    return reason if isinstance(reason, str) else ""


def _classified(status: int, reason: str, retry_after: str | None) -> Exception:
    words = f"apns {status}: {reason or 'error'}"
    if reason in GONE_REASONS or status == 410:
        return SubscriptionGone(words)
    if http_verdict(status) is Verdict.TRANSIENT:
        return TransientFailure(words, retry_after=retry_after_s(retry_after))
    return PermanentFailure(words)

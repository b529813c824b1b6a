"""Apple Push Notification service to iOS devices: token-based authentication over HTTP/2.

Each worker process keeps one HTTP/2 connection per APNs host, which all its threads share as
concurrent streams (httpx over h2, on one event loop); a connection the server closes (GOAWAY,
idle timeout) is reopened on the next send. The provider token (an ES256 JWT) is signed once
per key and reused for 50 minutes: Apple refuses tokens older than an hour and keys refreshed
more often than every 20 minutes.
"""

from __future__ import annotations

import asyncio
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
    """Sends one alert to one iOS device token; raises a classified failure.

    The HTTP/2 connections belong to one asyncio loop on a thread of their own, to which the
    worker's threads hand their requests: httpx's synchronous client cannot share an HTTP/2
    connection between threads safely, its asynchronous one multiplexes them on one loop.
    """

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
        self._ca_file = ca_file
        self._connections: Http2Connections | None = None
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
            connections, self._connections = self._connections, None
        if connections is not None:
            connections.close()

    def _host(self, credentials: ApnsCredentials) -> str:
        return self._base_url or HOSTS[credentials.environment]

    def _post(self, url: str, body: bytes, headers: dict[str, str], token: str) -> None:
        headers = {**headers, "authorization": f"bearer {token}"}
        with self._lock:
            if self._connections is None:  # started on first use: after a worker's fork
                self._connections = Http2Connections(self._ca_file, self._timeout)
            connections = self._connections
        try:
            status, content, retry_after = connections.post(url, body, headers)
        except (httpx.HTTPError, TimeoutError) as exc:
            raise TransientFailure(f"apns unreachable: {exc.__class__.__name__}") from exc
        if status == 200:
            return
        reason = _reason_of(content)
        if status == 403 and reason in CREDENTIAL_REASONS:
            raise ProviderRefusedCredential()
        raise _classified(status, reason, retry_after)


# Errors of a stream cut short by the server closing its connection (GOAWAY, idle timeout): the
# request was not processed, so it is safe to send again, on the connection opened for it.
_CUT_SHORT = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class Http2Connections:
    """A process's HTTP/2 client (one connection per host), on an event loop of its own."""

    def __init__(self, ca_file: str | None, timeout: float) -> None:
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=ca_file) if ca_file else True
        )
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._client: httpx.AsyncClient | None = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="apns-http2", daemon=True
        )
        self._thread.start()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
        """(status, body, Retry-After) of one POST, sent once more if its stream was cut."""
        future = asyncio.run_coroutine_threadsafe(self._post(url, body, headers), self._loop)
        try:
            return future.result(timeout=self._timeout * 3)
        except TimeoutError:
            future.cancel()
            raise

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes, str | None]:
        if self._client is None:
            self._client = httpx.AsyncClient(
                http1=False, http2=True, verify=self._verify, timeout=self._timeout
            )
        try:
            reply = await self._client.post(url, content=body, headers=headers)
        except _CUT_SHORT:
            reply = await self._client.post(url, content=body, headers=headers)
        return reply.status_code, reply.content, reply.headers.get("retry-after")

    def close(self) -> None:
        async def shut() -> None:
            if self._client is not None:
                await self._client.aclose()

        try:
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=5)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            if not self._thread.is_alive():
                self._loop.close()


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

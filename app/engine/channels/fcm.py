"""Firebase Cloud Messaging (HTTP v1) to Android devices, as an app's service account.

Access tokens come from the service account's own `token_uri` through google-auth, over the
outbound guard (the URL is in a file the app uploaded), and are kept until google-auth deems them
close to expiry, one per account for the whole process. Messages go to FCM_BASE_URL over
keep-alive connections shared by the process's threads.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any

import google.auth.exceptions
import google.auth.transport
import urllib3
from google.oauth2 import service_account

from app.engine.channels.base import PermanentFailure, SubscriptionGone, TransientFailure
from app.engine.channels.destinations import BlockedDestination
from app.engine.channels.guarded_http import GuardedHttp
from app.engine.channels.mobile import (
    PROVIDER_AUTH_FAILED,
    MobileMessage,
    ProviderRefusedCredential,
)
from app.engine.retry import Verdict, http_verdict, retry_after_s

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
MAX_ACCOUNTS_KEPT = 1_000  # apps with FCM in one process; beyond it, start again


class GuardedTokenTransport(google.auth.transport.Request):
    """google-auth's transport over Herald's guarded HTTP client: the token endpoint is named by
    the uploaded service account, so it must not lead inside the network."""

    def __init__(self, http: GuardedHttp, *, timeout: float) -> None:
        self._http = http
        self._timeout = timeout

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **_kwargs: Any,
    ) -> google.auth.transport.Response:
        if method != "POST":  # a service account's token grant is a POST; nothing else is sent
            raise google.auth.exceptions.TransportError(f"{method} is not sent to token endpoints")
        try:
            reply = self._http.post(
                url, body=body or b"", headers=headers or {}, timeout=timeout or self._timeout
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise google.auth.exceptions.TransportError(exc.__class__.__name__) from exc
        return _TokenReply(reply.status, reply.body)


class _TokenReply(google.auth.transport.Response):
    def __init__(self, status: int, data: bytes) -> None:
        self._status = status
        self._data = data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return {}

    @property
    def data(self) -> bytes:
        return self._data


class AccessTokens:
    """One google-auth credential per service account, refreshed by one thread at a time."""

    def __init__(self, transport: google.auth.transport.Request) -> None:
        self._transport = transport
        self._credentials: dict[str, service_account.Credentials] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def token(self, account: Mapping[str, Any], *, rejected: str | None = None) -> str:
        """A valid access token for the account; a new one when `rejected` is still current
        (FCM refused it), so that threads refused at once refresh it once between them."""
        key = hashlib.sha256(json.dumps(account, sort_keys=True).encode()).hexdigest()
        with self._guard:
            if key not in self._credentials and len(self._credentials) >= MAX_ACCOUNTS_KEPT:
                self._credentials.clear()
                self._locks.clear()
            lock = self._locks.setdefault(key, threading.Lock())
            credentials = self._credentials.get(key)
            if credentials is None:
                credentials = service_account.Credentials.from_service_account_info(
                    dict(account), scopes=[SCOPE]
                )
                self._credentials[key] = credentials
        with lock:
            if not credentials.valid or (rejected is not None and credentials.token == rejected):
                _refresh(credentials, self._transport)
            return str(credentials.token)


def _refresh(credentials: service_account.Credentials, transport: Any) -> None:
    try:
        credentials.refresh(transport)
    except BlockedDestination as exc:  # checked when saved; the name may resolve otherwise now
        raise PermanentFailure(PROVIDER_AUTH_FAILED) from exc
    except google.auth.exceptions.RefreshError as exc:
        if getattr(exc, "retryable", False):
            raise TransientFailure("fcm token endpoint unavailable") from exc
        raise PermanentFailure(PROVIDER_AUTH_FAILED) from exc
    except google.auth.exceptions.TransportError as exc:
        raise TransientFailure(f"fcm token endpoint unreachable: {exc}"[:500]) from exc


class FcmClient:
    """Sends one message to one Android device token; raises a classified failure."""

    def __init__(
        self, *, base_url: str, tokens: AccessTokens, timeout: float, ca_file: str | None = None
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._timeout = timeout
        self._pool = urllib3.PoolManager(maxsize=32, retries=False, ca_certs=ca_file or None)

    def send(self, account: Mapping[str, Any], device_token: str, message: MobileMessage) -> None:
        body = json.dumps({"message": fcm_message(device_token, message)}).encode()
        url = f"{self._base_url}/v1/projects/{account['project_id']}/messages:send"
        token = self._tokens.token(account)
        try:
            self._post(url, body, token)
        except ProviderRefusedCredential:
            token = self._tokens.token(account, rejected=token)
            try:
                self._post(url, body, token)
            except ProviderRefusedCredential as exc:
                raise PermanentFailure(PROVIDER_AUTH_FAILED) from exc

    def _post(self, url: str, body: bytes, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            reply = self._pool.request(
                "POST", url, body=body, headers=headers, timeout=self._timeout, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise TransientFailure(f"fcm unreachable: {exc.__class__.__name__}") from exc
        if reply.status == 200:
            return
        if reply.status == 401:
            raise ProviderRefusedCredential()
        raise _classified(reply.status, reply.data, reply.headers.get("Retry-After"))


def fcm_message(device_token: str, message: MobileMessage) -> dict[str, Any]:
    """The HTTP v1 `message` for one device: notification, string data, Android TTL and tag."""
    notification = {
        name: value
        for name, value in (
            ("title", message.title),
            ("body", message.body),
            ("image", message.image),
        )
        if value
    }
    android: dict[str, Any] = {"ttl": f"{message.ttl_s}s", "priority": "high"}
    if message.tag:
        android["collapse_key"] = message.tag
        android["notification"] = {"tag": message.tag}
    fcm: dict[str, Any] = {"token": device_token, "android": android}
    if notification:
        fcm["notification"] = notification
    data = message.string_data()
    if data:
        fcm["data"] = data
    return fcm


def _classified(status: int, body: bytes, retry_after: str | None) -> Exception:
    """FCM's error: UNREGISTERED, or INVALID_ARGUMENT about the token, means the token is gone;
    429 and 5xx are worth another attempt; any other refusal is permanent, as FCM words it."""
    code, message = _error_of(body)
    if code == "UNREGISTERED" or (
        code == "INVALID_ARGUMENT" and "registration token" in message.lower()
    ):
        return SubscriptionGone(f"fcm {status}: {code}")
    reason = f"fcm {status}: {code or 'error'}" + (f" {message}" if message else "")
    if http_verdict(status) is Verdict.TRANSIENT:
        return TransientFailure(reason[:500], retry_after=retry_after_s(retry_after))
    return PermanentFailure(reason[:500])


def _error_of(body: bytes) -> tuple[str, str]:
    """(FCM's error code, else the status word; the message) of an error body."""
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    codes = [
        detail.get("errorCode")
        for detail in error.get("details") or []
        if isinstance(detail, dict) and detail.get("errorCode")
    ]
    code = codes[0] if codes else error.get("status") or ""
    return str(code), str(error.get("message") or "")

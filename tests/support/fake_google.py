"""A fake of Google's OAuth2 token endpoint and of Firebase Cloud Messaging's HTTP v1 API.

One threaded HTTP/1.1 server on loopback serves both, with the real wire protocols: the
token endpoint grants access tokens for JWT assertions signed by a trusted service account
(as google-auth's service_account.Credentials.refresh() sends them), and
`POST /v1/projects/<project>/messages:send` checks the bearer token and the message as FCM
does, then answers each device token as the test scripted (by default 200). Error bodies are
Google's: `{"error": {"code", "message", "status", "details"?}}`.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.support.fcm_message_schema import InvalidArgument, validated_send_request
from tests.support.mobile_push_keys import FIREBASE_MESSAGING_SCOPE, service_account_public_key

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth addresses its assertions to Google's endpoint whatever the token_uri; the fake's
# own URI is accepted too, as it is the same endpoint in production.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
# A token for either scope may send (FCM's reference lists both).
SEND_SCOPES = frozenset(
    {FIREBASE_MESSAGING_SCOPE, "https://www.googleapis.com/auth/cloud-platform"}
)
_SEND_PATH = re.compile(r"/v1/projects/(?P<project>[^/]+)/messages:send")
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_SEE_CONSOLE = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
    "timeframe. Check your iat and exp values in the JWT claim."
)


def google_error(code: int, status: str, message: str, *details: dict[str, Any]) -> dict:
    """The error body of every Google API."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return {"error": error}


@dataclass(frozen=True)
class FcmReply:
    """How the fake answers one send; `body` None is the accepted answer, `{"name": ...}`."""

    status: int
    body: dict[str, Any] | None = None
    retry_after: int | None = None


# FCM's errorCode: (HTTP status, Google status, FCM's message).
_FCM_ERRORS: dict[str, tuple[int, str, str]] = {
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "INVALID_ARGUMENT": (
        400,
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Message rate exceeded for this device."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
}


def fcm_error(error_code: str, *, retry_after: int | None = None) -> FcmReply:
    """FCM's answer for one of its errorCodes (a key of _FCM_ERRORS), as its servers word it;
    `retry_after` adds a Retry-After header (seconds)."""
    status, status_name, message = _FCM_ERRORS[error_code]
    detail = {"@type": _FCM_ERROR_TYPE, "errorCode": error_code}
    return FcmReply(status, google_error(status, status_name, message, detail), retry_after)


def fcm_unregistered() -> FcmReply:
    """404 UNREGISTERED: the app was uninstalled or the token expired."""
    return fcm_error("UNREGISTERED")


def fcm_invalid_token() -> FcmReply:
    """400 INVALID_ARGUMENT: the device token is not one FCM ever issued."""
    return fcm_error("INVALID_ARGUMENT")


def fcm_accepted() -> FcmReply:
    """200 with a message name, as every unscripted send gets."""
    return FcmReply(200)


@dataclass(frozen=True)
class FcmMessage:
    """A message FCM accepted; known field names in snake_case, however the client spelled
    them."""

    project_id: str
    message: dict[str, Any]
    name: str  # projects/<project>/messages/<id>, as answered


@dataclass(frozen=True)
class _AccessToken:
    project_id: str
    scopes: frozenset[str]
    expires_at: float  # time.time()


@dataclass(frozen=True)
class _TrustedAccount:
    project_id: str
    private_key_id: str
    public_key: rsa.RSAPublicKey


class _GrantRefused(Exception):
    def __init__(self, description: str, error: str = "invalid_grant") -> None:
        super().__init__(description)
        self.body = {"error": error, "error_description": description}


class _QuietHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends offer

    def log_request(self, *args: Any) -> None:
        return None


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, content_type="application/json")


class FakeGoogle:
    """oauth2.googleapis.com/token and fcm.googleapis.com on one loopback port.

    `url` is FCM's base URL (FCM_BASE_URL), `token_uri` the token endpoint's; service accounts
    made by new_service_account(fake.token_uri) are trusted once given to `trust()`.
    """

    def __init__(self, *, expires_in: int = 3600) -> None:
        self.expires_in = expires_in  # seconds, of every access token granted from now on
        self._lock = threading.Lock()
        self._accounts: dict[str, _TrustedAccount] = {}  # by client_email
        self._access_tokens: dict[str, _AccessToken] = {}
        self._tokens_issued = 0
        self._grants_refused = False
        self._scripts: dict[str, deque[FcmReply]] = defaultdict(deque)
        self._attempts: dict[str, list[int]] = defaultdict(list)
        self._messages: list[FcmMessage] = []
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.port}"
        self.token_uri = f"{self.url}/token"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # Arranging.

    def trust(self, service_account: dict[str, Any]) -> None:
        """Accept assertions signed by this account's key, as Google does for a live key."""
        trusted = _TrustedAccount(
            project_id=service_account["project_id"],
            private_key_id=service_account["private_key_id"],
            public_key=service_account_public_key(service_account),
        )
        with self._lock:
            self._accounts[service_account["client_email"]] = trusted

    def script(self, device_token: str, *replies: FcmReply) -> None:
        """Answer the next sends to this device token with `replies`, in order; 200s after."""
        with self._lock:
            self._scripts[device_token].extend(replies)

    def revoke_tokens(self) -> None:
        """Refuse every access token granted so far (401), as after Google revokes them."""
        with self._lock:
            self._access_tokens.clear()

    def refuse_grants(self) -> None:
        """Refuse every assertion from now on, as Google does once the key is deleted."""
        with self._lock:
            self._grants_refused = True

    # Inspecting.

    @property
    def tokens_issued(self) -> int:
        with self._lock:
            return self._tokens_issued

    @property
    def messages(self) -> list[FcmMessage]:
        """The messages accepted (answered 200), in order of arrival."""
        with self._lock:
            return list(self._messages)

    def attempts(self, device_token: str) -> list[int]:
        """The status answered to each authenticated, well-formed send to this token."""
        with self._lock:
            return list(self._attempts[device_token])

    # Serving.

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self._route(request)(environ, start_response)

    def _route(self, request: Request) -> Response:
        send = _SEND_PATH.fullmatch(request.path)
        if request.method == "POST" and request.path == "/token":
            return self._grant(request)
        if request.method == "POST" and send:
            return self._send(request, send["project"])
        return _json(404, google_error(404, "NOT_FOUND", "Requested entity was not found."))

    def _grant(self, request: Request) -> Response:
        grant_type = request.form.get("grant_type", "")
        if grant_type != JWT_BEARER_GRANT:
            refusal = _GrantRefused(f"Invalid grant_type: {grant_type}", "unsupported_grant_type")
            return _json(400, refusal.body)
        try:
            account, scopes = self._verified_assertion(request.form.get("assertion", ""))
        except _GrantRefused as refusal:
            return _json(400, refusal.body)
        access_token = "ya29.c." + secrets.token_urlsafe(96)
        with self._lock:
            expires_in = self.expires_in
            self._access_tokens[access_token] = _AccessToken(
                account.project_id, scopes, time.time() + expires_in
            )
            self._tokens_issued += 1
        body = {"access_token": access_token, "expires_in": expires_in, "token_type": "Bearer"}
        return _json(200, body)

    def _verified_assertion(self, assertion: str) -> tuple[_TrustedAccount, frozenset[str]]:
        """The trusted account that signed this assertion and the scopes it asks for."""
        try:
            header = jwt.get_unverified_header(assertion)
            issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
        except jwt.InvalidTokenError as exc:
            raise _GrantRefused("Invalid JWT Signature.") from exc
        with self._lock:
            account = self._accounts.get(issuer)
            if self._grants_refused:
                raise _GrantRefused("Invalid JWT Signature.")
        if account is None:
            raise _GrantRefused("Invalid grant: account not found")
        if header.get("kid", account.private_key_id) != account.private_key_id:
            raise _GrantRefused("Invalid JWT Signature.")
        claims = self._verified_claims(assertion, account)
        if claims["exp"] - claims["iat"] > 3600:
            raise _GrantRefused(_SHORT_LIVED)
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes:
            raise _GrantRefused(
                "Invalid OAuth scope or ID token audience provided.", "invalid_scope"
            )
        return account, scopes

    def _verified_claims(self, assertion: str, account: _TrustedAccount) -> dict[str, Any]:
        try:
            return jwt.decode(
                assertion,
                account.public_key,
                algorithms=["RS256"],
                audience=[GOOGLE_TOKEN_AUDIENCE, self.token_uri],
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.InvalidSignatureError as exc:
            raise _GrantRefused("Invalid JWT Signature.") from exc
        except jwt.InvalidAudienceError as exc:
            message = "Invalid JWT: Failed audience check. The right audience is "
            raise _GrantRefused(message + GOOGLE_TOKEN_AUDIENCE) from exc
        except jwt.InvalidTokenError as exc:  # expired, issued in the future, claims missing
            raise _GrantRefused(_SHORT_LIVED) from exc

    def _send(self, request: Request, project_id: str) -> Response:
        refusal = self._authorization_refusal(request.headers.get("Authorization", ""), project_id)
        if refusal is not None:
            return refusal
        try:
            message, validate_only = validated_send_request(request.get_data())
        except InvalidArgument as invalid:
            return _json(400, invalid.body)
        if validate_only:  # FCM checks the message and answers with a made-up name
            return _json(200, {"name": f"projects/{project_id}/messages/fake_message_id"})
        reply = self._next_reply(message.get("token"))
        if reply.body is not None:
            headers = {"Retry-After": str(reply.retry_after)} if reply.retry_after else None
            return _json(reply.status, reply.body, headers)
        name = f"projects/{project_id}/messages/0:{time.time_ns() // 1000}%{secrets.token_hex(8)}"
        with self._lock:
            self._messages.append(FcmMessage(project_id, message, name))
        return _json(200, {"name": name})

    def _authorization_refusal(self, authorization: str, project_id: str) -> Response | None:
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            message = f"Request is missing required authentication credential. {_SEE_CONSOLE}"
            return self._unauthenticated(message)
        with self._lock:
            token = self._access_tokens.get(presented.strip())
        if token is None or token.expires_at <= time.time():
            return self._unauthenticated(
                f"Request had invalid authentication credentials. {_SEE_CONSOLE}"
            )
        if token.project_id != project_id:
            message = (
                "Permission 'cloudmessaging.messages.create' denied on resource "
                f"'//cloudresourcemanager.googleapis.com/projects/{project_id}' "
                "(or it may not exist)."
            )
            return _json(403, google_error(403, "PERMISSION_DENIED", message))
        if not token.scopes & SEND_SCOPES:
            message = "Request had insufficient authentication scopes."
            return _json(403, google_error(403, "PERMISSION_DENIED", message))
        return None

    @staticmethod
    def _unauthenticated(message: str) -> Response:
        headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        return _json(401, google_error(401, "UNAUTHENTICATED", message), headers)

    def _next_reply(self, device_token: str | None) -> FcmReply:
        """The scripted reply for this device token (topic sends are never scripted)."""
        if device_token is None:
            return fcm_accepted()
        with self._lock:
            script = self._scripts.get(device_token)
            reply = script.popleft() if script else fcm_accepted()
            self._attempts[device_token].append(reply.status)
        return reply

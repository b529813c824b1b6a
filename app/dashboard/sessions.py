"""Dashboard sessions, kept in Redis: what a signed-in operator may do, never the secret.

The browser holds only a random session id, signed with the installation's SECRET_KEY; Redis
holds, under a hash of that id, the app id, the key's id and scopes, and the session's CSRF
token. The key expires after `dashboard_session_idle_s` without a request, and every request
pushes that back, so inactivity (not age) ends a session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer
from redis import Redis

COOKIE_SALT = "herald.dashboard.session"
SIGN_IN_SALT = "herald.dashboard.sign-in"


@dataclass(frozen=True)
class DashboardSession:
    """A signed-in operator: the app it sees, the key it signed in with, what that key grants."""

    session_id: str
    app_id: str
    key_id: str
    scopes: frozenset[str]
    csrf_token: str

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def csrf_matches(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token, token or "")


class SessionStore:
    """Creates, finds (refreshing their idle timer) and ends dashboard sessions."""

    def __init__(self, redis: Redis, *, prefix: str, secret_key: str, idle_s: int) -> None:
        self._redis = redis
        self._prefix = prefix + "dashboard:session:"
        self._signer = Signer(secret_key, salt=COOKIE_SALT)
        self._sign_in_signer = Signer(secret_key, salt=SIGN_IN_SALT)
        self.idle_s = idle_s

    def start(self, *, app_id: str, key_id: str, scopes: frozenset[str]) -> tuple[str, str]:
        """A new session; answers its signed cookie value."""
        session_id = secrets.token_urlsafe(32)
        record = {
            "app_id": app_id,
            "key_id": key_id,
            "scopes": sorted(scopes),
            "csrf_token": secrets.token_urlsafe(32),
        }
        self._redis.set(self._key(session_id), json.dumps(record), ex=self.idle_s)
        return session_id, self._signer.sign(session_id).decode()

    def find(self, cookie: str | None, *, touch: bool = True) -> DashboardSession | None:
        """The live session a cookie names, its idle timer restarted unless `touch` is False
        (what a page does by itself is no activity); None if none or expired."""
        session_id = self._unsigned(cookie)
        if session_id is None:
            return None
        key = self._key(session_id)
        if touch:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.expire(key, self.idle_s)
                raw, _ = pipe.execute()
        else:
            raw = self._redis.get(key)
        if raw is None:
            return None
        record = json.loads(raw)
        return DashboardSession(
            session_id=session_id,
            app_id=record["app_id"],
            key_id=record["key_id"],
            scopes=frozenset(record["scopes"]),
            csrf_token=record["csrf_token"],
        )

    def end(self, session: DashboardSession) -> None:
        self._redis.delete(self._key(session.session_id))

    def sign_in_token(self, nonce: str) -> str:
        """The CSRF token of the sign-in form, bound to the nonce in the browser's cookie."""
        return self._sign_in_signer.get_signature(nonce).decode()

    def _unsigned(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self._signer.unsign(cookie).decode()
        except BadSignature:
            return None

    def _key(self, session_id: str) -> str:
        # A hash: whoever reads Redis learns no cookie that would sign them in.
        return self._prefix + hashlib.sha256(session_id.encode()).hexdigest()

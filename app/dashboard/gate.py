"""Who may see a dashboard page: the signed-in session, its CSRF token, its key's scopes.

Credentials are verified by `app.auth` (the one authentication module); this module only keeps
what a verified key grants in a server-side session (`app.dashboard.sessions`) and checks it on
every request: a session whose key was revoked since ends there.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from flask import Response, g, request
from redis import RedisError
from werkzeug.exceptions import BadRequest

from app import ratelimit
from app.auth import Principal, authenticate_server
from app.dashboard.sessions import DashboardSession, SessionStore
from app.extensions import db_session, runtime
from app.refusals import Forbidden
from app.tenants.models import SecretKey

log = logging.getLogger(__name__)

SESSION_COOKIE = "herald_dashboard"
SIGN_IN_COOKIE = "herald_dashboard_sign_in"
COOKIE_PATH = "/dashboard"
SIGN_IN_SCOPE = "read"


class CsrfRefused(BadRequest):
    description = (
        "This form did not carry the dashboard's security token (it may come from another "
        "site, or from a page older than your session). Reload the page and try again."
    )


def session_store() -> SessionStore:
    settings = runtime().settings
    return SessionStore(
        runtime().redis,
        prefix=settings.redis_prefix,
        secret_key=settings.secret_key,
        idle_s=settings.dashboard_session_idle_s,
    )


def operator() -> DashboardSession:
    """The signed-in session of this request (the gate has found it)."""
    return g.dashboard_session  # type: ignore[no-any-return]


def require_scope(scope: str) -> None:
    """Refuse (403) an action the session's key does not grant."""
    if not operator().may(scope):
        raise Forbidden(f"Your key lacks the {scope} scope this action needs.")


# Failed sign-ins per minute from one address before the form stops checking secrets: a secret
# cannot be guessed, but a script trying lists of leaked ones should be slowed down.
FAILED_SIGN_INS_PER_MINUTE = 10


def _failed_sign_ins_bucket() -> str:
    return runtime().key("dashboard", "failed-sign-ins", request.remote_addr or "-")


def sign_ins_blocked() -> bool:
    """Whether this address used up its failed sign-ins of the minute (Redis down: no)."""
    try:
        failures = ratelimit.used_in_window(
            runtime().redis, bucket=_failed_sign_ins_bucket(), now=ratelimit.clock()
        )
    except RedisError:
        return False
    return failures >= FAILED_SIGN_INS_PER_MINUTE


def note_failed_sign_in() -> None:
    try:
        ratelimit.spend(
            runtime().redis,
            bucket=_failed_sign_ins_bucket(),
            limit=FAILED_SIGN_INS_PER_MINUTE,
            now=ratelimit.clock(),
        )
    except RedisError:
        log.warning("failed sign-in not counted: Redis unreachable")


def verify_secret(secret: str) -> Principal:
    """The principal a pasted secret key authenticates as (`app.auth`), or a refusal."""
    credentials = runtime().credentials.view()
    headers = {"X-API-Secret": secret.strip()}
    return authenticate_server(db_session(), headers, runtime().encryptor, credentials)


def signed_in_session(cookie: str | None, *, touch: bool = True) -> DashboardSession | None:
    """The session the cookie names if it is live and its key still unrevoked in its app;
    `touch` restarts its idle timer (`SessionStore.find`)."""
    store = session_store()
    found = store.find(cookie, touch=touch)
    if found is None:
        return None
    key = db_session().get(SecretKey, found.key_id)
    if key is None or not key.is_active or key.app_id != found.app_id:
        store.end(found)
        return None
    return found


def check_csrf() -> None:
    """A state-changing request must carry the session's token (or, signing in, the form's)."""
    token = request.form.get("csrf_token")
    session: DashboardSession | None = g.get("dashboard_session")
    if session is not None:
        if not session.csrf_matches(token):
            raise CsrfRefused()
        return
    nonce = request.cookies.get(SIGN_IN_COOKIE)
    expected = session_store().sign_in_token(nonce) if nonce else None
    if not (expected and token and hmac.compare_digest(expected, token)):
        raise CsrfRefused()


def csrf_token() -> str:
    """The token this page's forms carry."""
    session: DashboardSession | None = g.get("dashboard_session")
    if session is not None:
        return session.csrf_token
    if "sign_in_nonce" not in g:
        g.sign_in_nonce = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)
    return session_store().sign_in_token(g.sign_in_nonce)


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=_served_over_https(),
    )


def forget_cookie(response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=COOKIE_PATH, httponly=True, samesite="Lax", secure=_served_over_https()
    )


def remember_sign_in_nonce(response: Response) -> None:
    """Keep the sign-in form's nonce in the browser, where its token will be checked against."""
    nonce = g.get("sign_in_nonce")
    if nonce and request.cookies.get(SIGN_IN_COOKIE) != nonce:
        set_cookie(response, SIGN_IN_COOKIE, nonce, max_age=3600)


def _served_over_https() -> bool:
    # Behind a TLS-terminating proxy the request looks like http; PUBLIC_URL says otherwise.
    return request.is_secure or runtime().settings.public_url.startswith("https://")

"""The one authentication module: server calls, user calls and scopes.

Server calls carry a secret in any of the accepted header forms; user calls carry the public
API key, the user's external id or email, and an HMAC of it keyed with the app's primary secret.
Codes and statuses are those of docs/api.md ("Credentials and scopes").
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from flask import g, request
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from app.extensions import db_session, runtime
from app.idempotency.guard import run_idempotently
from app.ratelimit import enforce as enforce_rate_limit
from app.refusals import Forbidden, HeraldError, Unauthorized
from app.security import Encryptor, hmac_matches
from app.tenants.credentials import Credentials, attached_app
from app.tenants.models import App
from app.tenants.oauth2 import claimed_app_id, looks_like_jwt, verify_access_token
from app.users.models import User
from app.users.service import touch_user_for_call

F = TypeVar("F", bound=Callable[..., Any])
# What a user's external_id and email columns hold.
MAX_IDENTITY = min(User.__table__.c.external_id.type.length, User.__table__.c.email.type.length)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the app, the scopes granted, and for user calls the user."""

    app: App
    scopes: frozenset[str]
    key_id: str | None = None
    owner_email: str | None = None
    user: User | None = None

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise Forbidden(f"This credential lacks the {scope} scope.")


def current_principal() -> Principal:
    """The caller, its app attached to the request's session (server calls are authenticated
    without attaching it: a handler needing only the id asks `current_app_id`)."""
    principal: Principal = g.principal
    if inspect(principal.app).detached:
        principal = replace(principal, app=attached_app(db_session(), principal.app))
        g.principal = principal
    return principal


def current_app_id() -> str:
    """The calling app's id."""
    return g.principal.app.id  # type: ignore[no-any-return]


def current_credentials() -> Credentials:
    """The credential cache as this request's authentication saw it (one generation)."""
    return g.credentials


def server_call(*scopes: str) -> Callable[[F], F]:
    """Authenticate a server (secret key or OAuth2 token) call and require every given scope."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = _authenticated(functools.partial(_server_principal, scopes=scopes))
            return run_idempotently(principal.app.id, lambda: view(*args, **kwargs))

        wrapper.__auth__ = ("server", scopes)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def user_call(view: F) -> F:
    """Authenticate a user call (API key + user id/email + HMAC, or the secret instead)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Read first: a user call may create its user, which a refused call must not do.
        principal = _authenticated(authenticate_user, optimistic=False)
        scope = f"{principal.app.id}:user:{principal.user.id if principal.user else ''}"
        return run_idempotently(scope, lambda: view(*args, **kwargs))

    wrapper.__auth__ = ("user", ())  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


Authenticate = Callable[[Session, Mapping[str, str], Credentials], "Principal"]


def _authenticated(authenticate: Authenticate, *, optimistic: bool = True) -> Principal:
    """The request's principal, with one request of its rate-limit budget spent.

    `optimistic` (`authenticate` must then write nothing): first from the credential cache as
    this process last knew it, the rate limit's round trip confirming that it is still current
    (a revoked key is refused at once, as with a read up front, one round trip fewer).
    Otherwise, or when that cache turns out outdated, from a freshly read view.
    """
    principal = _from_last_known_cache(authenticate) if optimistic else None
    if principal is not None:
        return principal
    credentials = runtime().credentials.view()
    principal = authenticate(db_session(), request.headers, credentials)
    g.credentials, g.principal = credentials, principal
    enforce_rate_limit(principal.app, principal.user)
    return principal


def _from_last_known_cache(authenticate: Authenticate) -> Principal | None:
    """The principal as the cache last known answers it, its budget spent; None when that cache
    is outdated (nothing spent, nothing kept). A refusal is raised only if still current."""
    cache, session = runtime().credentials, db_session()
    credentials = cache.last_known()
    try:
        principal = authenticate(session, request.headers, credentials)
    except HeraldError:
        if credentials.generation is None or cache.view().generation == credentials.generation:
            raise
        session.rollback()
        return None
    g.credentials, g.principal = credentials, principal  # a 429 is logged with its app
    if enforce_rate_limit(principal.app, principal.user, confirming=credentials):
        return principal
    session.rollback()  # what the outdated view attached to the session goes with it
    g.pop("principal", None)
    return None


def _server_principal(
    session: Session,
    headers: Mapping[str, str],
    credentials: Credentials,
    *,
    scopes: tuple[str, ...],
) -> Principal:
    principal = authenticate_server(session, headers, runtime().encryptor, credentials)
    _check_tenant_header(principal.app, headers)
    for scope in scopes:
        principal.require(scope)
    return principal


def _first(headers: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = headers.get(name)
        if value:
            return value.strip()
    return None


def _bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _secret_header(headers: Mapping[str, str]) -> str | None:
    return _first(headers, "X-API-Secret", "X-MAGICBELL-API-SECRET") or _bearer(headers)


def authenticate_server(
    session: Session, headers: Mapping[str, str], encryptor: Encryptor, credentials: Credentials
) -> Principal:
    """Resolve the calling app and the scopes its credential grants, or raise 401."""
    app_id = _first(headers, "appid")
    api_key = _first(headers, "X-API-Key", "X-MAGICBELL-API-KEY")
    secret = _first(headers, "apikey") if app_id else None
    secret = secret or _secret_header(headers)
    if not (app_id or api_key or secret):
        raise Unauthorized("API key not provided.", code="api_key_not_provided")
    app = _app_named_by(session, credentials, app_id=app_id, api_key=api_key)
    if app is not None and secret is None:
        raise Unauthorized("API secret not provided.", code="api_secret_not_provided")
    assert secret is not None
    return _principal_for_secret(session, credentials, app=app, secret=secret, encryptor=encryptor)


def _app_named_by(
    session: Session, credentials: Credentials, *, app_id: str | None, api_key: str | None
) -> App | None:
    if not (app_id or api_key):
        return None
    # Detached: attached to the request's session only if the handler asks for the principal.
    app = credentials.find_app(
        session, app_id=app_id, api_key=None if app_id else api_key, attach=False
    )
    if app is None:
        raise Unauthorized("Incorrect API key.", code="incorrect_api_key")
    return app


def _principal_for_secret(
    session: Session,
    credentials: Credentials,
    *,
    app: App | None,
    secret: str,
    encryptor: Encryptor,
) -> Principal:
    key = credentials.find_key(session, secret)
    if key is not None and (app is None or key.app_id == app.id):
        key_app = app or credentials.find_app(session, app_id=key.app_id, attach=False)
        assert key_app is not None
        return Principal(
            app=key_app, scopes=key.scopes, key_id=key.key_id, owner_email=key.owner_email
        )
    if looks_like_jwt(secret):
        token_app = app or _app_for_token(session, secret)
        if token_app is not None:
            scopes = verify_access_token(
                app=token_app,
                token=secret,
                encryptor=encryptor,
                jwks_dir=runtime().settings.jwks_dir,
            )
            if scopes is not None:
                return Principal(app=token_app, scopes=scopes)
    raise Unauthorized("API secret is incorrect.", code="api_secret_is_incorrect")


def _app_for_token(session: Session, token: str) -> App | None:
    app_id = claimed_app_id(token)
    return session.get(App, app_id) if app_id else None


@dataclass(frozen=True)
class UserCredentials:
    api_key: str | None
    external_id: str | None
    email: str | None
    user_hmac: str | None
    secret: str | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> UserCredentials:
        return cls(
            api_key=_first(headers, "X-API-Key", "X-MAGICBELL-API-KEY"),
            external_id=_first(headers, "X-User-External-ID", "X-MAGICBELL-USER-EXTERNAL-ID"),
            email=_first(headers, "X-User-Email", "X-MAGICBELL-USER-EMAIL"),
            user_hmac=_first(headers, "X-User-HMAC", "X-MAGICBELL-USER-HMAC"),
            secret=_secret_header(headers),
        )

    @classmethod
    def from_headers_or_query(
        cls, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> UserCredentials:
        """Headers, else the query parameters a browser WebSocket has to use instead."""
        given = cls.from_headers(headers)
        return cls(
            api_key=given.api_key or _first(query, "api_key"),
            external_id=given.external_id or _first(query, "user_id"),
            email=given.email or _first(query, "user_email"),
            user_hmac=given.user_hmac or _first(query, "user_hmac"),
            secret=given.secret,
        )


def authenticate_user(
    session: Session, headers: Mapping[str, str], credentials: Credentials
) -> Principal:
    """Resolve app and user of a user call; creates a user Herald has not seen yet (only once
    the call is known to be allowed: a refused call writes nothing)."""
    creds = UserCredentials.from_headers(headers)
    app = _verify_user(session, creds, credentials)
    _check_tenant_header(app, headers)
    user = touch_user_for_call(
        session=session,
        app_id=app.id,
        external_id=creds.external_id,
        email=None if creds.external_id else creds.email,
    )
    session.commit()
    return Principal(app=app, scopes=frozenset(), user=user)


def _verify_user(
    session: Session, creds: UserCredentials, credentials: Credentials, *, attach: bool = True
) -> App:
    """The app of a user call whose HMAC (or stand-in secret) is right; else 400/401/403.

    `attach=False` for a caller that only reads the app (see `Credentials.find_app`)."""
    if not creds.api_key:
        raise Unauthorized("API key not provided.", code="api_key_not_provided")
    app = credentials.find_app(session, api_key=creds.api_key, attach=attach)
    if app is None:
        raise Unauthorized("Incorrect API key.", code="incorrect_api_key")
    identity = creds.external_id or creds.email
    if not identity:
        raise HeraldError(
            "User email or external id not provided.", code="user_email_not_provided", status=400
        )
    if len(identity) > MAX_IDENTITY:
        raise HeraldError(
            f"User email or external id longer than {MAX_IDENTITY} characters.",
            code="ERR_BAD_REQUEST",
            status=400,
        )
    encryptor = runtime().encryptor
    if creds.user_hmac:
        primary = credentials.primary_secret(session, app=app, encryptor=encryptor)
        if not hmac_matches(primary, identity, creds.user_hmac):
            raise WrongUserHmac("User HMAC is incorrect.", hmac_required=app.hmac_required)
    elif creds.secret:
        _require_standin_secret(session, credentials, app=app, secret=creds.secret)
    elif app.hmac_required:
        raise Unauthorized(
            "Neither user HMAC nor API secret provided.",
            code="neither_user_hmac_nor_api_secret_provided",
        )
    return app


class WrongUserHmac(Forbidden):
    """403 on user calls, whether or not the app requires HMACs; a WebSocket handshake answers
    401 instead while it does."""

    def __init__(self, message: str, *, hmac_required: bool) -> None:
        super().__init__(message)
        self.hmac_required = hmac_required


@dataclass(frozen=True)
class SocketUser:
    """Who a WebSocket belongs to: ids only, since a socket outlives any database session."""

    app_id: str
    user_id: str


def authenticate_socket(
    session: Session, headers: Mapping[str, str], query: Mapping[str, str]
) -> SocketUser:
    """A WebSocket handshake: a user call whose credentials may come as query parameters.

    A user this process saw recently costs no database round trip (see app.tenants.credentials).
    """
    rt = runtime()
    credentials = rt.credentials.view()
    creds = UserCredentials.from_headers_or_query(headers, query)
    try:
        app = _verify_user(session, creds, credentials, attach=False)  # read, never changed
    except WrongUserHmac as exc:
        # While the app requires HMACs, a handshake whose HMAC is missing *or* wrong is refused
        # with 401 (one status for a client to act on); with HMACs optional a wrong one stays
        # 403, as on the HTTP user calls (docs/realtime.md).
        if not exc.hmac_required:
            raise
        raise Unauthorized(str(exc), code="user_hmac_is_incorrect") from exc
    _check_tenant_header(app, headers)
    external_id, email = creds.external_id, None if creds.external_id else creds.email
    if session.in_transaction():  # none when the cache answered
        session.commit()  # reads only so far; SQLite lets one transaction at a time hold its lock
    user_id = credentials.handshake_user(
        rt.last_seen, app_id=app.id, external_id=external_id, email=email
    )
    if user_id is None:  # new to Herald: create it, safely against a concurrent handshake
        user_id = touch_user_for_call(
            session=session, app_id=app.id, external_id=external_id, email=email
        ).id
        session.commit()
        credentials.remember_user(
            app_id=app.id, external_id=external_id, email=email, user_id=user_id
        )
    return SocketUser(app_id=app.id, user_id=user_id)


def _require_standin_secret(
    session: Session, credentials: Credentials, *, app: App, secret: str
) -> None:
    """A server may act for a user with the primary secret or a key holding `read`."""
    key = credentials.find_key(session, secret)
    if key is None or key.app_id != app.id or not (key.is_primary or "read" in key.scopes):
        raise Unauthorized("API secret is incorrect.", code="api_secret_is_incorrect")


def _check_tenant_header(app: App, headers: Mapping[str, str]) -> None:
    tenant = _first(headers, "X-Tenant-ID")
    if tenant is not None and tenant != app.id:
        raise Forbidden("X-Tenant-ID names another app.", field="X-Tenant-ID")

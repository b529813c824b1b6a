"""Apps, secret keys and app settings. Services flush; the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.orm import utcnow
from app.refusals import InvalidRequest, NotFound
from app.security import (
    Encryptor,
    generate_api_key,
    generate_secret,
    generate_vapid_key_pair,
    hash_secret,
)
from app.tenants.dkim import stored_dkim
from app.tenants.models import App, SecretKey
from app.tenants.oauth2 import validate_jwks_file

SCOPES = (
    "read",
    "send_notifications",
    "manage_templates",
    "approve_templates",
    "manage_users",
    "admin",
)
DEFAULT_KEY_SCOPES = ("send_notifications", "read")


@dataclass(frozen=True)
class IssuedSecret:
    """A secret key together with the one and only copy of its plain-text value."""

    key: SecretKey
    secret: str


class UnknownScope(ValueError):
    pass


def create_tenant(*, session: Session, name: str, encryptor: Encryptor) -> tuple[App, IssuedSecret]:
    """Create an app with its VAPID key pair and a primary secret holding every scope."""
    vapid_public, vapid_private = generate_vapid_key_pair()
    app = App(
        name=name,
        api_key=generate_api_key(),
        vapid_public_key=vapid_public,
        vapid_private_key_encrypted=encryptor.encrypt(vapid_private),
        critical_categories=[],
    )
    session.add(app)
    session.flush()
    return app, _issue_primary_secret(session, app=app, encryptor=encryptor)


def list_tenants(*, session: Session) -> list[App]:
    return list(session.scalars(select(App).order_by(App.created_at, App.id)))


def get_tenant(*, session: Session, app_id: str) -> App:
    app = session.get(App, app_id)
    if app is None:
        raise NotFound(f"No app with id {app_id}.", code="ERR_APP_NOT_FOUND")
    return app


def find_tenant_by_api_key(*, session: Session, api_key: str) -> App | None:
    return session.scalar(select(App).where(App.api_key == api_key))


def find_active_key(*, session: Session, secret: str) -> SecretKey | None:
    """The unrevoked key whose secret this is, in any app."""
    key = session.scalar(
        select(SecretKey)
        .options(joinedload(SecretKey.app))
        .where(SecretKey.secret_hash == hash_secret(secret))
    )
    return key if key is not None and key.is_active else None


def create_secret_key(
    *,
    session: Session,
    app_id: str,
    scopes: list[str] | None = None,
    owner_email: str | None = None,
) -> IssuedSecret:
    """Issue an extra secret key; only its hash is stored."""
    get_tenant(session=session, app_id=app_id)
    chosen = list(scopes) if scopes else list(DEFAULT_KEY_SCOPES)
    unknown = sorted(set(chosen) - set(SCOPES))
    if unknown:
        raise UnknownScope(f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}")
    secret = generate_secret()
    key = SecretKey(
        app_id=app_id,
        secret_hash=hash_secret(secret),
        scopes=sorted(set(chosen), key=SCOPES.index),
        owner_email=owner_email,
    )
    session.add(key)
    session.flush()
    return IssuedSecret(key, secret)


def list_secret_keys(*, session: Session, app_id: str) -> list[SecretKey]:
    """The app's secret keys, revoked ones included, oldest first (hashes only: no secret)."""
    get_tenant(session=session, app_id=app_id)
    return list(
        session.scalars(
            select(SecretKey)
            .where(SecretKey.app_id == app_id)
            .order_by(SecretKey.created_at, SecretKey.id)
        )
    )


def revoke_secret_key(*, session: Session, app_id: str, key_id: str) -> SecretKey:
    key = session.scalar(
        select(SecretKey).where(SecretKey.id == key_id, SecretKey.app_id == app_id)
    )
    if key is None:
        raise NotFound(f"No key {key_id} in app {app_id}.", code="ERR_KEY_NOT_FOUND")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.flush()
    return key


def rotate_primary_secret(*, session: Session, app_id: str, encryptor: Encryptor) -> IssuedSecret:
    """Revoke the current primary secret and issue a new one (user HMACs change with it)."""
    app = get_tenant(session=session, app_id=app_id)
    for key in app.secret_keys:
        if key.is_primary and key.is_active:
            key.revoked_at = utcnow()
            key.secret_encrypted = None
    return _issue_primary_secret(session, app=app, encryptor=encryptor)


def primary_secret_encrypted(*, session: Session, app_id: str) -> str:
    """The primary secret as stored (encrypted); 404 when the app has none."""
    encrypted = session.scalar(
        select(SecretKey.secret_encrypted).where(
            SecretKey.app_id == app_id,
            SecretKey.is_primary.is_(True),
            SecretKey.revoked_at.is_(None),
        )
    )
    if encrypted is None:
        raise NotFound("The app has no primary secret.", code="ERR_APP_NOT_FOUND")
    return encrypted


def vapid_private_key(*, app: App, encryptor: Encryptor) -> str:
    return encryptor.decrypt(app.vapid_private_key_encrypted)


def dkim_private_key(*, app: App, encryptor: Encryptor) -> str | None:
    """The app's DKIM private key (PKCS#1 PEM), or None when the app signs nothing."""
    return encryptor.decrypt(app.dkim["private_key_encrypted"]) if app.dkim else None


def update_settings(
    *, session: Session, app: App, changes: dict[str, Any], encryptor: Encryptor, jwks_dir: str
) -> App:
    """Apply validated settings (model attribute names); an oauth2 HS256 secret and a DKIM key
    are encrypted, a JWKS file must lie in the operator's JWKS directory."""
    jwks_path = (changes.get("oauth2") or {}).get("jwksPath")
    if jwks_path is not None:
        try:
            validate_jwks_file(jwks_dir, jwks_path)
        except ValueError as exc:
            raise InvalidRequest(str(exc), field="oauth2.jwksPath") from exc
    if changes.get("dkim") is not None:
        changes = {**changes, "dkim": stored_dkim(changes["dkim"], encryptor)}
    for name, value in changes.items():
        if name == "oauth2" and value is not None:
            value = _encrypt_oauth2(value, encryptor)
        setattr(app, name, value)
    session.flush()
    return app


def _encrypt_oauth2(config: dict[str, Any], encryptor: Encryptor) -> dict[str, Any]:
    stored = {k: v for k, v in config.items() if k != "hs256Secret"}
    if config.get("hs256Secret"):
        stored["hs256SecretEncrypted"] = encryptor.encrypt(config["hs256Secret"])
    return stored


def _issue_primary_secret(session: Session, *, app: App, encryptor: Encryptor) -> IssuedSecret:
    secret = generate_secret()
    key = SecretKey(
        app_id=app.id,
        secret_hash=hash_secret(secret),
        secret_encrypted=encryptor.encrypt(secret),
        is_primary=True,
        scopes=list(SCOPES),
    )
    session.add(key)
    session.flush()
    return IssuedSecret(key, secret)

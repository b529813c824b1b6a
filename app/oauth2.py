"""OAuth2 bearer access tokens (JWT), validated against the app's `oauth2` setting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy.orm import Session

from app.security import Encryptor
from app.tenants.models import App

_REQUIRED_CLAIMS = ["exp", "app_id", "scope"]


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def claimed_app_id(token: str) -> str | None:
    """The `app_id` claim, read without verification only to find whose keys verify the token."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    app_id = claims.get("app_id")
    return app_id if isinstance(app_id, str) else None


def verify_access_token(
    *, session: Session, app: App, token: str, encryptor: Encryptor
) -> frozenset[str] | None:
    """The token's scopes when it is valid for this app (signature, exp, iss, aud), else None."""
    del session
    config = app.oauth2 or {}
    if not config:
        return None
    try:
        key, algorithms = _verification_key(token, config, encryptor)
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=config.get("audience"),
            issuer=config.get("issuer"),
            options={"require": _REQUIRED_CLAIMS},
        )
    except (jwt.InvalidTokenError, OSError, ValueError, KeyError):
        return None
    if claims.get("app_id") != app.id or not isinstance(claims.get("scope"), str):
        return None
    return frozenset(claims["scope"].split())


def _verification_key(
    token: str, config: dict[str, Any], encryptor: Encryptor
) -> tuple[Any, list[str]]:
    if config.get("hs256SecretEncrypted"):
        return encryptor.decrypt(config["hs256SecretEncrypted"]), ["HS256"]
    if config.get("jwksPath"):
        jwks = jwt.PyJWKSet.from_json(Path(config["jwksPath"]).read_text())
        kid = jwt.get_unverified_header(token).get("kid")
        matches = [k for k in jwks.keys if kid is None or k.key_id == kid]
        if not matches:
            raise KeyError("no JWKS key matches the token's kid")
        return matches[0].key, ["RS256"]
    raise KeyError("oauth2 setting has neither hs256Secret nor jwksPath")


def validate_jwks_file(path: str) -> None:
    """Raise ValueError unless the path holds a readable JWKS document."""
    try:
        jwt.PyJWKSet.from_json(Path(path).read_text())
    except (OSError, json.JSONDecodeError, jwt.PyJWKSetError) as exc:
        raise ValueError(f"jwksPath is not a readable JWKS file: {exc}") from exc

"""OAuth2 bearer access tokens (JWT), validated against the app's `oauth2` setting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt

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
    *, app: App, token: str, encryptor: Encryptor, jwks_dir: str
) -> frozenset[str] | None:
    """The token's scopes when it is valid for this app (signature, exp, iss, aud), else None."""
    config = app.oauth2 or {}
    if not config:
        return None
    try:
        key, algorithms = _verification_key(token, config, encryptor, jwks_dir)
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=config.get("audience"),
            issuer=config.get("issuer"),
            options={"require": _REQUIRED_CLAIMS},
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError):
        return None
    if claims.get("app_id") != app.id or not isinstance(claims.get("scope"), str):
        return None
    return frozenset(claims["scope"].split())


def _verification_key(
    token: str, config: dict[str, Any], encryptor: Encryptor, jwks_dir: str
) -> tuple[Any, list[str]]:
    if config.get("hs256SecretEncrypted"):
        return encryptor.decrypt(config["hs256SecretEncrypted"]), ["HS256"]
    if config.get("jwksPath"):
        keys = _rsa_keys(_jwks_file(jwks_dir, config["jwksPath"]))
        kid = jwt.get_unverified_header(token).get("kid")
        matches = [k for k in keys if kid is None or k.key_id == kid]
        if not matches:
            raise KeyError("no JWKS key matches the token's kid")
        return matches[0].key, ["RS256"]
    raise KeyError("oauth2 setting has neither hs256Secret nor jwksPath")


def validate_jwks_file(jwks_dir: str, jwks_path: str) -> None:
    """Raise ValueError unless the setting names a JWKS file with an RSA key inside the
    operator's JWKS directory. The message never says why: an app's admin must not be able to
    learn anything about the server's other files."""
    try:
        _rsa_keys(_jwks_file(jwks_dir, jwks_path))
    except ValueError as exc:
        raise ValueError(
            "jwksPath must name a JWKS file holding an RSA key in the server's JWKS directory."
        ) from exc


def _jwks_file(jwks_dir: str, jwks_path: str) -> Path:
    """The file a `jwksPath` names (relative to the JWKS directory, or absolute inside it)."""
    base = Path(jwks_dir).resolve()
    path = (base / jwks_path).resolve()
    if not path.is_relative_to(base):
        raise ValueError("outside the JWKS directory")
    return path


def _rsa_keys(path: Path) -> list[jwt.PyJWK]:
    try:
        keys = jwt.PyJWKSet.from_json(path.read_text()).keys
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, jwt.PyJWKSetError) as exc:
        raise ValueError("not a readable JWKS file") from exc
    except (AttributeError, TypeError) as exc:  # JSON that is not a key set (a list, say)
        raise ValueError("not a JWKS document") from exc
    rsa = [key for key in keys if key.key_type == "RSA"]
    if not rsa:
        raise ValueError("no RSA key")  # tokens are verified as RS256 only
    return rsa

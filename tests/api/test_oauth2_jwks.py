"""OAuth2 tokens verified with a JWKS file, which must lie in the operator's JWKS directory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.factories import Tenant

SETTINGS = "/api/apps/current"
ISSUER, AUDIENCE = "https://auth.example", "herald"
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(runtime: Runtime, name: str, keys: list[dict]) -> str:
    directory = Path(runtime.settings.jwks_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(json.dumps({"keys": keys}))
    return name


def _public_jwk(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str) -> dict:
    algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else None
    algorithm = algorithm or jwt.algorithms.ECAlgorithm
    return {**json.loads(algorithm.to_jwk(key.public_key())), "kid": kid}


def _use_jwks(client: FlaskClient, tenant: Tenant, jwks_path: str):
    oauth2 = {"issuer": ISSUER, "audience": AUDIENCE, "jwksPath": jwks_path}
    return client.patch(SETTINGS, json={"oauth2": oauth2}, headers=tenant.headers())


def _token(tenant: Tenant, scope: str = "read", kid: str = "k1") -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + 600,
        "app_id": tenant.app_id,
        "scope": scope,
    }
    return jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": kid})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_signed_with_a_key_of_the_apps_jwks_file_authenticates(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    path = _jwks(runtime, "shop.json", [_public_jwk(rsa_key, "k1")])
    assert _use_jwks(client, tenant, path).status_code == 200

    response = client.get(SETTINGS, headers=_bearer(_token(tenant)))

    assert response.status_code == 403  # authenticated; `read` is not `admin`
    assert client.get("/api/templates", headers=_bearer(_token(tenant))).status_code == 200


@pytest.mark.parametrize("path", ["/etc/passwd", "../secret_key", "/etc/shadow", "missing.json"])
def test_a_jwks_path_outside_the_jwks_directory_is_refused_without_saying_why(
    client: FlaskClient, tenant: Tenant, path: str
):
    response = _use_jwks(client, tenant, path)

    assert response.status_code == 400
    (error,) = response.get_json()["errors"]
    assert error["field"] == "oauth2.jwksPath"
    assert "Errno" not in error["message"] and "passwd" not in error["message"]


def test_a_jwks_file_that_is_not_a_key_set_is_refused(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    directory = Path(runtime.settings.jwks_dir)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "list.json").write_text("[1, 2]")

    assert _use_jwks(client, tenant, "list.json").status_code == 400


def test_a_token_for_a_key_set_changed_to_hold_no_rsa_key_is_401_not_500(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    path = _jwks(runtime, "rotating.json", [_public_jwk(rsa_key, "k1")])
    assert _use_jwks(client, tenant, path).status_code == 200
    ec_key = ec.generate_private_key(ec.SECP256R1())
    _jwks(runtime, "rotating.json", [_public_jwk(ec_key, "k1")])  # the operator swapped it

    response = client.get("/api/templates", headers=_bearer(_token(tenant)))

    assert response.status_code == 401
    assert response.get_json()["errors"][0]["code"] == "api_secret_is_incorrect"

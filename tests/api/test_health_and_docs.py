"""Probes, request ids and the OpenAPI document (its /docs page: test_api_docs.py)."""

from __future__ import annotations

from flask.testing import FlaskClient

from app import create_app


def test_healthz_answers_ok(client: FlaskClient):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client: FlaskClient):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": True, "redis": True}


def test_readyz_is_503_when_redis_is_unreachable(database_url: str):
    broken = create_app({"database_url": database_url, "redis_url": "redis://127.0.0.1:1/0"})

    response = broken.test_client().get("/readyz")

    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": True, "redis": False}
    broken.extensions["herald"].close()


def test_every_response_carries_a_request_id(client: FlaskClient):
    generated = client.get("/healthz").headers["X-Request-ID"]
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"]

    assert len(generated) == 32
    assert echoed == "abc-1"


def test_unsafe_incoming_request_id_is_replaced(client: FlaskClient):
    response = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})

    assert response.headers["X-Request-ID"] != "bad id with spaces"


def test_openapi_document_lists_the_endpoints_with_schemas(client: FlaskClient):
    spec = client.get("/openapi.json").get_json()

    assert spec["openapi"].startswith("3.")
    assert {"get", "patch"} <= set(spec["paths"]["/api/apps/current"])
    patch = spec["paths"]["/api/apps/current"]["patch"]
    assert "requestBody" in patch
    assert "Errors" in spec["components"]["schemas"]

"""Every error, of every class, comes in the one envelope."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from werkzeug.test import TestResponse

from app.runtime import Runtime
from app.users import service as users
from tests.support.factories import Tenant


def assert_envelope(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.is_json
    errors = response.get_json()["errors"]
    assert errors and all(set(e) <= {"code", "message", "field"} for e in errors)
    assert errors[0]["code"] == code
    assert errors[0]["message"]


def patch_app(
    client: FlaskClient, tenant: Tenant, data: str | bytes, content_type: str | None
) -> TestResponse:
    """PATCH /api/apps/current with this body, declared as this type (None: no Content-Type)."""
    return client.patch(
        "/api/apps/current", data=data, content_type=content_type, headers=tenant.headers()
    )


def test_unknown_path_is_404(client: FlaskClient):
    assert_envelope(client.get("/nowhere"), 404, "ERR_NOT_FOUND")


def test_wrong_method_is_405_with_allow(client: FlaskClient):
    response = client.delete("/healthz")

    assert_envelope(response, 405, "ERR_METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(client: FlaskClient, tenant: Tenant):
    response = patch_app(client, tenant, "{not json", "application/json")
    assert_envelope(response, 400, "ERR_BAD_REQUEST")


def test_json_that_is_not_an_object_is_400(client: FlaskClient, tenant: Tenant):
    response = client.patch("/api/apps/current", json=[1, 2], headers=tenant.headers())
    assert_envelope(response, 400, "ERR_BAD_REQUEST")


def test_wrong_content_type_is_415(client: FlaskClient, tenant: Tenant):
    response = patch_app(client, tenant, "name=x", "application/x-www-form-urlencoded")
    assert_envelope(response, 415, "ERR_UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("content_type", ["application/xml", "multipart/form-data; boundary=x"])
def test_a_body_of_another_declared_type_is_415(
    client: FlaskClient, tenant: Tenant, content_type: str
):
    response = patch_app(client, tenant, '{"name": "x"}', content_type)
    assert_envelope(response, 415, "ERR_UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", None])
def test_a_json_body_sent_without_a_json_type_is_read_as_json(
    client: FlaskClient, tenant: Tenant, content_type: str | None
):
    """Seed 001's curl examples use `--data` with no Content-Type header (curl then declares
    a form); a browser `fetch` with a string body declares text/plain."""
    response = patch_app(client, tenant, '{"senderName": "Shop"}', content_type)
    assert response.status_code == 200
    assert response.get_json()["senderName"] == "Shop"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_malformed_json(client: FlaskClient, tenant: Tenant, constant: str):
    body = '{"user": {"external_id": "u-1", "custom_attributes": {"score": ' + constant + "}}}"

    response = client.post(
        "/users", data=body, content_type="application/json", headers=tenant.headers()
    )

    assert_envelope(response, 400, "ERR_BAD_REQUEST")


def test_a_nul_character_in_any_string_is_refused_before_anything_is_stored(
    client: FlaskClient, tenant: Tenant
):
    created = client.post(
        "/users", json={"user": {"external_id": "a\u0000b"}}, headers=tenant.headers()
    )
    in_a_key = client.post(
        "/users",
        json={"user": {"external_id": "u-1", "custom_attributes": {"k\u0000": 1}}},
        headers=tenant.headers(),
    )

    assert_envelope(created, 422, "ERR_VALIDATION")
    assert_envelope(in_a_key, 422, "ERR_VALIDATION")
    listed = client.get("/users", headers=tenant.headers()).get_json()
    assert listed["users"] == []


@pytest.mark.parametrize("url", ["/users/external_id:a%00b", "/users?email=a%00b"])
def test_a_nul_character_in_a_url_is_400(client: FlaskClient, tenant: Tenant, url: str):
    assert_envelope(client.get(url, headers=tenant.headers()), 400, "ERR_BAD_REQUEST")


@pytest.mark.parametrize("depth", [500, 5000])
def test_a_deeply_nested_body_is_a_client_error(client: FlaskClient, tenant: Tenant, depth: int):
    body = '{"senderName": ' + "[" * depth + "]" * depth + "}"

    response = patch_app(client, tenant, body, "application/json")

    assert_envelope(response, 400, "ERR_BAD_REQUEST")


def test_body_over_the_limit_is_413(client: FlaskClient, app: Flask, tenant: Tenant):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = patch_app(client, tenant, b"x" * (limit + 1), "application/json")
    assert_envelope(response, 413, "ERR_PAYLOAD_TOO_LARGE")


def test_default_body_limit_admits_seed_002s_4_mib_content(app: Flask):
    assert app.config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024


def test_unexpected_exception_is_500_without_a_trace_and_logged_with_the_request_id(
    client: FlaskClient,
    app: Flask,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
):
    def explode():
        raise RuntimeError("secret internals")

    monkeypatch.setitem(app.view_functions, "health.healthz", explode)
    with caplog.at_level(logging.ERROR):
        response = client.get("/healthz", headers={"X-Request-ID": "req-123"})

    assert_envelope(response, 500, "ERR_INTERNAL")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "req-123" in response.get_json()["errors"][0]["message"]
    assert any(getattr(r, "request_id", None) == "req-123" for r in caplog.records)


def test_a_send_while_redis_is_unreachable_is_503_not_500(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    with runtime.database.transaction() as session:
        users.find_or_create_user(session=session, app_id=tenant.app_id, external_id="u-1")
    broken = Redis.from_url("redis://127.0.0.1:1/0")
    body = {"to": [{"type": "user", "id": "u-1"}], "message": "hi"}
    try:
        monkeypatch.setattr(runtime, "redis", broken)
        response = client.post("/send", json=body, headers=tenant.headers())
    finally:
        broken.close()

    assert_envelope(response, 503, "ERR_SERVICE_UNAVAILABLE")

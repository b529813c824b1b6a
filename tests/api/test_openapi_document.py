"""The OpenAPI document stays complete: every route is in it, and every operation names each
status it can answer, so that clients and the fuzz test (test_openapi_fuzz.py) can rely on it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.http import doc
from app.openapi import auth_kind

WRITE_METHODS = {"post", "put", "patch", "delete"}
# The document itself, the pages that show it, the unsubscribe pages emails link to (HTML, for
# recipients and mail clients), and Flask's static files route (Herald serves none).
UNDOCUMENTED_ENDPOINTS = {
    "openapi.openapi_json",
    "apidocs.docs_page",
    "apidocs.docs_start_script",
    "apidocs.docs_asset",
    "unsubscribe.confirm_unsubscribe",
    "unsubscribe.unsubscribe",
    "static",
}
# HTML pages for people, not API operations: the operator dashboard.
PAGES = ("dashboard.",)
ERROR_ENVELOPE = {"$ref": "#/components/schemas/Errors"}
PATH_PARAMETER = re.compile(r"<(?:[^:>]+:)?([^>]+)>")  # Flask's `<path:user_id>` is `{user_id}`


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    return client.get("/openapi.json").get_json()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def headers(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation["parameters"] if p["in"] == "header"}


def test_every_route_is_in_the_document(app: Flask, spec: dict[str, Any]):
    documented = {(path, method.upper()) for path, method, _ in operations(spec)}

    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED_ENDPOINTS or rule.endpoint.startswith(PAGES):
            continue
        path = PATH_PARAMETER.sub(r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, rule.rule


def test_every_operation_documents_a_success_with_its_body_and_no_catch_all(
    spec: dict[str, Any],
):
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        successes = {s: r for s, r in responses.items() if s.startswith("2")}

        assert successes or (path == "/ws" and "101" in responses), (method, path)
        assert "default" not in responses, (method, path)
        for status, response in successes.items():
            assert status == "204" or "schema" in response["content"]["application/json"], (
                method,
                path,
                status,
            )


def test_every_error_response_is_the_one_error_envelope(spec: dict[str, Any]):
    shared = spec["components"]["responses"]

    for name, response in shared.items():
        assert response["content"]["application/json"]["schema"] == ERROR_ENVELOPE, name
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400 or (path, status) == ("/readyz", "503"):
                continue
            if "$ref" in response:
                assert response["$ref"].removeprefix("#/components/responses/") in shared, (
                    method,
                    path,
                    status,
                )
            else:  # the shared response, described with the operation's own codes
                schema = response["content"]["application/json"]["schema"]
                assert schema == ERROR_ENVELOPE, (method, path, status)


def test_every_operation_can_refuse_a_malformed_url(spec: dict[str, Any]):
    for path, method, operation in operations(spec):
        assert "400" in operation["responses"], (method, path)


def test_authenticated_operations_document_their_credentials_and_refusals(spec: dict[str, Any]):
    for path, method, operation in operations(spec):
        if "security" not in operation:
            continue
        statuses = set(operation["responses"])

        assert {"401", "403", "503"} <= statuses, (method, path)
        if path != "/ws":  # the handshake spends no rate-limit budget
            assert "429" in statuses, (method, path)
        schemes = {name for requirement in operation["security"] for name in requirement}
        if "userHmac" in schemes:
            assert {"X-User-External-ID", "X-User-Email"} <= headers(operation), (method, path)


def test_writes_document_idempotency_keys_and_their_conflicts(spec: dict[str, Any]):
    for path, method, operation in operations(spec):
        if method in WRITE_METHODS and "security" in operation:
            assert "Idempotency-Key" in headers(operation), (method, path)
            assert "409" in operation["responses"], (method, path)


def test_operations_with_a_body_document_its_refusals_in_their_familys_status(
    spec: dict[str, Any],
):
    for path, method, operation in operations(spec):
        if "requestBody" not in operation:
            continue
        validation = "400" if path == "/send" or path.startswith("/api/") else "422"

        assert {"400", validation, "413", "415"} <= set(operation["responses"]), (method, path)


def test_operations_on_a_named_resource_document_not_found_unless_they_create_it(
    app: Flask, spec: dict[str, Any]
):
    upserts = {
        (PATH_PARAMETER.sub(r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if getattr(app.view_functions[rule.endpoint], "__openapi__", {}).get("upsert")
        for method in rule.methods or ()
    }

    for path, method, operation in operations(spec):
        if any(p["in"] == "path" for p in operation["parameters"]):
            creates = (path, method) in upserts
            assert ("404" in operation["responses"]) is not creates, (method, path)


def test_a_view_cannot_document_other_credentials_than_its_decorator_checks():
    def view() -> None: ...

    view.__auth__ = ("server", ("read",))  # type: ignore[attr-defined]
    doc(auth="user")(view)

    with pytest.raises(ValueError, match="server call"):
        auth_kind(view, view.__openapi__)  # type: ignore[attr-defined]

"""Requests every operation must refuse, derived from the OpenAPI document: what its
credentials, body, query, path parameters and write method let a client get wrong. Each probe
names the status it must answer (or None: any the document lists, for unknown path values that
some operations create); the conformance test sends them through a client that holds every
response to the document.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient

from app.families import family_of
from app.idempotency.models import MAX_KEY_LENGTH
from tests.support.factories import Tenant
from tests.support.openapi_conformance import ConformanceRecorder, Operation

USER = "probing-user"
_PATH_PARAMETER = re.compile(r"{([^}]+)}")
# A value each query parameter refuses (pagination's bounds, booleans, timestamps, enums).
INVALID_QUERY = {
    "page": "0",
    "per_page": "0",
    "perPage": "0",
    "read": "maybe",
    "from": "yesterday",
    "last_seen_at:before": "yesterday",
    "status": "lost",
}


@dataclass(frozen=True)
class Probe:
    """One request an operation must refuse with `expected`."""

    operation: Operation
    what: str
    expected: int | None
    query: str = ""
    credentials: str = "own"  # own, none, wrong (another app's tenant id, a wrong HMAC)
    path_value: str = "probe"
    request: dict[str, Any] = field(default_factory=dict)
    repeats_key: bool = False  # first sent once with another query and the same key
    oversized: bool = False  # a body over the largest limit (bulk imports')


@dataclass(frozen=True)
class Callers:
    """Whose credentials the probes carry: the tenant's, or those of a tenant whose budget is
    spent (`throttled`)."""

    tenant: Tenant

    def headers(self, operation_security: set[str], credentials: str) -> dict[str, str]:
        if not operation_security or credentials == "none":
            return {}
        if "userHmac" in operation_security:
            headers = self.tenant.user_headers(USER)
            if credentials == "wrong":
                headers["X-User-HMAC"] = "d3Jvbmc="
            return headers
        headers = self.tenant.headers()
        if credentials == "wrong":
            headers["X-Tenant-ID"] = "another-app"
        return headers


def probes(recorder: ConformanceRecorder) -> Iterator[Probe]:
    """Every probe of every operation of the document (the WebSocket's handshake aside)."""
    document = recorder.document
    for operation in document.operations():
        method, path = operation
        if path == "/ws":
            continue
        raw = document.document["paths"][path][method.lower()]
        validation = _validation_status(recorder, operation)
        yield Probe(operation, "a NUL in the URL", 400, query="probe=%00")
        if raw.get("security"):
            yield Probe(operation, "no credentials", 401, credentials="none")
            yield Probe(operation, "credentials of no use here", 403, credentials="wrong")
        if _PATH_PARAMETER.search(path):
            body = {"json": {}} if "requestBody" in raw else {}
            yield Probe(operation, "unknown path values", None, path_value="unknown", request=body)
        headers = {p["name"] for p in raw["parameters"] if p["in"] == "header"}
        if "Idempotency-Key" in headers:
            yield Probe(operation, "an Idempotency-Key reused", 409, repeats_key=True)
            too_long = {"headers": {"Idempotency-Key": "k" * (MAX_KEY_LENGTH + 1)}}
            yield Probe(operation, "an Idempotency-Key too long", validation, request=too_long)
        if "requestBody" in raw:
            yield from _body_probes(operation, validation)
        invalid = [p["name"] for p in raw["parameters"] if p["name"] in INVALID_QUERY]
        if invalid:
            query = f"{invalid[0]}={INVALID_QUERY[invalid[0]]}"
            yield Probe(operation, "an invalid query parameter", validation, query=query)


def _body_probes(operation: Operation, validation: int) -> Iterator[Probe]:
    yield Probe(operation, "a body over the limit", 413, oversized=True)
    xml = {"data": "<send/>", "content_type": "application/xml"}
    yield Probe(operation, "a body that is not JSON", 415, request=xml)
    yield Probe(operation, "a body that is not an object", validation, request={"json": []})


def _validation_status(recorder: ConformanceRecorder, operation: Operation) -> int:
    """The status the operation's API family answers invalid input with."""
    method, path = operation
    adapter = recorder.app.url_map.bind("localhost")
    endpoint, _ = adapter.match(_PATH_PARAMETER.sub("1", path), method=method)
    return family_of(endpoint.partition(".")[0]).validation_status


def send(client: FlaskClient, callers: Callers, probe: Probe, security: set[str]) -> int:
    """Send the probe (after the request whose key it reuses, if any); its status."""
    method, path = probe.operation
    url = _url(path, probe.path_value)
    headers = callers.headers(security, probe.credentials)
    request = dict(probe.request)
    headers.update(request.pop("headers", {}))
    if probe.oversized:
        request = {"data": _oversized(client), "content_type": "application/json"}
    if probe.repeats_key:
        # Both uses name nothing that exists (where the path names something): the first one,
        # whose answer the key keeps, changes as little as it can.
        url = _url(path, "unknown")
        headers["Idempotency-Key"] = uuid.uuid4().hex
        client.open(f"{url}?probe=1", method=method, headers=headers)
    query = f"?{probe.query}" if probe.query else ("?probe=2" if probe.repeats_key else "")
    return client.open(url + query, method=method, headers=headers, **request).status_code


def _url(path: str, value: str) -> str:
    """The path with each parameter given `value`: "probe" names the probing user, another
    value nothing that exists."""

    def named(match: re.Match[str]) -> str:
        if match.group(1) == "number":
            return "999999"
        if match.group(1) == "user_id":
            return f"external_id:{USER if value == 'probe' else value}"
        return value

    return _PATH_PARAMETER.sub(named, path)


@functools.cache
def _body_of(size: int) -> bytes:
    return b" " * size


def _oversized(client: FlaskClient) -> bytes:
    """A body over both limits: MAX_BODY_BYTES and the one of bulk imports."""
    settings = client.application.extensions["herald"].settings
    return _body_of(max(settings.max_body_bytes, settings.max_import_body_bytes) + 1)


def security_of(recorder: ConformanceRecorder, operation: Operation) -> set[str]:
    method, path = operation
    raw = recorder.document.document["paths"][path][method.lower()]
    return {name for requirement in raw.get("security", []) for name in requirement}


def budget_probes(recorder: ConformanceRecorder) -> Iterator[Probe]:
    """An operation with credentials, called once its caller's budget is spent."""
    for operation in recorder.document.operations():
        if operation[1] != "/ws" and security_of(recorder, operation):
            yield Probe(operation, "a spent budget", 429)


def spend_budgets(client: FlaskClient, callers: Callers) -> None:
    """One read and one write of the server's and of the user's budgets (of one request each)."""
    server, user = callers.headers({"apiKey"}, "own"), callers.headers({"userHmac"}, "own")
    preferences = {"notification_preferences": {"categories": []}}
    for method, url, headers, body in (
        ("GET", "/api/apps/current", server, None),
        ("PATCH", "/api/apps/current", server, {}),
        ("GET", "/config", user, None),
        ("PUT", "/notification_preferences", user, preferences),
    ):
        response = client.open(url, method=method, headers=headers, json=body)
        assert response.status_code == 200, (url, response.get_json())


def create_probing_user(client: FlaskClient, callers: Callers) -> None:
    """The user that user calls act as, and that `{user_id}` names."""
    body = {"user": {"external_id": USER}}
    response = client.post("/users", json=body, headers=callers.headers({"apiKey"}, "own"))
    assert response.status_code == 201, response.get_json()


SEND = "/api/notifications/send"
BROKEN = {"push": {"title": "{{ 10 / count }}"}}  # fails to render when count is 0
COUNT = {"type": "object", "properties": {"count": {"type": "integer"}}}


def domain_probes() -> list[Probe]:
    """Refusals of a service's own rules that the generic probes cannot reach (each needs a
    body the operation accepts); `prepare_templates` first."""
    unknown = {"key": "unknown"}
    document = {"name": "Unknown", "channels": {"in_app": {"title": "Hi"}}}

    def refused(operation: Operation, what: str, expected: int, body: Any) -> Probe:
        return Probe(operation, what, expected, path_value="unknown", request={"json": body})

    return [
        refused(("POST", SEND), "an unknown template", 404, _send(unknown)),
        refused(("POST", SEND), "a template never approved", 422, _send({"key": "draft"})),
        refused(("PUT", "/api/templates/{key}"), "an unknown template", 404, document),
        refused(
            ("POST", "/api/templates/{key}/reject"), "an unknown template", 404, {"reason": "No."}
        ),
        refused(("PUT", "/users/{user_id}"), "an unknown user", 404, {"user": {"first_name": "A"}}),
        refused(
            ("PATCH", "/api/notifications/{notification_id}"),
            "an unknown notification",
            404,
            {"sendAt": "2030-01-01T09:00:00Z"},
        ),
        Probe(
            ("POST", "/api/templates/{key}/preview"),
            "a render that fails",
            422,
            path_value="broken",
            request={"json": {"variables": {"count": 0}}},
        ),
        Probe(
            ("POST", "/api/v1/notifications/send"),
            "no recipient it can reach",
            422,
            request={
                "json": {"channels": ["in_app"], "to": ["nobody"], "subject": "S", "body": "B"}
            },
        ),
    ]


def _send(template: dict[str, Any]) -> dict[str, Any]:
    return {"template": template, "targets": [USER], "mode": "batch"}


def prepare_templates(client: FlaskClient, callers: Callers) -> None:
    """A template never approved (`draft`), and one that fails to render (`broken`)."""
    headers = callers.headers({"apiKey"}, "own")
    for key, channels, schema in (
        ("draft", {"in_app": {"title": "Hi"}}, {}),
        ("broken", BROKEN, COUNT),
    ):
        body = {"key": key, "name": key, "channels": channels, "variableSchema": schema}
        response = client.post("/api/templates", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()

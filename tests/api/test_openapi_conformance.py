"""The OpenAPI document and the wire agree: real requests to every operation, each response
held to the document (its status documented for the operation, its body valid against the
documented schema), and every operation seen answering each success and each refusal it
documents (but 503: only the WebSocket API's send is made to meet an unreachable Redis here).

`pytest -p tests.openapi_plugin` holds every other test's responses to the document too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft4Validator

from app import create_app, ratelimit
from app.runtime import Runtime
from tests.support.conformance_calls import Caller, exercise_every_operation
from tests.support.conformance_probes import (
    Callers,
    Probe,
    budget_probes,
    create_probing_user,
    domain_probes,
    prepare_templates,
    probes,
    security_of,
    send,
    spend_budgets,
)
from tests.support.factories import Tenant, make_tenant
from tests.support.fuzzing import unlimit
from tests.support.openapi_conformance import (
    ConformanceRecorder,
    NonConformingResponse,
    ServedDocument,
    json_schema,
    recording_client,
)

WEBSOCKET = ("GET", "/ws")  # the test client cannot open a socket (tests/realtime does)


@pytest.mark.parametrize("engine_name", ["postgresql"])  # the production database
def test_every_operation_answers_each_documented_success_as_documented(
    app: Flask, runtime: Runtime, tenant: Tenant
):
    client, recorder = recording_client(app)

    exercise_every_operation(Caller(client, tenant), runtime)

    assert _unanswered(recorder, lambda status: status < 300) == {}


@pytest.mark.parametrize("engine_name", ["postgresql"])
def test_every_operation_refuses_as_documented(
    app: Flask, runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(ratelimit, "clock", lambda: 1_800_000_020.0)  # one minute throughout
    unlimit(runtime, tenant)
    throttled = Callers(
        make_tenant(
            runtime, "throttled", rate_limit_read_per_minute=1, rate_limit_write_per_minute=1
        )
    )
    client, recorder = recording_client(app)
    callers = Callers(tenant)
    create_probing_user(client, callers)
    prepare_templates(client, callers)
    wrong: list[tuple[Any, ...]] = []

    def refused(callers: Callers, probe: Probe) -> None:
        status = send(client, callers, probe, security_of(recorder, probe.operation))
        if probe.expected not in (None, status):
            wrong.append((*probe.operation, probe.what, probe.expected, status))

    for probe in [*probes(recorder), *domain_probes()]:
        refused(callers, probe)
    spend_budgets(client, throttled)
    for probe in budget_probes(recorder):
        refused(throttled, probe)

    assert wrong == [], "\n".join(map(str, wrong))
    unanswered = _unanswered(recorder, lambda status: status >= 400 and status != 503)
    assert unanswered == {}, "\n".join(map(str, unanswered.items()))


@pytest.mark.parametrize("engine_name", ["postgresql"])
def test_an_unreachable_redis_is_answered_as_documented(database_url: str, tenant: Tenant):
    unreachable = create_app({"database_url": database_url, "redis_url": "redis://127.0.0.1:1/0"})
    try:
        client, recorder = recording_client(unreachable)
        user = {"user": {"external_id": "someone"}}
        assert client.post("/users", json=user, headers=tenant.headers()).status_code == 201
        message = {"to": [{"type": "user", "id": "someone"}], "message": "Hi"}

        ready = client.get("/readyz")
        sent = client.post("/send", json=message, headers=tenant.headers())
    finally:
        unreachable.extensions["herald"].close()

    assert (ready.status_code, sent.status_code) == (503, 503)
    assert recorder.answered["GET", "/readyz"] == recorder.answered["POST", "/send"] == {503}


def test_a_status_the_document_does_not_list_fails_loudly(app: Flask, client: FlaskClient):
    document = client.get("/openapi.json").get_json()
    del document["paths"]["/healthz"]["get"]["responses"]["200"]
    recorder = ConformanceRecorder(app, ServedDocument(document))

    with pytest.raises(NonConformingResponse, match="status 200 is not documented"):
        recorder.check("GET", "/healthz", client.get("/healthz"))


def test_a_body_unlike_its_documented_schema_fails_loudly(app: Flask, client: FlaskClient):
    document = copy.deepcopy(client.get("/openapi.json").get_json())
    document["components"]["schemas"]["app.HealthView"]["properties"]["status"] = {
        "type": "integer"
    }
    recorder = ConformanceRecorder(app, ServedDocument(document))

    with pytest.raises(NonConformingResponse, match="status: 'ok' is not of type 'integer'"):
        recorder.check("GET", "/healthz", client.get("/healthz"))


def test_nullable_schemas_take_null_and_nothing_else_unless_documented():
    nested = {"$ref": "#/definitions/Named"}
    named = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    schema = json_schema(
        {
            "type": "object",
            "properties": {
                "title": {"type": "string", "nullable": True},
                "mode": {"type": "string", "enum": ["a"], "nullable": True},
                "owner": {"anyOf": [{"type": "object", "nullable": True}, nested]},
            },
        }
    )
    validator = Draft4Validator({**schema, "definitions": {"Named": named}})

    assert validator.is_valid({"title": None, "mode": None, "owner": None})
    assert validator.is_valid({"title": "x", "mode": "a", "owner": {"name": "n"}})
    assert not validator.is_valid({"owner": {}})  # the nested schema is kept, not any object
    assert not validator.is_valid({"mode": "b"})


def _unanswered(
    recorder: ConformanceRecorder, wanted: Callable[[int], bool]
) -> dict[tuple[str, str], list[int]]:
    """Per operation, the documented statuses `wanted` selects that no response answered."""
    unanswered = {}
    for operation in recorder.document.operations():
        documented = {int(s) for s in recorder.document.responses(operation) if wanted(int(s))}
        missing = documented - recorder.answered.get(operation, set())
        if missing and operation != WEBSOCKET:
            unanswered[operation] = sorted(missing)
    return unanswered

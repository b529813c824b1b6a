"""Bad input at scale: every operation of /openapi.json, fuzzed with valid and invalid input.

No request may meet a server error, and every response must be one the document promises:
its status, its content type and its body's schema. One test per operation, each on an empty
database holding one of everything (`tests.support.fuzzing.populate`) for a tenant whose rate limits
the fuzzer cannot exhaust.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.runtime import Runtime
from tests.support.factories import Tenant, make_tenant
from tests.support.fuzzing import load_schema, populate, request_headers, unlimit

schema = load_schema()

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzzed_tenant(client: FlaskClient, runtime: Runtime) -> Tenant:
    tenant = make_tenant(runtime, "fuzzed")
    unlimit(runtime, tenant)
    populate(client, runtime, tenant)
    return tenant


@pytest.mark.parametrize("engine_name", ["postgresql"])  # the production database
@schema.parametrize()
def test_every_response_is_documented_and_none_is_a_server_error(
    case: Case, app: Flask, runtime: Runtime, fuzzed_tenant: Tenant
):
    case.call_and_validate(app=app, headers=request_headers(case, fuzzed_tenant), checks=CHECKS)
    if case.operation.label == "PATCH /api/apps/current":
        unlimit(runtime, fuzzed_tenant)  # the fuzzed settings may have lowered the limits

"""Variable schemas: send-time validation naming each field, and save-time schema checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from templates_store.variables import check_variable_schema, check_variables
from tests.support.template_factories import ORDER_VARIABLES, make_version

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "orderId": {"type": "string", "pattern": "^ORD-[0-9]+$"},
        "email": {"type": "string", "format": "email"},
        "deliverBy": {"type": "string", "format": "date-time"},
        "trackingUrl": {"type": "string", "format": "uri"},
        "size": {"enum": ["S", "M", "L"]},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 10},
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"sku": {"type": "string"}}},
        },
    },
}
VALID = {
    "orderId": "ORD-1",
    "email": "jane@shop.test",
    "deliverBy": "2026-12-01T10:00:00Z",
    "trackingUrl": "https://track.test/1",
    "size": "M",
    "quantity": 2,
    "items": [{"sku": "A1"}],
}


def problems_for(variables: dict[str, Any], schema: dict[str, Any] = SCHEMA) -> list[tuple]:
    version = make_version({"in_app": {"title": "x"}}, schema)
    return [(p.code, p.field) for p in check_variables(version, variables)]


def test_valid_variables_have_no_problems():
    assert problems_for(VALID) == []


def test_every_declared_variable_is_required():
    variables = {k: v for k, v in VALID.items() if k not in ("orderId", "size")}

    assert problems_for(variables) == [
        ("ERR_INVALID_VARIABLES", "template.variables.orderId"),
        ("ERR_INVALID_VARIABLES", "template.variables.size"),
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("orderId", 12345),
        ("orderId", "12345"),
        ("email", "not-an-email"),
        ("deliverBy", "tomorrow"),
        ("trackingUrl", "not a uri"),
        ("size", "XL"),
        ("quantity", 0),
        ("quantity", 11),
        ("quantity", 2.5),
    ],
)
def test_types_formats_enums_and_bounds_are_enforced(name: str, value: Any):
    assert problems_for({**VALID, name: value}) == [
        ("ERR_INVALID_VARIABLES", f"template.variables.{name}")
    ]


def test_a_pattern_that_would_backtrack_for_ever_refuses_the_value_instead():
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(a|aa)+$"}}}

    assert problems_for({"code": "a" * 60 + "b"}, schema) == [
        ("ERR_INVALID_VARIABLES", "template.variables.code")
    ]
    assert problems_for({"code": "a" * 60}, schema) == []


def test_variable_names_are_matched_against_pattern_properties_without_backtracking_for_ever():
    schema = {
        "type": "object",
        "patternProperties": {"^(a|aa)+$": {"type": "string"}},
        "additionalProperties": False,
    }
    matching, not_matching = "a" * 60, "a" * 60 + "b"

    assert problems_for({matching: "x"}, schema) == []
    assert problems_for({matching: 5}, schema) == [
        ("ERR_INVALID_VARIABLES", f"template.variables.{matching}")
    ]
    assert problems_for({not_matching: "x"}, schema) == [
        ("ERR_INVALID_VARIABLES", f"template.variables.{not_matching}")
    ]


def test_unevaluated_properties_cannot_be_combined_with_pattern_properties():
    schema = {
        "type": "object",
        "patternProperties": {"^x-": {"type": "string"}},
        "unevaluatedProperties": False,
    }

    problems = check_variable_schema(schema)

    assert [(p.code, p.field) for p in problems] == [("ERR_BAD_REQUEST", "variableSchema")]
    assert problems_for({"x-a": "1"}, schema) == [("ERR_INVALID_VARIABLES", "template.variables")]


def test_nested_fields_are_named_with_their_index():
    assert problems_for({**VALID, "items": [{"sku": "A"}, {"sku": 3}, {}]}) == [
        ("ERR_INVALID_VARIABLES", "template.variables.items.1.sku"),
        ("ERR_INVALID_VARIABLES", "template.variables.items.2.sku"),
    ]


def test_unknown_variables_are_refused_unless_the_schema_allows_them():
    open_schema = {**SCHEMA, "additionalProperties": True}

    assert problems_for({**VALID, "coupon": "X"}) == [
        ("ERR_INVALID_VARIABLES", "template.variables.coupon")
    ]
    assert problems_for({**VALID, "coupon": "X"}, open_schema) == []


def test_messages_say_what_is_wrong():
    version = make_version({"in_app": {"title": "x"}})

    problems = check_variables(version, {"orderId": "ORD-1", "extra": 1}, field_prefix="variables")

    assert [(p.field, p.message) for p in problems] == [
        ("variables.customerName", "Missing variable 'customerName'."),
        ("variables.extra", "Unknown variable 'extra': the template does not declare it."),
    ]


def test_variables_must_be_an_object():
    version = make_version()

    [problem] = check_variables(version, ["not", "an", "object"])  # type: ignore[arg-type]

    assert (problem.code, problem.field) == ("ERR_INVALID_VARIABLES", "template.variables")


def test_the_seed_example_variables_are_valid_for_the_order_template():
    assert check_variables(make_version(), ORDER_VARIABLES) == []


def with_property(definition: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"a": definition}}


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ([], "variableSchema"),
        ({"type": "array"}, "variableSchema"),
        (with_property({"type": "text"}), "variableSchema.properties.a.type"),
        (with_property({"minimum": "one"}), "variableSchema.properties.a.minimum"),
        (with_property({"$ref": "#/$defs/missing"}), "variableSchema.properties.a.$ref"),
        (with_property({"$ref": "https://x.test/s.json"}), "variableSchema.properties.a.$ref"),
        ({"$schema": "https://unknown.test/schema", "type": "object"}, "variableSchema.$schema"),
    ],
)
def test_invalid_variable_schemas_are_refused_naming_the_place(schema: Any, field: str):
    problems = check_variable_schema(schema)

    assert [p.field for p in problems] == [field]


def test_a_draft_7_schema_with_local_refs_is_accepted():
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"a": {"$ref": "#/definitions/name"}},
        "definitions": {"name": {"type": "string"}},
    }

    assert check_variable_schema(schema) == []
    version = make_version({"in_app": {"title": "{{ a }}"}}, schema)
    assert [p.field for p in check_variables(version, {"a": 1})] == ["template.variables.a"]


@pytest.fixture
def probe_url() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every path asked of it, and its base URL."""
    requested: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            body = json.dumps({"type": "string"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("keyword", ["$dynamicRef", "$ref"])
def test_a_schema_reaching_for_a_remote_url_is_refused_and_never_fetched(
    probe_url: tuple[str, list[str]], keyword: str
):
    base, requested = probe_url
    schema = with_property({keyword: f"{base}/ssrf-probe"})
    stored = make_version({"in_app": {"title": "{{ a }}"}}, schema)  # as if saved before the check

    refused = check_variable_schema(schema)
    problems = check_variables(stored, {"a": "x"})

    assert [p.field for p in refused] == [f"variableSchema.properties.a.{keyword}"]
    assert [(p.code, p.field) for p in problems] == [
        ("ERR_INVALID_VARIABLES", "template.variables")
    ]
    assert requested == []


@pytest.mark.parametrize(
    ("schema", "field", "message"),
    [
        (
            with_property({"$dynamicRef": "#meta"}),
            "variableSchema.properties.a.$dynamicRef",
            "$dynamicRef is not supported; use a local $ref (#/...).",
        ),
        (
            {
                "$schema": "https://json-schema.org/draft/2019-09/schema",
                "type": "object",
                "properties": {"a": {"$recursiveRef": "#"}},
            },
            "variableSchema.properties.a.$recursiveRef",
            "$recursiveRef is not supported; use a local $ref (#/...).",
        ),
        (
            {
                "type": "object",
                "$defs": {"s": {"type": "string"}},
                "properties": {"a": {"$id": "http://example.invalid/a.json", "$ref": "#/$defs/s"}},
            },
            "variableSchema.properties.a.$id",
            "$id is only allowed at the top level of variableSchema.",
        ),
        (
            with_property({"$schema": "http://json-schema.org/draft-07/schema#"}),
            "variableSchema.properties.a.$schema",
            "$schema is only allowed at the top level of variableSchema.",
        ),
        (
            {
                "$schema": "http://json-schema.org/draft-04/schema#",
                "type": "object",
                "definitions": {"s": {"type": "string"}},
                "properties": {"a": {"id": "http://example.invalid/a.json"}},
            },
            "variableSchema.properties.a.id",
            "id is only allowed at the top level of variableSchema.",
        ),
    ],
)
def test_references_that_could_resolve_elsewhere_than_the_schema_are_refused(
    schema: dict[str, Any], field: str, message: str
):
    problems = check_variable_schema(schema)

    assert [(p.code, p.field, p.message) for p in problems] == [("ERR_BAD_REQUEST", field, message)]


def test_a_stored_schema_whose_ref_cannot_resolve_refuses_the_variables_instead_of_raising():
    schema = {
        "type": "object",
        "$defs": {"s": {"type": "string"}},
        "properties": {"x": {"$id": "http://example.invalid/x.json", "$ref": "#/$defs/s"}},
    }
    stored = make_version({"in_app": {"title": "{{ x }}"}}, schema)  # saved before the check

    [problem] = check_variables(stored, {"x": "value"}, field_prefix="variables")

    assert (problem.code, problem.field) == ("ERR_INVALID_VARIABLES", "variables")
    assert "cannot be resolved" in problem.message


def test_a_top_level_id_and_anchors_are_accepted_with_local_refs():
    schema = {
        "$id": "https://shop.test/schemas/order.json",
        "type": "object",
        "$defs": {"s": {"$anchor": "name", "type": "string"}},
        "properties": {"a": {"$ref": "#/$defs/s"}},
    }

    assert check_variable_schema(schema) == []
    version = make_version({"in_app": {"title": "{{ a }}"}}, schema)
    assert check_variables(version, {"a": "Jane"}) == []
    assert [p.field for p in check_variables(version, {"a": 1})] == ["template.variables.a"]

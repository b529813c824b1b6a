"""The OpenAPI 3 document, built from the routes' marshmallow schemas (browsable at /docs).

Each operation documents every status it can answer (`app.openapi_responses`), its credentials
as security schemes, and the request headers it reads, so that a client generator or a fuzzer
(tests/api/test_openapi_fuzz.py) can hold the API to it.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app
from marshmallow import Schema
from marshmallow.fields import Field
from werkzeug.routing import Rule

from app.auth import MAX_IDENTITY
from app.families import INBOX_API, family_of, serving
from app.http import query_schema
from app.idempotency.guard import WRITE_METHODS
from app.idempotency.models import MAX_KEY_LENGTH
from app.openapi_responses import (
    DECORATED,
    Reach,
    error_responses,
    error_statuses,
    response_components,
)
from app.wire import EpochSeconds

bp = serving(INBOX_API, Blueprint("openapi", __name__))

_PATH_PARAM = re.compile(r"<(?:([a-z_]+):)?([a-zA-Z_]+)>")
_CONVERTER_SCHEMAS = {"int": {"type": "integer", "minimum": 0}}


def _header_key(name: str, description: str) -> dict[str, str]:
    return {"type": "apiKey", "in": "header", "name": name, "description": description}


SECURITY_SCHEMES = {
    "apiKey": _header_key("X-API-Key", "The app's public API key (or X-MAGICBELL-API-KEY)."),
    "apiSecret": _header_key("X-API-Secret", "A secret of the app (or X-MAGICBELL-API-SECRET)."),
    "bearer": {"type": "http", "scheme": "bearer", "description": "A secret, or an OAuth2 JWT."},
    "appId": _header_key("appid", "The app's id, with its secret in `apikey`."),
    "appSecret": _header_key("apikey", "A secret of the app, with its id in `appid`."),
    "userHmac": _header_key(
        "X-User-HMAC", "base64(HMAC-SHA256(primary secret, the user's external id or email))."
    ),
}
# Alternatives (any one entry), each naming headers that go together.
SECURITY = {
    "server": [{"apiKey": [], "apiSecret": []}, {"bearer": []}, {"appId": [], "appSecret": []}],
    # A server may send a secret in place of the HMAC; an app may make the HMAC optional.
    "user": [{"apiKey": [], "userHmac": []}, {"apiKey": [], "apiSecret": []}, {"apiKey": []}],
}
SECURITY["socket"] = SECURITY["user"]

ERROR_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "additionalProperties": False,
    "properties": {
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                },
            },
        }
    },
}


def build_spec(app: Flask) -> dict[str, Any]:
    marshmallow = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec(
        title="Herald",
        version="0.1.0",
        openapi_version="3.0.3",
        plugins=[marshmallow],
        info={"description": "Self-hosted notification delivery: email, web push, in-app inbox."},
    )
    marshmallow.map_to_openapi_type(EpochSeconds, "integer", None)
    marshmallow.converter.add_attribute_function(alternatives)  # type: ignore[union-attr]
    spec.components.schema("Errors", ERROR_SCHEMA)
    for name, response in response_components().items():
        spec.components.response(name, response)
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "__openapi__", None)
        if meta is None:
            continue
        path = _PATH_PARAM.sub(r"{\2}", rule.rule)
        operations = {
            method.lower(): _operation(view, meta, rule, path, method)
            for method in sorted(rule.methods or ())
            if method not in {"HEAD", "OPTIONS"}
        }
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def alternatives(converter: Any, field: Field, **_: Any) -> dict[str, Any]:
    """`oneOf` for a field that takes one of several shapes, listed in its `alternatives`
    (fields, or schemas that become components)."""
    choices = getattr(field, "alternatives", ())
    if not choices:
        return {}
    return {
        "oneOf": [
            converter.field2property(choice)
            if isinstance(choice, Field)
            else converter.resolve_nested_schema(choice)
            for choice in choices
        ]
    }


def schema_name(schema: Any) -> str:
    """Component names qualified by package: two packages may both have a `SendResponse`."""
    cls = schema if isinstance(schema, type) else type(schema)
    package = cls.__module__.split(".")[-2] if "." in cls.__module__ else cls.__module__
    base = cls.__name__.removesuffix("Schema")
    return f"{package}.{base}"


def auth_kind(view: Any, meta: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """How the view is authenticated and the scopes it needs: the decorator says so when there
    is one (`app.auth` marks its wrappers), else the view's `doc(auth=...)`."""
    decorated: tuple[str, tuple[str, ...]] | None = getattr(view, "__auth__", None)
    if decorated is None:
        return meta["auth"] or "none", ()
    if meta["auth"] not in (None, decorated[0]):
        raise ValueError(f"{view.__name__}: doc(auth={meta['auth']!r}) but {decorated[0]} call")
    return decorated


def _operation(
    view: Any, meta: dict[str, Any], rule: Rule, path: str, method: str
) -> dict[str, Any]:
    kind, scopes = auth_kind(view, meta)
    body = meta["body"]
    reach = Reach(
        path=path,
        family=family_of(rule.endpoint.partition(".")[0]),
        method=method,
        auth=kind,
        has_body=body is not None,
        has_query=bool(meta["query"]),
        has_path_params=bool(rule.arguments),
        upserts=meta["upsert"],
    )
    operation: dict[str, Any] = {
        "summary": _summary(view),
        "operationId": view.__name__,
        "tags": [meta["tag"]] if meta["tag"] else [],
        "responses": {
            **_success_responses(meta, rule),
            **error_responses(error_statuses(reach, meta["errors"]), meta["errors"]),
        },
        "parameters": [
            *_path_parameters(rule),
            *({"name": n, "in": "query", "schema": query_schema(n)} for n in meta["query"]),
            *_header_parameters(kind, method),
        ],
    }
    if scopes:
        operation["description"] = "Scopes: " + ", ".join(f"`{s}`" for s in scopes) + "."
    if body is not None:
        operation["requestBody"] = {
            "required": _requires_a_body(body),
            "content": {"application/json": {"schema": body}},
        }
    if kind in SECURITY:
        operation["security"] = SECURITY[kind]
    return operation


def _summary(view: Any) -> str:
    return (view.__doc__ or "").strip().splitlines()[0] if view.__doc__ else view.__name__


def _success_responses(meta: dict[str, Any], rule: Rule) -> dict[str, Any]:
    if rule.websocket:
        return {"101": {"description": "Switching Protocols: the WebSocket is open."}}
    responses: dict[str, Any] = {}
    for status in meta["statuses"]:
        response: dict[str, Any] = {"description": HTTPStatus(status).phrase}
        if meta["response"] is not None and status != 204:
            response["content"] = {"application/json": {"schema": meta["response"]}}
        responses[str(status)] = response
    return responses


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    converters = {name: converter for converter, name in _PATH_PARAM.findall(rule.rule)}
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": _CONVERTER_SCHEMAS.get(converters.get(name, ""), {"type": "string"}),
        }
        for name in sorted(rule.arguments)
    ]


def _header_parameters(kind: str, method: str) -> list[dict[str, Any]]:
    """The request headers besides credentials: who a user call is for, and Idempotency-Key."""
    headers = []
    if kind in {"user", "socket"}:
        identity = {"type": "string", "maxLength": MAX_IDENTITY}
        for name in ("X-User-External-ID", "X-User-Email"):
            headers.append({"name": name, "in": "header", "schema": identity})
    if kind in DECORATED and method in WRITE_METHODS:
        key = {"type": "string", "maxLength": MAX_KEY_LENGTH}
        headers.append({"name": "Idempotency-Key", "in": "header", "schema": key})
    return headers


def _requires_a_body(body: type[Schema] | Schema) -> bool:
    """An empty body reads as `{}`: only a schema with a required field needs one."""
    instance = body() if isinstance(body, type) else body
    return any(field.required for field in instance.fields.values())


@bp.get("/openapi.json")
def openapi_json() -> Any:
    """The OpenAPI 3 document for every endpoint."""
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = build_spec(current_app)
    return current_app.extensions["openapi"]

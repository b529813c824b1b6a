"""The OpenAPI 3 document, built from the routes' marshmallow schemas, and a readable /docs page."""

from __future__ import annotations

import html
import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app

bp = Blueprint("openapi", __name__)

_PATH_PARAM = re.compile(r"<(?:[a-z_]+:)?([a-zA-Z_]+)>")

SECURITY_SCHEMES = {
    "apiKeyAndSecret": {"type": "apiKey", "in": "header", "name": "X-API-Secret"},
    "bearer": {"type": "http", "scheme": "bearer"},
    "appIdAndKey": {"type": "apiKey", "in": "header", "name": "apikey"},
    "userHmac": {"type": "apiKey", "in": "header", "name": "X-User-HMAC"},
}

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "message"],
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
    spec = APISpec(
        title="Herald",
        version="0.1.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
        info={"description": "Self-hosted notification delivery: email, web push, in-app inbox."},
    )
    spec.components.schema("Errors", ERROR_SCHEMA)
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "__openapi__", None)
        if meta is None:
            continue
        path = _PATH_PARAM.sub(r"{\1}", rule.rule)
        operations = {
            method.lower(): _operation(view, meta, rule.arguments)
            for method in sorted(rule.methods or ())
            if method not in {"HEAD", "OPTIONS"}
        }
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def schema_name(schema: Any) -> str:
    """Component names qualified by package: two packages may both have a `SendResponse`."""
    cls = schema if isinstance(schema, type) else type(schema)
    package = cls.__module__.split(".")[-2] if "." in cls.__module__ else cls.__module__
    base = cls.__name__.removesuffix("Schema")
    return f"{package}.{base}"


def _operation(view: Any, meta: dict[str, Any], path_args: set[str]) -> dict[str, Any]:
    summary = (view.__doc__ or "").strip().splitlines()[0] if view.__doc__ else view.__name__
    responses: dict[str, Any] = {
        str(meta["status"]): {"description": "Success"},
        "default": {
            "description": "Error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
        },
    }
    if meta["response"] is not None:
        responses[str(meta["status"])]["content"] = {
            "application/json": {"schema": meta["response"]}
        }
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": view.__name__,
        "tags": [meta["tag"]] if meta["tag"] else [],
        "responses": responses,
        "parameters": [
            {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
            for arg in sorted(path_args)
        ]
        + [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in meta["query"]
        ],
    }
    if meta["body"] is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": meta["body"]}},
        }
    if meta["auth"] == "server":
        operation["security"] = [{"apiKeyAndSecret": []}, {"bearer": []}, {"appIdAndKey": []}]
    elif meta["auth"] == "user":
        operation["security"] = [{"userHmac": []}]
    return operation


@bp.get("/openapi.json")
def openapi_json() -> Any:
    """The OpenAPI 3 document for every endpoint."""
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = build_spec(current_app)
    return current_app.extensions["openapi"]


@bp.get("/docs")
def docs_page() -> Any:
    """A plain HTML index of the API, generated from the OpenAPI document."""
    spec = openapi_json()
    rows = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code>"
                f"</td><td>{html.escape(op.get('summary', ''))}</td></tr>"
            )
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Herald API</title>"
        "<style>body{font-family:system-ui;margin:2rem}td{padding:.2rem .8rem}</style></head>"
        "<body><h1>Herald API</h1><p>Machine-readable: <a href='/openapi.json'>/openapi.json"
        "</a>. Guides: docs/ in the repository.</p><table>"
        + "".join(rows)
        + "</table></body></html>"
    )
    return body, 200, {"Content-Type": "text/html; charset=utf-8"}

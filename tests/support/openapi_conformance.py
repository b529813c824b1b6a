"""Holding real responses to the OpenAPI document: the operation a request reached, whether the
document promises the status it got, and whether the body validates against the documented
schema. `ConformanceRecorder` checks every response of a test client it wraps and remembers
which statuses each operation answered, for tests of coverage.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft4Validator
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect
from werkzeug.test import TestResponse

Operation = tuple[str, str]  # ("GET", "/users/{user_id}")
_PATH_PARAMETER = re.compile(r"<(?:[^:>]+:)?([^>]+)>")  # Flask's `<path:user_id>` is `{user_id}`
# apispec's way of saying "or null" for a nested schema in OpenAPI 3.0 (`anyOf` with a $ref).
_NULL_ALTERNATIVE = {"type": "object", "nullable": True}


class NonConformingResponse(AssertionError):
    """A response the document does not promise: its status, its media type or its body."""


@dataclass(frozen=True)
class Exchange:
    """One request and the response it got, as the document names it."""

    operation: Operation
    status: int


class ServedDocument:
    """The document as checks: each operation's responses, each JSON body as a JSON Schema."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._components = json_schema(document.get("components", {}))
        self._validators: dict[tuple[Operation, str], Draft4Validator] = {}

    def operations(self) -> Iterator[Operation]:
        for path, methods in self.document["paths"].items():
            for method in methods:
                yield method.upper(), path

    def responses(self, operation: Operation) -> dict[str, Any]:
        method, path = operation
        documented = self.document["paths"][path][method.lower()]["responses"]
        return {status: self._resolved(response) for status, response in documented.items()}

    def problems(self, operation: Operation, response: TestResponse) -> list[str]:
        """What in the response the document does not promise (nothing: conforming)."""
        documented = self.responses(operation).get(str(response.status_code))
        if documented is None:
            return [f"status {response.status_code} is not documented"]
        content = documented.get("content", {}).get("application/json")
        if content is None:
            return [] if not response.get_data() else ["a body where none is documented"]
        if response.mimetype != "application/json":
            return [f"{response.mimetype} where application/json is documented"]
        validator = self._validator(operation, str(response.status_code), content["schema"])
        return [
            f"{'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message}"
            for error in validator.iter_errors(response.get_json())
        ]

    def _resolved(self, response: dict[str, Any]) -> dict[str, Any]:
        if "$ref" not in response:
            return response
        name = response["$ref"].removeprefix("#/components/responses/")
        resolved: dict[str, Any] = self.document["components"]["responses"][name]
        return resolved

    def _validator(self, operation: Operation, status: str, schema: Any) -> Draft4Validator:
        key = (operation, status)
        if key not in self._validators:
            # The components ride along in the root, so that `#/components/...` resolves.
            root = {"allOf": [json_schema(schema)], "components": self._components}
            self._validators[key] = Draft4Validator(root)
        return self._validators[key]


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema (or any part of the document) as JSON Schema: `nullable` becomes
    a null type. Draft 4 reads the rest as OpenAPI 3.0 means it."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: json_schema(value) for key, value in node.items() if key != "nullable"}
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            converted[combinator] = [
                {"type": "null"} if choice == _NULL_ALTERNATIVE else json_schema(choice)
                for choice in node[combinator]
            ]
    if node.get("nullable"):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        if "enum" in converted and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
    return converted


@dataclass
class ConformanceRecorder:
    """Checks every response against the document and records what each operation answered."""

    app: Flask
    document: ServedDocument
    # A test that provokes a server error on purpose (the error envelope's) may run under the
    # plugin: a 500 is a bug for other checks to find, not a broken promise of the document.
    tolerate_server_errors: bool = False
    answered: dict[Operation, set[int]] = field(default_factory=lambda: defaultdict(set))

    def check(self, method: str, path: str, response: TestResponse) -> Exchange | None:
        """Raise NonConformingResponse unless the document promises the response; None for a
        request that reached no documented operation (an unknown URL, HEAD, OPTIONS)."""
        operation = self.operation_for(method, path)
        if operation is None or (self.tolerate_server_errors and response.status_code == 500):
            return None
        problems = self.document.problems(operation, response)
        if problems:
            body = response.get_data(as_text=True)[:500]
            raise NonConformingResponse(
                f"{method} {path} answered {response.status_code}, which {operation[0]} "
                f"{operation[1]} does not document: {'; '.join(problems[:5])}\n{body}"
            )
        self.answered[operation].add(response.status_code)
        return Exchange(operation, response.status_code)

    def operation_for(self, method: str, path: str) -> Operation | None:
        """The documented operation Flask routes the request to."""
        if method in {"HEAD", "OPTIONS"}:
            return None
        adapter = self.app.url_map.bind("localhost")
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except (HTTPException, RequestRedirect):
            return None
        operation = (method, _PATH_PARAMETER.sub(r"{\1}", rule.rule))
        documented = operation[1] in self.document.document["paths"]
        return operation if documented else None

    def successes(self) -> dict[Operation, set[int]]:
        return {op: {s for s in statuses if s < 300} for op, statuses in self.answered.items()}


class RecordingClient(FlaskClient):
    """A test client whose every response is held to the document by `recorder` (by default
    the app's shared one): a non-conforming response fails the request that got it."""

    def __init__(
        self, *args: Any, recorder: ConformanceRecorder | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = recorder or shared_recorder(self.application)

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        response = super().open(*args, **kwargs)
        request = response.request
        self.recorder.check(request.method, request.path, response)
        return response


_SHARED: WeakKeyDictionary[Flask, ConformanceRecorder] = WeakKeyDictionary()


def shared_recorder(app: Flask) -> ConformanceRecorder:
    """One recorder per app, holding the document that app serves."""
    if app not in _SHARED:
        document = FlaskClient(app, app.response_class).get("/openapi.json").get_json()
        _SHARED[app] = ConformanceRecorder(
            app, ServedDocument(document), tolerate_server_errors=True
        )
    return _SHARED[app]


def recording_client(app: Flask) -> tuple[RecordingClient, ConformanceRecorder]:
    """A test client of the app with a recorder of its own (what its requests answered)."""
    recorder = ConformanceRecorder(app, shared_recorder(app).document)
    return RecordingClient(app, app.response_class, recorder=recorder), recorder

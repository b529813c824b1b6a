"""Refusals: what a service raises when it will not do what it was asked, free of Flask.

Each carries the client's error code, message and field (`ErrorDetail`); `app.errors` turns them
into the one error envelope of the HTTP API. Services, the engine and workers raise these; only
the HTTP edge knows responses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class HeraldError(Exception):
    """A refusal the client can act on. `status=None` means "the family's validation status"."""

    status: int | None = 400
    code = "ERR_BAD_REQUEST"

    def __init__(
        self,
        message: str = "",
        *,
        field: str | None = None,
        code: str | None = None,
        status: int | None = -1,
        details: Iterable[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code or self.code
        if status != -1:
            self.status = status
        self.details = list(details) or [ErrorDetail(self.code, message or self.code, field)]
        self.headers = dict(headers or {})


class InvalidRequest(HeraldError):
    """Input that fails validation: 400 ERR_BAD_REQUEST (Herald API) or 422 (the inbox API)."""

    status = None


class Unauthorized(HeraldError):
    status = 401


class Forbidden(HeraldError):
    status = 403
    code = "forbidden"


class NotFound(HeraldError):
    status = 404
    code = "ERR_NOT_FOUND"


class Conflict(HeraldError):
    status = 409
    code = "ERR_CONFLICT"


class Unprocessable(HeraldError):
    status = 422
    code = "ERR_UNPROCESSABLE"


def invalid(details: Iterable[ErrorDetail]) -> InvalidRequest:
    """Validation errors of one stage, reported together."""
    details = list(details)
    return InvalidRequest(details[0].message, details=details)


def marshmallow_details(messages: Any, prefix: str = "") -> list[ErrorDetail]:
    """Flatten marshmallow's nested messages into details with dotted field paths."""
    if isinstance(messages, Mapping):
        details: list[ErrorDetail] = []
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix
            details.extend(marshmallow_details(value, path))
        return details
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [ErrorDetail("ERR_BAD_REQUEST", m, prefix or None) for m in messages]
    if isinstance(messages, list):
        return [d for m in messages for d in marshmallow_details(m, prefix)]
    return [ErrorDetail("ERR_BAD_REQUEST", str(messages), prefix or None)]

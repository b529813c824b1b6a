"""Refusals: what a service raises when it will not do what it was asked, free of any web stack.

The template store owns them because it is the library beneath everything else: it raises its own
(`TemplateStoreError` and below), and the app's services raise theirs from the same base
(`app.refusals`). The HTTP layer turns any refusal into the common error envelope.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorDetail:
    """One thing refused: the client's error code, a message, and the field it is about."""

    code: str
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class Refusal(Exception):
    """A refusal the client can act on: an HTTP-like status, a stable code and one or more
    details. `status=None` means "the API family's validation status"."""

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


def marshmallow_details(messages: Any, prefix: str = "") -> list[ErrorDetail]:
    """Flatten marshmallow's nested messages into details with dotted field paths."""
    if isinstance(messages, Mapping):
        details: list[ErrorDetail] = []
        for key, value in messages.items():
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            details.extend(marshmallow_details(value, path))
        return details
    if isinstance(messages, list):
        return [d for m in messages for d in marshmallow_details(m, prefix)]
    return [ErrorDetail("ERR_BAD_REQUEST", str(messages), prefix or None)]


class TemplateStoreError(Refusal):
    """The template store's own refusals."""


class InvalidTemplate(TemplateStoreError):
    """Template content refused when a version is saved: structure, syntax, schema or safety."""


class InvalidVariables(TemplateStoreError):
    """Variables that do not satisfy the version's variableSchema."""

    code = "ERR_INVALID_VARIABLES"


class TemplateNotFound(TemplateStoreError):
    status = 404
    code = "ERR_TEMPLATE_NOT_FOUND"


class VersionNotFound(TemplateStoreError):
    status = 404
    code = "ERR_VERSION_NOT_FOUND"


class TemplateNotApproved(TemplateStoreError):
    status = 422
    code = "ERR_TEMPLATE_NOT_APPROVED"


class TemplateExists(TemplateStoreError):
    status = 409
    code = "ERR_TEMPLATE_EXISTS"


class TemplateArchived(TemplateStoreError):
    status = 409
    code = "ERR_TEMPLATE_ARCHIVED"


class InvalidTransition(TemplateStoreError):
    status = 409
    code = "ERR_INVALID_TRANSITION"


class RenderFailed(TemplateStoreError):
    """A saved version failed while rendering for particular values (e.g. `1 / count` with 0)."""

    status = 422
    code = "ERR_RENDER_FAILED"

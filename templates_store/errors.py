"""Errors the template store raises. The HTTP layer maps them to the common envelope."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: str | None = None


class TemplateStoreError(Exception):
    """Base class: carries an HTTP-like status, a stable code and one or more problems."""

    status = 400
    code = "ERR_BAD_REQUEST"

    def __init__(
        self, message: str = "", *, field: str | None = None, problems: Iterable[Problem] = ()
    ) -> None:
        super().__init__(message)
        self.details = list(problems) or [Problem(self.code, message or self.code, field)]


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

"""Refusals: what a service raises when it will not do what it was asked, free of Flask.

Each carries the client's error code, message and field (`ErrorDetail`); `app.errors` turns them
into the one error envelope of the HTTP API. Services, the engine and workers raise these; only
the HTTP edge knows responses. The base, `Refusal`, and its details are the template store's
(`templates_store.errors`), whose own refusals share them.
"""

from __future__ import annotations

from collections.abc import Iterable

from templates_store.errors import ErrorDetail, Refusal, marshmallow_details

__all__ = [
    "Conflict",
    "ErrorDetail",
    "Forbidden",
    "HeraldError",
    "InvalidRequest",
    "NotFound",
    "Refusal",
    "Unauthorized",
    "Unprocessable",
    "invalid",
    "marshmallow_details",
]


class HeraldError(Refusal):
    """A refusal of Herald's own services (the template store raises `TemplateStoreError`)."""


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

"""The one error envelope: every error response Herald gives is built here.

`{"errors": [{"code": ..., "message": ..., "field": ...}]}` with the HTTP status. Services raise
refusals (`app.refusals`, or the template store's errors, from the same base); this module turns
them into responses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from flask import Flask, Response, jsonify
from redis import RedisError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException

from app.db import is_connection_lost
from app.families import ApiFamily, current_family
from app.logformat import current_request_id
from app.refusals import ErrorDetail, InvalidRequest, Refusal

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "ERR_BAD_REQUEST",
    401: "unauthorized",
    403: "forbidden",
    404: "ERR_NOT_FOUND",
    405: "ERR_METHOD_NOT_ALLOWED",
    409: "ERR_CONFLICT",
    413: "ERR_PAYLOAD_TOO_LARGE",
    415: "ERR_UNSUPPORTED_MEDIA_TYPE",
    429: "rate_limit_exceeded",
}


def envelope(details: Iterable[ErrorDetail]) -> dict[str, list[dict[str, str]]]:
    """The one error body: `{"errors": [{"code", "message", "field"}]}`."""
    return {"errors": [detail.as_dict() for detail in details]}


def refusal(error: Refusal, family: ApiFamily) -> tuple[int, list[ErrorDetail]]:
    """A refusal as an API family answers it, its status and details: invalid input takes the
    family's status and code (`app.families`); every other refusal carries its own. The
    command line answers as the Herald API does."""
    status = error.status or family.validation_status
    details = error.details
    if isinstance(error, InvalidRequest):
        family_code = family.validation_code
        details = [
            ErrorDetail(family_code if d.code == "ERR_BAD_REQUEST" else d.code, d.message, d.field)
            for d in details
        ]
    return status, details


def error_response(
    status: int, details: Iterable[ErrorDetail], headers: Mapping[str, str] | None = None
) -> Response:
    response = jsonify(envelope(details))
    response.status_code = status
    response.headers.update(dict(headers or {}))
    return response


def response_for(error: Refusal) -> Response:
    """The response the error handlers give a refused request (for whoever must keep it)."""
    status, details = refusal(error, current_family())
    return error_response(status, details, error.headers)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = HTTP_CODES.get(status, f"ERR_HTTP_{status}")
    message = error.description or error.name
    headers: dict[str, str] = {}
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods or [])
    return error_response(status, [ErrorDetail(code, message)], headers)


def _unexpected_error(error: Exception) -> Response:
    log.exception("unhandled error")
    message = f"Internal server error (request id {current_request_id()})."
    return error_response(500, [ErrorDetail("ERR_INTERNAL", message)])


RETRY_AFTER_S = 2


def service_unavailable(message: str) -> Response:
    """503 with `Retry-After`: nothing was changed, the same request may be sent again."""
    return error_response(
        503,
        [ErrorDetail("ERR_SERVICE_UNAVAILABLE", message)],
        {"Retry-After": str(RETRY_AFTER_S)},
    )


def _redis_unreachable(error: RedisError) -> Response:
    """A call that needs Redis (the WebSocket API's `/send` routes through it) while Redis is
    down: 503, which clients retry, rather than a 500 that reads as a bug. Sends whose rows were
    committed never get here (`workers.handoff`)."""
    log.warning("Redis unreachable: %s", type(error).__name__)
    return service_unavailable("Redis is unreachable; retry later.")


def _database_unavailable(error: DBAPIError | SQLAlchemyTimeoutError) -> Response:
    """A lost database connection (a restart, a failover, an administrator's kill) or a full
    pool: 503 with `Retry-After`. Reads were already tried once more (`app.extensions`)."""
    if isinstance(error, DBAPIError) and not is_connection_lost(error):
        return _unexpected_error(error)
    log.warning("database unavailable: %s", type(error.__cause__ or error).__name__)
    return service_unavailable("The database is unavailable; retry later.")


def init_app(app: Flask) -> None:
    app.register_error_handler(RedisError, _redis_unreachable)
    app.register_error_handler(DBAPIError, _database_unavailable)
    app.register_error_handler(SQLAlchemyTimeoutError, _database_unavailable)
    app.register_error_handler(Refusal, response_for)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)

"""Which statuses an operation can answer, derived from what the code already knows about it.

A route's own metadata (`app.http.doc`) names its successes and the domain errors only its
services raise; everything else follows from how it is reached: the authentication decorator,
a body, path and query parameters, a write method (Idempotency-Key). So the OpenAPI document
cannot forget a 401 when a route gains credentials, or a 413 when it gains a body.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.families import ApiFamily
from app.idempotency.guard import WRITE_METHODS

ERRORS_REF = {"$ref": "#/components/schemas/Errors"}

# Kinds of authentication: `server` and `user` are the `server_call` / `user_call` decorators
# (rate limited, idempotent writes); `socket` is the WebSocket handshake; `none` is public.
AUTHENTICATED = frozenset({"server", "user", "socket"})
DECORATED = frozenset({"server", "user"})


@dataclass(frozen=True)
class Reach:
    """What the document knows about how a request reaches one operation."""

    path: str
    family: ApiFamily
    method: str
    auth: str
    has_body: bool
    has_query: bool
    has_path_params: bool
    upserts: bool = False  # creates what its path names: never "not found"


def error_statuses(reach: Reach, extra: Iterable[int] = ()) -> list[int]:
    """Every error status the operation can answer, in ascending order."""
    validation = reach.family.validation_status
    # A NUL (%00) anywhere in the URL is refused before routing (app.factory): 400 everywhere.
    found = {400, *extra}
    if reach.auth in AUTHENTICATED:
        # Credentials missing or wrong, scope or HMAC or X-Tenant-ID refused, Redis unreachable.
        found |= {401, 403, 503}
    if reach.auth in DECORATED:
        found.add(429)
        if reach.method in WRITE_METHODS:
            # Idempotency-Key reused or still running (409), longer than the column (validation).
            found |= {409, validation}
    if reach.has_query and reach.auth != "socket":  # a socket's query holds only credentials
        found.add(validation)
    if reach.has_body:
        # Malformed JSON is 400 in both families; a body that fails its schema is `validation`.
        found |= {validation, 413, 415}
    if reach.has_path_params and not reach.upserts:
        found.add(404)  # unknown id, or a value the route's converter does not match
    return sorted(found)


# Name, description and extra response headers of each error status, as components/responses.
ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "ERR_BAD_REQUEST: invalid input in the Herald API (`/api`, `/send`), malformed JSON or a "
        "NUL in the URL in both families; user_email_not_provided on a user call without one.",
    ),
    401: (
        "Unauthorized",
        "api_key_not_provided, incorrect_api_key, api_secret_not_provided, "
        "api_secret_is_incorrect, neither_user_hmac_nor_api_secret_provided.",
    ),
    403: ("Forbidden", "forbidden: a scope missing, a wrong HMAC, X-Tenant-ID of another app."),
    404: ("NotFound", "No such resource (ERR_NOT_FOUND or the resource's own code)."),
    409: (
        "Conflict",
        "idempotency_key_reused, idempotency_key_in_progress, or the resource's state forbids "
        "the change (ERR_TEMPLATE_EXISTS, ERR_INVALID_TRANSITION, ...).",
    ),
    413: ("PayloadTooLarge", "ERR_PAYLOAD_TOO_LARGE: the body is over MAX_BODY_BYTES."),
    415: ("UnsupportedMediaType", "ERR_UNSUPPORTED_MEDIA_TYPE: the body is not JSON."),
    422: (
        "Unprocessable",
        "ERR_VALIDATION: invalid input in the MagicBell-compatible inbox API (root paths); or a "
        "request the resource cannot carry out (ERR_TEMPLATE_NOT_APPROVED, ERR_RENDER_FAILED, "
        "...).",
    ),
    429: ("TooManyRequests", "rate_limit_exceeded: the app's (or user's) budget is spent."),
    503: (
        "ServiceUnavailable",
        "ERR_SERVICE_UNAVAILABLE: Redis or the database is unreachable; nothing was changed, "
        "retry after Retry-After seconds.",
    ),
}

_RATE_LIMIT_HEADERS = {
    name: {"description": description, "schema": {"type": "integer"}}
    for name, description in (
        ("Retry-After", "Seconds until the budget is renewed."),
        ("X-RateLimit-Limit", "Requests allowed per minute."),
        ("X-RateLimit-Remaining", "Requests left in this minute."),
        ("X-RateLimit-Reset", "Seconds until the window resets."),
    )
}


def response_components() -> dict[str, dict[str, Any]]:
    """`components/responses`: one shared response per error status, the one error envelope."""
    return {
        name: _error_response(status, description)
        for status, (name, description) in ERROR_RESPONSES.items()
    }


def error_responses(
    statuses: Iterable[int], codes: Mapping[int, Sequence[str]] | None = None
) -> dict[str, Any]:
    """Each status's shared response; where the operation names codes of its own, the shared
    description with them (in a response of its own: a `$ref` cannot carry a description)."""
    responses: dict[str, Any] = {}
    for status in statuses:
        name, description = ERROR_RESPONSES[status]
        own = (codes or {}).get(status)
        if own:
            listed = ", ".join(f"`{code}`" for code in own)
            responses[str(status)] = _error_response(status, f"{description} Here: {listed}.")
        else:
            responses[str(status)] = {"$ref": f"#/components/responses/{name}"}
    return responses


def _error_response(status: int, description: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ERRORS_REF}},
    }
    if status == 429:
        response["headers"] = _RATE_LIMIT_HEADERS
    return response

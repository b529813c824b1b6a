"""Request parsing shared by every route: JSON bodies, pagination and array query parameters."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import request
from marshmallow import Schema, ValidationError

from app.families import current_family
from app.refusals import ErrorDetail, HeraldError, invalid, marshmallow_details
from app.wire import has_nul, parse_json

F = TypeVar("F", bound=Callable[..., Any])


# What clients send when nobody set a type: curl's `--data` (as in the inbox API's documented
# examples) and a browser `fetch` with a string body. A JSON document under one of these is
# taken as JSON.
UNDECLARED_TYPES = frozenset({"", "application/x-www-form-urlencoded", "text/plain"})


def read_json() -> Any:
    """The request's JSON document, or an error: 415 for another media type (or a body that is
    not JSON under an undeclared one), 400 for malformed JSON declared as JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    declared_json = request.mimetype == "application/json" or request.mimetype.endswith("+json")
    if declared_json or request.mimetype in UNDECLARED_TYPES:
        try:
            document = parse_json(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            if declared_json:
                message = f"Malformed JSON: {exc}"
                raise HeraldError(message, code="ERR_BAD_REQUEST", status=400) from exc
        else:
            if has_nul(document):
                message = "Strings must not contain NUL (\\u0000) characters."
                raise invalid([ErrorDetail("ERR_BAD_REQUEST", message)])
            return document
    raise HeraldError(
        "Content-Type must be application/json.", code="ERR_UNSUPPORTED_MEDIA_TYPE", status=415
    )


def load_body(schema: type[Schema], *, document: Any = None) -> Any:
    """Validate the JSON body (or a given document) against a schema, reporting every error."""
    data = read_json() if document is None else document
    if not isinstance(data, dict):
        raise invalid([ErrorDetail("ERR_BAD_REQUEST", "The body must be a JSON object.")])
    try:
        return _loader(schema).load(data)
    except ValidationError as exc:
        raise invalid(marshmallow_details(exc.messages)) from exc


@functools.cache
def _loader(schema: type[Schema]) -> Schema:
    """One instance per schema class: building one (its fields, nested schemas) cost more than
    loading a small body, and `load` keeps no state on the instance."""
    return schema()


@dataclass(frozen=True)
class Page:
    number: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page


# Far beyond any real list, and small enough that its offset fits every database's integers.
MAX_PAGE = 1_000_000
MAX_PER_PAGE = 100


def page_from_query(*, default_per_page: int = 20) -> Page:
    """`page` (from 1) and `per_page` / `perPage` (1-100); out of range is an error, not clamped."""
    per_page_name = current_family().per_page_param
    number = _int_query("page", 1, minimum=1, maximum=MAX_PAGE)
    per_page = _int_query(per_page_name, default_per_page, minimum=1, maximum=MAX_PER_PAGE)
    return Page(number, per_page)


def query_schema(name: str) -> dict[str, Any]:
    """A query parameter's JSON Schema for the OpenAPI document: pagination's bounds are known
    here; other parameters are strings that their route parses."""
    if name == "page":
        return {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}
    if name in {"per_page", "perPage"}:
        return {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}
    return {"type": "string"}


def _int_query(name: str, default: int, *, minimum: int, maximum: int | None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum else f"at least {minimum}"
        raise invalid(
            [ErrorDetail("ERR_BAD_REQUEST", f"{name} must be an integer {bounds}.", name)]
        )
    return value


def list_query(name: str) -> list[str] | None:
    """An array query parameter given as `a,b`, `x=a&x=b` or `x[]=a&x[]=b`; None when absent."""
    raw = request.args.getlist(name) + request.args.getlist(f"{name}[]")
    if not raw:
        return None
    return [item.strip() for value in raw for item in value.split(",") if item.strip()]


def bool_query(name: str) -> bool | None:
    """`true`/`false` (also 1/0); None when absent; anything else is a validation error."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    lowered = raw.lower()
    if lowered in {"true", "1"}:
        return True
    if lowered in {"false", "0"}:
        return False
    raise invalid([ErrorDetail("ERR_BAD_REQUEST", f"{name} must be true or false.", name)])


def doc(
    *,
    body: type[Schema] | Schema | None = None,
    response: type[Schema] | Schema | None = None,
    status: int | tuple[int, ...] = 200,
    tag: str | None = None,
    auth: str | None = None,
    query: list[str] | None = None,
    errors: Mapping[int, Sequence[str]] | tuple[int, ...] = (),
    upsert: bool = False,
) -> Callable[[F], F]:
    """Attach OpenAPI metadata to a view; `app.openapi` reads it when building the document.

    `response`: the schema every success body is dumped through (`dumping`), so the body is
    what the document says. `status`: the statuses answered with it (the first is the usual
    one). `errors`: the error statuses only this route's services give, each with the codes it
    answers there (or just the statuses); those that follow from its credentials, body and
    parameters are derived (`app.openapi_responses`). `upsert`: the route creates what its
    path names when it does not exist, so it never answers 404. `auth` names how a view is
    authenticated when no `server_call` / `user_call` decorator says so ("socket", "none").
    """
    statuses = status if isinstance(status, tuple) else (status,)

    def decorate(view: F) -> F:
        documented = view if response is None else dumping(view, response, statuses)
        documented.__openapi__ = {  # type: ignore[attr-defined]
            "body": body,
            "response": response,
            "statuses": statuses,
            "tag": tag,
            "auth": auth,
            "query": query or [],
            "errors": errors if isinstance(errors, Mapping) else dict.fromkeys(errors, ()),
            "upsert": upsert,
        }
        return documented

    return decorate


def dumping(view: F, schema: type[Schema] | Schema, statuses: tuple[int, ...]) -> F:
    """The view with its body dumped through `schema`. The view returns the body's data (models,
    or dicts keyed by the schema's attributes), alone (200) or with its status: one of
    `statuses`, or the view is wrong and the request fails."""

    @functools.wraps(view)
    def dumped(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        result = view(*args, **kwargs)
        data, answered, *headers = result if isinstance(result, tuple) else (result, 200)
        if answered not in statuses:
            raise ValueError(f"{view.__name__} answered {answered}, not one of {statuses}")
        return (_dumper(schema).dump(data), answered, *headers)

    return dumped  # type: ignore[return-value]


@functools.cache
def _dumper(schema: type[Schema] | Schema) -> Schema:
    """One instance per schema, as for `_loader`: `dump` keeps no state on it either."""
    return schema() if isinstance(schema, type) else schema

"""The API families Herald serves, each declared on its blueprints, each with its conventions.

The Herald API (`/api/...`, and the WebSocket API's `POST /send`) answers invalid input with 400
`ERR_BAD_REQUEST` and pages with `perPage`; the MagicBell-compatible inbox API (root paths:
the inbox, users, push subscriptions, broadcasts, ...) answers 422 `ERR_VALIDATION` and pages
with `per_page`. A blueprint states its family where it is made (`serving`); the error envelope
(`app.errors`) and paging (`app.http`) read the family of the request's blueprint.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, request


@dataclass(frozen=True)
class ApiFamily:
    name: str
    validation_status: int
    validation_code: str
    per_page_param: str


HERALD_API = ApiFamily("herald", 400, "ERR_BAD_REQUEST", "perPage")
INBOX_API = ApiFamily("inbox", 422, "ERR_VALIDATION", "per_page")

_FAMILY_OF_BLUEPRINT: dict[str, ApiFamily] = {}


def serving(family: ApiFamily, blueprint: Blueprint) -> Blueprint:
    """Declare the family of a blueprint's routes; returns the blueprint."""
    _FAMILY_OF_BLUEPRINT[blueprint.name] = family
    return blueprint


def family_of(blueprint_name: str | None) -> ApiFamily:
    """The family of a blueprint's routes; a request no route matched is the inbox API's."""
    return _FAMILY_OF_BLUEPRINT.get(blueprint_name or "", INBOX_API)


def current_family() -> ApiFamily:
    return family_of(request.blueprint)

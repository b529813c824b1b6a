"""Wire details shared across the API: epoch timestamps, and list bodies in both styles
(the seed 001/002 REST family's, and the Herald API's camelCase ones)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields


def epoch(value: datetime | None) -> int | None:
    """A datetime as the integer Unix seconds the REST family answers with."""
    return int(value.timestamp()) if value is not None else None


class EpochSeconds(fields.Field):
    """A datetime as integer Unix seconds on output; on input RFC 3339 or Unix seconds."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> int | None:
        return epoch(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        parsed = parse_timestamp(value)
        if parsed is None:
            raise ValidationError("Must be an RFC 3339 timestamp or Unix seconds.")
        return parsed


# Timestamps outside these years are refused: date arithmetic near datetime's limits overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def parse_timestamp(value: Any) -> datetime | None:
    """RFC 3339 (a missing offset means UTC) or Unix seconds, from 1970 to 9000; None when
    neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        seconds = float(value)
        if not math.isfinite(seconds) or not 0 <= seconds < LATEST.timestamp():
            return None
        return datetime.fromtimestamp(seconds, UTC)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed if EARLIEST <= parsed < LATEST else None


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


class ListPageView(Schema):
    """The page fields of `list_body`, for a list view schema to extend with its items."""

    total = fields.Integer()
    per_page = fields.Integer()
    current_page = fields.Integer()
    total_pages = fields.Integer()


def list_body(
    name: str, items: Sequence[Any], *, total: int, page: int, per_page: int
) -> dict[str, Any]:
    """`{name: [...], "total", "per_page", "current_page", "total_pages"}`."""
    return {
        name: list(items),
        "total": total,
        "per_page": per_page,
        "current_page": page,
        "total_pages": math.ceil(total / per_page) if total else 0,
    }


class HeraldPageView(Schema):
    """The page fields of `page_body`, for a list view schema to extend with its items."""

    page = fields.Integer()
    perPage = fields.Integer()
    total = fields.Integer()


def page_body(
    name: str, items: Sequence[Any], *, total: int, page: int, per_page: int
) -> dict[str, Any]:
    """A Herald API (`/api/...`) list: `{name: [...], "page", "perPage", "total"}`."""
    return {name: list(items), "page": page, "perPage": per_page, "total": total}


def parse_json(text: str | bytes) -> Any:
    """JSON as the standard defines it: Python's `NaN`/`Infinity` extensions are refused (no
    database column or JSON client can hold them). Raises ValueError."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def has_nul(document: Any) -> bool:
    """Whether any string (or key) of a parsed document holds a NUL character, which
    PostgreSQL's text cannot store. Iterative: a body may nest as deep as the parser allows."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False

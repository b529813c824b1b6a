"""Wire details shared across the API: epoch timestamps, and list bodies in both styles
(the MagicBell-compatible inbox API's, and the Herald API's camelCase ones)."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
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


class OffsetDateTime(fields.DateTime):
    """An ISO 8601 date and time with its UTC offset (`2026-12-24T09:00:00+01:00`, or `Z`),
    loaded as UTC; a time without an offset is refused, not guessed."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("Must be an ISO 8601 date and time with a UTC offset.")
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError("Must be an ISO 8601 date and time with a UTC offset.") from None
        if parsed.tzinfo is None:
            raise ValidationError(
                "Needs a UTC offset, such as 2026-12-24T09:00:00Z or 2026-12-24T10:00:00+01:00."
            )
        parsed = parsed.astimezone(UTC)
        if not EARLIEST <= parsed < LATEST:
            raise ValidationError(f"Must be between {EARLIEST.year} and {LATEST.year}.")
        return parsed


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


class View(Schema):
    """A response body's schema. Every field is in every body (the OpenAPI document lists them
    as required) unless declared with `metadata={"optional": True}`; responses are dumped
    through it (`app.http.doc`), never loaded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = not field.metadata.get("optional", False)


class WireList(fields.List):
    """A list of values the service built as JSON already (its views, ids, reasons, recipients
    as given): documented item by item; on output each item keeps what its schema declares and
    nothing else, its values as they are. Dumping a page of 100 views, or 10,000 recipients,
    field by field would cost more than the rest of the request; the conformance tests hold
    the values to their documented types."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        project = self._project_item
        return list(value) if project is None else [project(item) for item in value]

    @functools.cached_property
    def _project_item(self) -> Projection | None:
        return projection(self.inner)


Projection = Callable[[Any], Any]


def projection(field: fields.Field) -> Projection | None:
    """What keeps of a JSON value only what `field` declares (None: all of it): the declared
    keys of objects, at every depth."""
    if isinstance(field, fields.Nested):
        project = _object_projection(field.schema)
        return project if not field.many else lambda v: None if v is None else list(map(project, v))
    if isinstance(field, fields.List):
        item = projection(field.inner)
        return None if item is None else lambda v: None if v is None else [item(x) for x in v]
    if isinstance(field, fields.Dict) and field.value_field is not None:
        value = projection(field.value_field)
        if value is not None:
            return lambda v: None if v is None else {k: value(x) for k, x in v.items()}
    return None


def _object_projection(schema: Schema) -> Projection:
    plan = [
        (child.data_key or name, child.attribute or name, projection(child))
        for name, child in schema.dump_fields.items()
    ]
    computed = any(
        isinstance(child, fields.Function | fields.Method) or "." in (child.attribute or "")
        for child in schema.dump_fields.values()
    )

    def project(value: Any) -> Any:
        if value is None:
            return None
        if computed or not isinstance(value, Mapping):  # not plain JSON: the schema dumps it
            return schema.dump(value)
        return {
            key: value[source] if keep is None else keep(value[source])
            for key, source, keep in plan
            if source in value
        }

    return project


def list_page_fields() -> tuple[fields.Integer, ...]:
    """`total`, `per_page`, `current_page`, `total_pages`: a list view schema declares them after
    its items, in the order `list_body` writes them."""
    return tuple(fields.Integer() for _ in range(4))


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


def herald_page_fields() -> tuple[fields.Integer, ...]:
    """`page`, `perPage`, `total`: a Herald API list view schema declares them after its items,
    in the order `page_body` writes them."""
    return tuple(fields.Integer() for _ in range(3))


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


def normalized_email(value: str) -> str:
    """A syntactically valid address (no DNS lookups), normalised; ValidationError otherwise."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationError(f"Not a valid email address: {exc}") from exc


class EmailField(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 255:
            raise ValidationError("Longer than maximum length 255.")
        return normalized_email(text)

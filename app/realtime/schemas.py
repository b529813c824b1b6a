"""Wire format of the WebSocket API's `POST /send`."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from app.realtime.frames import compact_json
from app.wire import View, WireList, parse_json

MAX_TARGET_IDS = 10_000
TARGET_TYPES = ("user", "group")


class TargetId(fields.Field):
    """A target's `id`: one non-empty string, or a non-empty array of them."""

    # What the OpenAPI document offers (`oneOf`).
    alternatives = (
        fields.String(validate=validate.Length(min=1)),
        fields.List(
            fields.String(validate=validate.Length(min=1)), validate=validate.Length(min=1)
        ),
    )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        ids = target_ids(value)
        if not ids or not all(isinstance(item, str) and item.strip() for item in ids):
            raise ValidationError("id must be a non-empty string or array of non-empty strings.")
        return value


def target_ids(value: str | list[str]) -> list[str]:
    """A target's ids as a list, whichever form it was given in."""
    return value if isinstance(value, list) else [value]


class TargetSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    type = fields.String(
        required=True,
        validate=validate.OneOf(TARGET_TYPES, error='type must be "user" or "group".'),
        error_messages={"required": "Each target needs a type."},
    )
    id = TargetId(required=True, error_messages={"required": "Each target needs an id."})


class SendSchema(Schema):
    """`to` (required, non-empty), `type` (default ""), `message`, `data` (object or JSON text)."""

    class Meta:
        unknown = EXCLUDE

    to = fields.List(
        fields.Nested(TargetSchema),
        required=True,
        validate=validate.Length(min=1, error="to must list at least one target."),
        error_messages={"required": "to is required."},
    )
    type = fields.String(load_default="", allow_none=True)
    message = fields.String(load_default=None, allow_none=True)
    data = fields.Raw(load_default=None, allow_none=True)

    @post_load
    def _normalise(self, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        if sum(len(target_ids(target["id"])) for target in body["to"]) > MAX_TARGET_IDS:
            raise ValidationError(f"to may name at most {MAX_TARGET_IDS} ids.", "to")
        body["type"] = body["type"] or ""
        body["data"] = _compact_data(body["data"])
        return body


def _compact_data(value: Any) -> str | None:
    """The payload as compact JSON text; a pre-stringified payload is parsed first."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = parse_json(value)
        except ValueError as exc:
            raise ValidationError("data must be JSON or a string holding JSON.", "data") from exc
    return compact_json(value)


class SendResponseSchema(View):
    """The 200 answer: the request echoed, `data` as compact JSON text, and `delivered`."""

    ok = fields.Boolean()
    tenantId = fields.String()
    delivered = fields.Integer()
    to = WireList(fields.Nested(TargetSchema))
    type = fields.String()
    message = fields.String(allow_none=True)
    data = fields.String(allow_none=True)

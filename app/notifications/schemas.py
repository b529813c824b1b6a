"""Wire format of the send API's templated send and of notification progress."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, missing, validate, validates_schema

from app.wire import EmailField, OffsetDateTime, View, WireList, herald_page_fields

MODES = ("realtime", "batch")


class TargetObjectSchema(Schema):
    external_id = fields.String(validate=validate.Length(min=1, max=255))
    email = EmailField()
    first_name = fields.String(validate=validate.Length(max=50), allow_none=True)
    last_name = fields.String(validate=validate.Length(max=50), allow_none=True)
    custom_attributes = fields.Dict(keys=fields.String())

    @validates_schema
    def _named(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("external_id") and not data.get("email"):
            raise ValidationError("A target needs an external_id or an email.")


class TargetField(fields.Field):
    """A user id string, or an object that names and describes the user."""

    # What the OpenAPI document offers (`oneOf`), in the order they are tried.
    alternatives = (fields.String(validate=validate.Length(min=1, max=255)), TargetObjectSchema)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if isinstance(value, str):
            if not 1 <= len(value) <= 255:
                raise ValidationError("A user id is 1 to 255 characters.")
            return {"external_id": value}
        if isinstance(value, dict):
            return TargetObjectSchema().load(value)
        raise ValidationError("A target is a user id string or an object.")


class ModeField(fields.Raw):
    """`mode`: required, and documented so, but checked by the send's service (a missing, null
    or unknown mode is ERR_INVALID_MODE, in the documented order of checks), so loading lets a
    missing or null one through as None."""

    def deserialize(
        self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any
    ) -> Any:
        if value is missing or value is None:
            return None
        return super().deserialize(value, attr, data, **kwargs)


class TemplateRefSchema(Schema):
    key = fields.String(validate=validate.Length(min=1, max=255))
    id = fields.String(validate=validate.Length(min=1, max=64))
    variables = fields.Dict(keys=fields.String(), load_default=dict)
    notificationPushData = fields.Dict(keys=fields.String(), allow_none=True)

    @validates_schema
    def _key_or_id(self, data: dict[str, Any], **_: Any) -> None:
        if ("key" in data) == ("id" in data):
            raise ValidationError("Give exactly one of template.key or template.id.")


class SendRequestSchema(Schema):
    """Stage 1 of validation: shapes and types only. Mode and limits are later stages."""

    template = fields.Nested(TemplateRefSchema, required=True)
    targets = fields.List(TargetField(), required=True, validate=validate.Length(min=1))
    mode = ModeField(required=True, metadata={"type": "string", "enum": list(MODES)})
    title = fields.String(validate=validate.Length(max=255), allow_none=True)
    tag = fields.String(validate=validate.Length(max=255), allow_none=True)
    sendAt = OffsetDateTime(
        allow_none=True,
        metadata={"description": "When to send, up to 30 days ahead; absent or null: now"},
    )


class RescheduleSchema(Schema):
    """`PATCH /api/notifications/{id}`: a scheduled send's new time."""

    sendAt = OffsetDateTime(required=True, metadata={"description": "Up to 30 days ahead"})


class RejectedTargetView(View):
    target = fields.String(metadata={"description": "The target's external id or email"})
    reason = fields.String(metadata={"description": "Why the allow-list refused it"})
    channel = fields.String(
        metadata={"optional": True, "description": "The channel it was refused on (direct sends)"}
    )


class SendResponseSchema(View):
    notificationId = fields.String()
    templateKey = fields.String(allow_none=True)  # none for broadcasts and direct sends
    channels = fields.List(fields.String())
    mode = fields.String()
    title = fields.String(allow_none=True)
    tag = fields.String(allow_none=True)
    sentFrom = fields.String()
    createdAt = fields.String(metadata={"format": "date-time"})
    status = fields.String()
    sendAt = fields.String(
        allow_none=True,
        metadata={"format": "date-time", "description": "When a scheduled send starts"},
    )
    targets = fields.Integer()
    rejected = WireList(fields.Nested(RejectedTargetView))


class ChannelProgressSchema(View):
    total = fields.Integer()
    queued = fields.Integer()
    retrying = fields.Integer()
    sent = fields.Integer()
    failed = fields.Integer()
    skipped = fields.Integer()
    cancelled = fields.Integer()


class NotificationSchema(SendResponseSchema):
    progress = fields.Dict(keys=fields.String(), values=fields.Nested(ChannelProgressSchema))


class DeliverySchema(View):
    id = fields.String()
    target = fields.String()
    channel = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    attempts = fields.Integer()
    nextAttemptAt = fields.String(allow_none=True, metadata={"format": "date-time"})
    updatedAt = fields.String(metadata={"format": "date-time"})


class DeliveryListSchema(View):
    deliveries = WireList(fields.Nested(DeliverySchema))
    page, perPage, total = herald_page_fields()


class NotificationListSchema(View):
    notifications = WireList(fields.Nested(NotificationSchema))
    page, perPage, total = herald_page_fields()

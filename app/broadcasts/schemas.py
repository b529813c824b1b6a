"""Wire format of broadcasts (the inbox API): the request with every limit, and the views."""

from __future__ import annotations

import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from app.users.schemas import DeliveryStateView
from app.wire import EpochSeconds, View, WireList, list_page_fields

MAX_TITLE = 255
MAX_CONTENT = 4_194_304
MAX_URL = 2048
MAX_NAME = 100
MAX_CUSTOM_ATTRIBUTES_BYTES = 256 * 1024  # a broadcast's
MAX_NOTIFICATION_ATTRIBUTES_BYTES = 6 * 1024  # the inbox API's notification object's
MAX_RECIPIENTS = 1000


def _size_of(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class ChannelOverrideSchema(Schema):
    title = fields.String(validate=validate.Length(min=1, max=MAX_TITLE))
    content = fields.String(allow_none=True, validate=validate.Length(max=MAX_CONTENT))
    action_url = fields.String(allow_none=True, validate=validate.Length(max=MAX_URL))


class ChannelOverridesSchema(Schema):
    in_app = fields.Nested(ChannelOverrideSchema)
    email = fields.Nested(ChannelOverrideSchema)
    web_push = fields.Nested(ChannelOverrideSchema)
    mobile_push = fields.Nested(ChannelOverrideSchema)


class OverridesSchema(Schema):
    channels = fields.Nested(ChannelOverridesSchema)


class RecipientSchema(Schema):
    """A user by email and/or external id (with optional attributes), or a topic's subscribers."""

    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    external_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=255))
    first_name = fields.String(allow_none=True, validate=validate.Length(max=50))
    last_name = fields.String(allow_none=True, validate=validate.Length(max=50))
    custom_attributes = fields.Dict(keys=fields.String(), allow_none=True)
    topic = fields.String(allow_none=True, validate=validate.Length(min=1, max=MAX_NAME))

    @validates_schema
    def _one_kind(self, data: dict[str, Any], **_: Any) -> None:
        given = {name for name, value in data.items() if value is not None}
        if "topic" in given and len(given) > 1:
            raise ValidationError("A topic recipient has no other attributes.", "topic")
        if not given & {"topic", "email", "external_id"}:
            raise ValidationError("Provide an email, an external_id or a topic.", "email")


class BroadcastFieldsSchema(Schema):
    custom_attributes_limit = MAX_CUSTOM_ATTRIBUTES_BYTES

    title = fields.String(required=True, validate=validate.Length(min=1, max=MAX_TITLE))
    content = fields.String(allow_none=True, validate=validate.Length(max=MAX_CONTENT))
    action_url = fields.String(allow_none=True, validate=validate.Length(max=MAX_URL))
    category = fields.String(allow_none=True, validate=validate.Length(min=1, max=MAX_NAME))
    topic = fields.String(allow_none=True, validate=validate.Length(min=1, max=MAX_NAME))
    custom_attributes = fields.Dict(keys=fields.String(), allow_none=True)
    recipients = fields.List(
        fields.Nested(RecipientSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_RECIPIENTS),
    )
    overrides = fields.Nested(OverridesSchema, allow_none=True)
    send_at = EpochSeconds(
        allow_none=True,
        metadata={"description": "Unix seconds: when to send, up to 30 days ahead; null: now"},
    )

    @validates("custom_attributes")
    def _custom_attributes_size(self, value: dict[str, Any] | None, **_: Any) -> None:
        limit = self.custom_attributes_limit
        if value is not None and _size_of(value) > limit:
            raise ValidationError(f"Must not exceed {limit} bytes as JSON.")


class BroadcastBody(Schema):
    broadcast = fields.Nested(BroadcastFieldsSchema, required=True)


class NotificationFieldsSchema(BroadcastFieldsSchema):
    """A broadcast named `notification`: its custom attributes are each notification's, which
    the inbox API limits to 6 KB."""

    custom_attributes_limit = MAX_NOTIFICATION_ATTRIBUTES_BYTES


class NotificationBody(Schema):
    """`POST /notifications` (the inbox API): a broadcast under the name `notification`."""

    notification = fields.Nested(NotificationFieldsSchema, required=True)


class BroadcastStatusSummary(View):
    total = fields.Integer(metadata={"description": "Recipients"})
    failures = fields.Integer(metadata={"description": "Failed deliveries"})


class BroadcastErrorView(View):
    code = fields.String(metadata={"description": "Why the allow-list refused the recipient"})
    message = fields.String()
    recipient = fields.String()


class BroadcastStatusView(View):
    status = fields.String(
        metadata={"description": "scheduled, enqueued, processing or processed"},
        validate=validate.OneOf(("scheduled", "enqueued", "processing", "processed")),
    )
    summary = fields.Nested(BroadcastStatusSummary)
    errors = WireList(fields.Nested(BroadcastErrorView))


class BroadcastView(View):
    """A broadcast as it was given (`recipients` too), with its status."""

    id = fields.String()
    title = fields.String()
    content = fields.String(allow_none=True)
    action_url = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    topic = fields.String(allow_none=True)
    custom_attributes = fields.Dict(allow_none=True)
    overrides = fields.Nested(OverridesSchema, allow_none=True)
    recipients = WireList(fields.Nested(RecipientSchema))
    sent_at = fields.Integer(metadata={"description": "Unix seconds"})
    send_at = fields.Integer(
        metadata={
            "optional": True,
            "description": "Unix seconds: when a scheduled broadcast starts (only theirs)",
        }
    )
    status = fields.Nested(BroadcastStatusView)


class BroadcastEnvelope(View):
    broadcast = fields.Nested(BroadcastView)


class NotificationEnvelope(View):
    notification = fields.Nested(BroadcastView)


class BroadcastListView(View):
    broadcasts = WireList(fields.Nested(BroadcastView))
    total, per_page, current_page, total_pages = list_page_fields()


class RecipientView(View):
    id = fields.String()
    external_id = fields.String(allow_none=True)
    email = fields.String(allow_none=True)


class RecipientNotificationView(View):
    id = fields.String(allow_none=True, metadata={"description": "The inbox notification's id"})
    recipient = fields.Nested(RecipientView)
    title = fields.String()
    sent_at = fields.Integer(allow_none=True)
    seen_at = fields.Integer(allow_none=True)
    read_at = fields.Integer(allow_none=True)
    archived_at = fields.Integer(allow_none=True)
    deliveries = fields.List(fields.Nested(DeliveryStateView))


class RecipientNotificationListView(View):
    notifications = WireList(fields.Nested(RecipientNotificationView))
    total, per_page, current_page, total_pages = list_page_fields()

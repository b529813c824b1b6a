"""Wire format of the direct send API (snake_case, as that API names things)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.wire import OffsetDateTime, View, WireList

CHANNELS = ("email", "push", "in_app")
HTML_CHANNELS = ("email",)


class DirectSendSchema(Schema):
    channels = fields.List(
        fields.String(validate=validate.OneOf(CHANNELS, error="Unknown channel {input}.")),
        load_default=lambda: ["email"],
        validate=validate.Length(min=1),
    )
    to = fields.List(
        fields.String(validate=validate.Length(min=1, max=2048)),
        required=True,
        validate=validate.Length(min=1, max=10_000),
    )
    subject = fields.String(required=True, validate=validate.Length(min=1, max=998))
    body = fields.String(required=True, validate=validate.Length(min=1, max=4 * 1024 * 1024))
    body_html = fields.String(validate=validate.Length(min=1, max=4 * 1024 * 1024))
    send_at = OffsetDateTime(
        allow_none=True,
        metadata={"description": "When to send, up to 30 days ahead; absent or null: now"},
    )
    # The send API's spelling of the same field, taken here too so that one client code path
    # schedules both kinds of send.
    sendAt = OffsetDateTime(
        allow_none=True, load_only=True, metadata={"description": "The same as send_at"}
    )

    @validates_schema
    def _one_spelling_of_the_send_time(self, data: dict[str, Any], **_: Any) -> None:
        if "sendAt" in data and "send_at" in data:
            raise ValidationError("Give send_at or sendAt, not both.", "sendAt")

    @validates_schema
    def _html_needs_an_html_channel(self, data: dict[str, Any], **_: Any) -> None:
        if "body_html" in data and not set(data.get("channels", [])) & set(HTML_CHANNELS):
            raise ValidationError(
                "body_html needs a channel that supports HTML (email).", "body_html"
            )


class RejectedRecipientView(View):
    recipient = fields.String()
    reason = fields.String(metadata={"description": "Why the allow-list refused it"})


class DirectSendView(View):
    notification_id = fields.String()
    queued_at = fields.String(metadata={"format": "date-time"})
    channels = fields.List(fields.String())
    accepted_recipients = fields.Dict(
        keys=fields.String(),
        values=WireList(fields.String()),
        metadata={"description": "Per channel, the recipients as given"},
    )
    rejected_recipients = fields.Dict(
        keys=fields.String(),
        values=WireList(fields.Nested(RejectedRecipientView)),
        metadata={"description": "Per channel"},
    )
    status = fields.String(
        metadata={"optional": True, "description": "`scheduled`: only in a scheduled send's answer"}
    )
    send_at = fields.String(
        metadata={
            "optional": True,
            "format": "date-time",
            "description": "When a scheduled send starts: only in a scheduled send's answer",
        }
    )


class DirectSendResponse(View):
    data = fields.Nested(DirectSendView)

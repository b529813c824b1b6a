"""Wire format of webhook endpoints and their attempts (Herald API family: camelCase,
unwrapped). A signing secret is in the views of a creation and a rotation only."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.webhooks.models import ALL_EVENTS, EVENT_TYPES
from app.wire import View, WireList, herald_page_fields

SUBSCRIBABLE = (ALL_EVENTS, *EVENT_TYPES)


def _url(*, required: bool = False) -> fields.String:
    # Shape only; where it may lead (https, public addresses) is the outbound guard's to say.
    return fields.String(
        required=required,
        validate=[
            validate.Length(max=2048),
            validate.URL(schemes={"http", "https"}, require_tld=False),
        ],
    )


def _events(*, required: bool = False) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(SUBSCRIBABLE)),
        required=required,
        validate=validate.Length(min=1, max=len(SUBSCRIBABLE)),
        metadata={"description": 'Event types, or ["*"] for every type (new ones included).'},
    )


class CreateWebhookSchema(Schema):
    """`POST /api/webhooks`."""

    url = _url(required=True)
    events = _events(required=True)
    description = fields.String(load_default="", validate=validate.Length(max=500))


class UpdateWebhookSchema(Schema):
    """`PATCH /api/webhooks/<id>`: every field optional; `enabled: true` resumes a disabled
    endpoint."""

    url = _url()
    events = _events()
    description = fields.String(validate=validate.Length(max=500))
    enabled = fields.Boolean()


class WebhookView(View):
    id = fields.String()
    url = fields.String()
    description = fields.String()
    events = fields.List(fields.String(validate=validate.OneOf(SUBSCRIBABLE)))
    enabled = fields.Boolean()
    disabledReason = fields.String(allow_none=True)
    createdAt = fields.String(metadata={"format": "date-time"})
    updatedAt = fields.String(metadata={"format": "date-time"})


class WebhookWithSecretView(WebhookView):
    """An endpoint just made, or whose secret was just rotated: the only time its secret is
    shown."""

    secret = fields.String(metadata={"description": "whsec_ + base64 of 32 random bytes"})


class WebhookListView(View):
    webhooks = WireList(fields.Nested(WebhookView))
    page, perPage, total = herald_page_fields()


class AttemptView(View):
    id = fields.String()
    createdAt = fields.String(metadata={"format": "date-time"})
    webhookId = fields.String(metadata={"description": "The message's webhook-id header"})
    eventCount = fields.Integer()
    statusCode = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    latencyMs = fields.Integer()
    responseBody = fields.String(allow_none=True, metadata={"description": "The answer's first KB"})


class AttemptListView(View):
    attempts = WireList(fields.Nested(AttemptView))
    page, perPage, total = herald_page_fields()


class WebhookTestView(AttemptView):
    """The attempt a `webhook.test` event was sent with, and whether the endpoint took it."""

    delivered = fields.Boolean()

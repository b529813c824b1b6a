"""Wire format of push subscriptions (the inbox API), including browser Web Push subscriptions."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.push.models import PLATFORMS
from app.wire import EpochSeconds, View, list_page_fields

MAX_DEVICE_TOKEN = 255
MAX_WEB_PUSH_ENDPOINT = 2048
_BASE64URL = re.compile(r"^[A-Za-z0-9_\-+/]+=*$")
_https_url = validate.URL(schemes={"https"}, require_tld=False)


def _base64url_key(size: int, what: str) -> Callable[[str], None]:
    """A validator: base64url text that decodes to `size` bytes (what browsers give)."""

    def check(value: str) -> None:
        try:
            if not _BASE64URL.match(value):
                raise ValueError
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except (ValueError, binascii.Error) as exc:
            raise ValidationError(f"Must be the browser's base64url {what}.") from exc
        if len(raw) != size:
            raise ValidationError(f"Must decode to {size} bytes ({what}).")

    return check


class WebPushKeysSchema(Schema):
    """`PushSubscription.toJSON().keys` from a browser."""

    p256dh = fields.String(
        required=True,
        validate=[validate.Length(max=255), _base64url_key(65, "P-256 public key")],
    )
    auth = fields.String(
        required=True, validate=[validate.Length(max=255), _base64url_key(16, "auth secret")]
    )


class PushSubscriptionFields(Schema):
    """A device token (≤ 255) or, for `web`, a Web Push endpoint URL (≤ 2048) with its keys."""

    device_token = fields.String(
        required=True, validate=validate.Length(min=1, max=MAX_WEB_PUSH_ENDPOINT)
    )
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    app_bundle_id = fields.String(allow_none=True, validate=validate.Length(max=155))
    keys = fields.Nested(WebPushKeysSchema)

    @validates_schema
    def _fits_platform(self, data: dict[str, Any], **_: Any) -> None:
        token, errors = data["device_token"], {}
        if data["platform"] == "web":
            try:
                _https_url(token)
            except ValidationError:
                errors["device_token"] = ["A web subscription's device_token is its https URL."]
            if "keys" not in data:
                errors["keys"] = ["Web Push subscriptions need keys.p256dh and keys.auth."]
        else:
            if len(token) > MAX_DEVICE_TOKEN:
                errors["device_token"] = [f"Longer than maximum length {MAX_DEVICE_TOKEN}."]
            if "keys" in data:
                errors["keys"] = ["keys apply only to the web platform."]
        if errors:
            raise ValidationError(errors)


class PushSubscriptionBody(Schema):
    push_subscription = fields.Nested(PushSubscriptionFields, required=True)


class PushSubscriptionView(View):
    id = fields.String()
    user_id = fields.String()
    device_token = fields.String()
    platform = fields.String()
    app_bundle_id = fields.String(allow_none=True)
    created_at = EpochSeconds()
    discarded_at = EpochSeconds(allow_none=True)


class PushSubscriptionEnvelope(View):
    push_subscription = fields.Nested(PushSubscriptionView)


class PushSubscriptionPageView(View):
    push_subscriptions = fields.List(fields.Nested(PushSubscriptionView))
    total, per_page, current_page, total_pages = list_page_fields()

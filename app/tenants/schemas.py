"""Wire format of app settings (Herald API family: camelCase, unwrapped)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.wire import View


class OAuth2Schema(Schema):
    issuer = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    audience = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    hs256Secret = fields.String(load_only=True, validate=validate.Length(min=16, max=512))
    jwksPath = fields.String(validate=validate.Length(min=1, max=4096))

    @validates_schema
    def _one_key_source(self, data: dict[str, Any], **_: Any) -> None:
        if ("hs256Secret" in data) == ("jwksPath" in data):
            raise ValidationError("Give exactly one of hs256Secret or jwksPath.")


# A DNS label: letters, digits and inner hyphens (punycode for international names). Names end
# at \Z: `$` would let a trailing newline into the DKIM-Signature header.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


class DkimSchema(Schema):
    """An app's DKIM key: mail from `domain` or its subdomains is signed, and receivers check it
    against the public key published at `<selector>._domainkey.<domain>`."""

    domain = fields.String(
        required=True,
        validate=[
            validate.Length(max=253),
            validate.Regexp(rf"^{_LABEL}(\.{_LABEL})+\Z", error="Not a domain name."),
        ],
    )
    selector = fields.String(
        required=True,
        validate=[
            validate.Length(max=128),
            validate.Regexp(rf"^{_LABEL}(\.{_LABEL})*\Z", error="Not a DKIM selector."),
        ],
    )
    # PEM, PKCS#1 or PKCS#8, unencrypted; the service checks it is RSA of 1024 to 4096 bits.
    privateKey = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=16_384)
    )


class AppSettingsSchema(Schema):
    """Settings an admin may change; every field optional on PATCH."""

    name = fields.String(validate=validate.Length(min=1, max=255))
    hmac_required = fields.Boolean(data_key="hmacRequired")
    sender_email = fields.Email(data_key="senderEmail", allow_none=True)
    sender_name = fields.String(
        data_key="senderName", allow_none=True, validate=validate.Length(max=255)
    )
    realtime_target_limit = fields.Integer(
        data_key="realtimeTargetLimit", validate=validate.Range(min=1, max=1000)
    )
    batch_target_limit = fields.Integer(
        data_key="batchTargetLimit", validate=validate.Range(min=1, max=100_000)
    )
    rate_limit_read_per_minute = fields.Integer(
        data_key="rateLimitReadPerMinute", validate=validate.Range(min=1, max=1_000_000)
    )
    rate_limit_write_per_minute = fields.Integer(
        data_key="rateLimitWritePerMinute", validate=validate.Range(min=1, max=1_000_000)
    )
    critical_categories = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        data_key="criticalCategories",
        validate=validate.Length(max=100),
    )
    oauth2 = fields.Nested(OAuth2Schema, allow_none=True)
    dkim = fields.Nested(DkimSchema, allow_none=True)
    # The app's share of the relay, across every worker (null: unlimited, within the relay's).
    email_per_second = fields.Integer(
        data_key="emailPerSecond",
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=1_000_000),
    )


class OAuth2View(View):
    """The stored OAuth2 setting, its encrypted HS256 secret shown only as set or not."""

    issuer = fields.String()
    audience = fields.String()
    jwksPath = fields.String(metadata={"optional": True})
    hs256SecretSet = fields.Function(
        lambda oauth2: "hs256SecretEncrypted" in oauth2, metadata={"type": "boolean"}
    )


class DkimView(View):
    """The stored DKIM setting; its key is never shown."""

    domain = fields.String()
    selector = fields.String()
    configured = fields.Function(lambda _dkim: True, metadata={"type": "boolean"})


class AppView(View):
    """What `GET /api/apps/current` answers: identifiers plus every readable setting."""

    appId = fields.String(attribute="id")
    apiKey = fields.String(attribute="api_key")
    name = fields.String()
    hmacRequired = fields.Boolean(attribute="hmac_required")
    senderEmail = fields.String(attribute="sender_email", allow_none=True)
    senderName = fields.String(attribute="sender_name", allow_none=True)
    realtimeTargetLimit = fields.Integer(attribute="realtime_target_limit")
    batchTargetLimit = fields.Integer(attribute="batch_target_limit")
    rateLimitReadPerMinute = fields.Integer(attribute="rate_limit_read_per_minute")
    rateLimitWritePerMinute = fields.Integer(attribute="rate_limit_write_per_minute")
    criticalCategories = fields.List(fields.String(), attribute="critical_categories")
    oauth2 = fields.Nested(OAuth2View, allow_none=True)
    dkim = fields.Nested(DkimView, allow_none=True)
    emailPerSecond = fields.Integer(attribute="email_per_second", allow_none=True)
    vapidPublicKey = fields.String(attribute="vapid_public_key")
    createdAt = fields.DateTime(attribute="created_at")
    updatedAt = fields.DateTime(attribute="updated_at")

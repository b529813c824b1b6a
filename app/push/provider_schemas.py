"""Wire format of apps' mobile push providers (Herald API family: camelCase, unwrapped).

Key material is load-only: no view has a field for it.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from app.push.providers import ENVIRONMENTS
from app.wire import View

_URL = validate.URL(schemes={"http", "https"}, require_tld=False)
# Google Cloud project ids: 6 to 30 lowercase letters, digits and inner hyphens, from a letter;
# older ones may carry a domain (`example.com:project`). The id is part of FCM's send URL.
_PROJECT_ID = r"^(?:[a-z0-9.-]{1,253}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]\Z"
# Apple's 10-character identifiers (key id, team id), and bundle ids in reverse-DNS form.
_APPLE_ID = r"^[A-Z0-9]{10}\Z"
_BUNDLE_ID = r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\Z"


def _text(max_length: int, *, required: bool = False, data_key: str | None = None) -> fields.String:
    return fields.String(
        required=required, data_key=data_key, validate=validate.Length(min=1, max=max_length)
    )


class ServiceAccountSchema(Schema):
    """The service account key file Google Cloud gives (JSON). The fields Herald uses are
    required and the file's other known fields optional; names the format does not have are
    left out rather than refused, since Google adds fields to it from time to time."""

    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True, validate=validate.OneOf(["service_account"]))
    project_id = fields.String(  # the pattern bounds its length
        required=True, validate=validate.Regexp(_PROJECT_ID, error="Not a Google Cloud project id.")
    )
    client_email = fields.Email(required=True, validate=validate.Length(max=320))
    # PEM; the service checks it is an unencrypted RSA key of 2048 bits or more.
    private_key = _text(16_384, required=True)
    # Where Herald fetches access tokens, through the guard for outbound URLs (https).
    token_uri = fields.String(required=True, validate=[validate.Length(max=2048), _URL])
    private_key_id = _text(128)
    client_id = _text(128)
    auth_uri = _text(2048)
    auth_provider_x509_cert_url = _text(2048)
    client_x509_cert_url = _text(2048)
    universe_domain = _text(253)


class FcmProviderSchema(Schema):
    """`PUT /api/apps/current/push_providers/fcm`."""

    serviceAccount = fields.Nested(ServiceAccountSchema, required=True)


class ApnsProviderSchema(Schema):
    """`PUT /api/apps/current/push_providers/apns`: an APNs token-based authentication key."""

    key_id = fields.String(
        data_key="keyId",
        required=True,
        validate=validate.Regexp(_APPLE_ID, error="Must be 10 uppercase letters or digits."),
    )
    team_id = fields.String(
        data_key="teamId",
        required=True,
        validate=validate.Regexp(_APPLE_ID, error="Must be 10 uppercase letters or digits."),
    )
    # The .p8 file's text; the service checks it is a PKCS#8 EC P-256 private key.
    private_key = _text(4096, data_key="privateKey", required=True)
    bundle_id = fields.String(
        data_key="bundleId",
        required=True,
        validate=[
            validate.Length(max=155),
            validate.Regexp(_BUNDLE_ID, error="Not a bundle identifier (com.example.app)."),
        ],
    )
    environment = fields.String(required=True, validate=validate.OneOf(ENVIRONMENTS))


class FcmProviderView(View):
    """The app's FCM service account as shown: never its key."""

    configured = fields.Boolean()
    projectId = fields.String(attribute="project_id", allow_none=True)
    clientEmail = fields.String(attribute="client_email", allow_none=True)


class ApnsProviderView(View):
    """The app's APNs key as shown: never the key itself."""

    configured = fields.Boolean()
    keyId = fields.String(attribute="key_id", allow_none=True)
    teamId = fields.String(attribute="team_id", allow_none=True)
    bundleId = fields.String(attribute="bundle_id", allow_none=True)
    environment = fields.String(allow_none=True)


class PushProvidersView(View):
    """What `GET /api/apps/current/push_providers` answers (null fields when not configured)."""

    fcm = fields.Nested(FcmProviderView)
    apns = fields.Nested(ApnsProviderView)

"""Wire format of notification preferences (the inbox API: wrapped in
"notification_preferences")."""

from __future__ import annotations

from collections import Counter
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.preferences.service import CHANNELS
from app.wire import View

MAX_CATEGORIES = 1000


def _no_repeated_slugs(items: list[dict[str, Any]], what: str) -> None:
    repeated = sorted(slug for slug, n in Counter(i["slug"] for i in items).items() if n > 1)
    if repeated:
        raise ValidationError(f"Each {what} may appear once; repeated: {', '.join(repeated)}.")


class ChannelPreferenceSchema(Schema):
    slug = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    enabled = fields.Boolean(required=True)


class CategoryPreferenceSchema(Schema):
    slug = fields.String(required=True, validate=validate.Length(min=1, max=100))
    channels = fields.List(
        fields.Nested(ChannelPreferenceSchema),
        required=True,
        validate=validate.Length(max=len(CHANNELS)),
    )

    @validates_schema
    def _channels_once(self, data: dict[str, Any], **_: Any) -> None:
        try:
            _no_repeated_slugs(data["channels"], "channel")
        except ValidationError as exc:
            raise ValidationError(exc.messages, "channels") from exc


class PreferencesFields(Schema):
    categories = fields.List(
        fields.Nested(CategoryPreferenceSchema),
        required=True,
        validate=validate.Length(max=MAX_CATEGORIES),
    )

    @validates_schema
    def _categories_once(self, data: dict[str, Any], **_: Any) -> None:
        try:
            _no_repeated_slugs(data["categories"], "category")
        except ValidationError as exc:
            raise ValidationError(exc.messages, "categories") from exc


class PreferencesBody(Schema):
    notification_preferences = fields.Nested(PreferencesFields, required=True)


class ChannelPreferenceView(View):
    slug = fields.String(validate=validate.OneOf(CHANNELS))
    enabled = fields.Boolean()


class CategoryPreferenceView(View):
    slug = fields.String()
    channels = fields.List(fields.Nested(ChannelPreferenceView))


class PreferencesView(View):
    categories = fields.List(fields.Nested(CategoryPreferenceView))


class PreferencesEnvelope(View):
    """`{"notification_preferences": {"categories": [{"slug", "channels": [...]}]}}`."""

    notification_preferences = fields.Nested(PreferencesView)


def preferences_body(preferences: dict[str, dict[str, bool]]) -> dict[str, Any]:
    """Stored preferences (category -> channel -> enabled) in the wire's list form."""
    categories = [
        {
            "slug": category,
            "channels": [{"slug": c, "enabled": channels[c]} for c in CHANNELS],
        }
        for category, channels in sorted(preferences.items())
    ]
    return {"notification_preferences": {"categories": categories}}

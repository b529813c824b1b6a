"""Wire format of topic subscriptions (the inbox API, wrapped in "subscription")."""

from __future__ import annotations

from collections import Counter
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.wire import EpochSeconds, View, list_page_fields

MAX_CATEGORIES = 100


class TopicCategorySchema(Schema):
    slug = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reason = fields.String(allow_none=True, validate=validate.Length(max=255))


def _categories(*, required: bool) -> fields.List:
    return fields.List(
        fields.Nested(TopicCategorySchema),
        required=required,
        validate=validate.Length(max=MAX_CATEGORIES),
    )


class _DistinctCategories(Schema):
    @validates_schema
    def _each_category_once(self, data: dict[str, Any], **_: Any) -> None:
        counts = Counter(c["slug"] for c in data.get("categories") or [])
        repeated = sorted(slug for slug, n in counts.items() if n > 1)
        if repeated:
            raise ValidationError(f"Repeated categories: {', '.join(repeated)}.", "categories")


class SubscribeFields(_DistinctCategories):
    topic = fields.String(required=True, validate=validate.Length(min=1, max=100))
    categories = _categories(required=True)


class SubscribeBody(Schema):
    subscription = fields.Nested(SubscribeFields, required=True)


class CategoriesFields(_DistinctCategories):
    categories = _categories(required=False)


class UnsubscribeBody(Schema):
    """Categories to opt out of; none listed (or no body) means the whole topic."""

    subscription = fields.Nested(CategoriesFields)


class DeleteSubscriptionBody(CategoriesFields):
    """The inbox API's documentation shows `categories` at the top level; the wrapped form is
    accepted too."""

    subscription = fields.Nested(CategoriesFields)

    @validates_schema
    def _one_form(self, data: dict[str, Any], **_: Any) -> None:
        if "categories" in data and "subscription" in data:
            raise ValidationError("Give categories or subscription.categories, not both.")


class TopicCategoryView(View):
    slug = fields.String()
    reason = fields.String(allow_none=True)
    status = fields.String()


class SubscriptionView(View):
    id = fields.String()
    topic = fields.String()
    status = fields.String(allow_none=True)
    categories = fields.List(fields.Nested(TopicCategoryView))
    created_at = EpochSeconds()
    updated_at = EpochSeconds()


class SubscriptionEnvelope(View):
    subscription = fields.Nested(SubscriptionView)


class SubscriptionListView(View):
    subscriptions = fields.List(fields.Nested(SubscriptionView))
    total, per_page, current_page, total_pages = list_page_fields()

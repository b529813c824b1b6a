"""Wire format of the suppression list (Herald API family: camelCase, unwrapped)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.suppressions.models import SuppressionReason
from app.wire import EmailField, View, WireList, herald_page_fields

MAX_EMAILS = 1000
REASONS = tuple(reason.value for reason in SuppressionReason)


class AddSuppressionsSchema(Schema):
    """`POST /api/suppressions`: addresses an operator stops email to."""

    emails = fields.List(
        EmailField(), required=True, validate=validate.Length(min=1, max=MAX_EMAILS)
    )


class SuppressionView(View):
    email = fields.String()
    reason = fields.String(validate=validate.OneOf(REASONS))
    createdAt = fields.String(metadata={"format": "date-time"})


class SuppressionListView(View):
    suppressions = WireList(fields.Nested(SuppressionView))
    page, perPage, total = herald_page_fields()


class SuppressionsAddedView(View):
    suppressions = WireList(fields.Nested(SuppressionView))

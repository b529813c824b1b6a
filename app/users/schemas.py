"""Wire format of users in the MagicBell-compatible inbox API (snake_case, wrapped in "user",
epoch-second timestamps)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from app.wire import EpochSeconds, View, WireList, list_page_fields

ORDER_BY = (
    "created_at,ASC",
    "created_at,DESC",
    "last_seen_at,ASC",
    "last_seen_at,DESC",
    "last_notified_at,ASC",
    "last_notified_at,DESC",
)
MAX_PHONE_NUMBERS = 50


class UserFieldsSchema(Schema):
    """The writable user fields with the inbox API's limits; every field optional (PUT)."""

    # The inbox API lists `user.id` in request bodies: accepted so a fetched user can be sent
    # back, but Herald's id is never changed by it.
    id = fields.String(load_only=True, metadata={"description": "Ignored; ids are Herald's."})
    external_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=255))
    email = fields.Email(allow_none=True, validate=validate.Length(max=255))
    first_name = fields.String(allow_none=True, validate=validate.Length(max=50))
    last_name = fields.String(allow_none=True, validate=validate.Length(max=50))
    custom_attributes = fields.Dict(keys=fields.String(), allow_none=True)
    phone_numbers = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        allow_none=True,
        validate=validate.Length(max=MAX_PHONE_NUMBERS),
    )


class NewUserFieldsSchema(UserFieldsSchema):
    """A user to create: an email or an external id is required."""

    @validates_schema
    def _identified(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("external_id") and not data.get("email"):
            raise ValidationError("Provide an email or an external_id.", "external_id")


class CreateUserBody(Schema):
    user = fields.Nested(NewUserFieldsSchema, required=True)


class UpdateUserBody(Schema):
    user = fields.Nested(UserFieldsSchema, required=True)


class UserListQuery(Schema):
    """`GET /users` filters (RFC 3339 or Unix seconds) and ordering."""

    class Meta:
        unknown = EXCLUDE  # page and per_page are read by page_from_query

    last_seen_before = EpochSeconds(data_key="last_seen_at:before")
    last_seen_after = EpochSeconds(data_key="last_seen_at:after")
    last_notified_before = EpochSeconds(data_key="last_notified_at:before")
    last_notified_after = EpochSeconds(data_key="last_notified_at:after")
    order_by = fields.String(load_default="created_at,DESC", validate=validate.OneOf(ORDER_BY))


class UserView(View):
    id = fields.String()
    external_id = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    custom_attributes = fields.Dict()
    phone_numbers = fields.List(fields.String())
    created_at = EpochSeconds()
    last_seen_at = EpochSeconds(allow_none=True)
    last_notified_at = EpochSeconds(allow_none=True)
    # From the groups service (`app.users.routes.ListedUser`): the ids of the user's groups.
    groups = fields.List(fields.String())


class UserEnvelope(View):
    user = fields.Nested(UserView)


class UserListView(View):
    users = fields.List(fields.Nested(UserView))
    total, per_page, current_page, total_pages = list_page_fields()


class DeliveryStateView(View):
    """One channel's delivery to a recipient, as the inbox API's recipient views show it."""

    channel = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    attempts = fields.Integer()
    sent_at = fields.Integer(allow_none=True)


class UserNotificationView(View):
    """A notification sent to the user, with its delivery on each channel."""

    id = fields.String()
    title = fields.String(allow_none=True)  # a templated send may have none
    category = fields.String(allow_none=True)
    topic = fields.String(allow_none=True)
    template_key = fields.String(allow_none=True)
    sent_at = fields.Integer()
    deliveries = fields.List(fields.Nested(DeliveryStateView))


class UserNotificationListView(View):
    notifications = WireList(fields.Nested(UserNotificationView))
    total, per_page, current_page, total_pages = list_page_fields()

"""Wire format of groups (Herald API family: camelCase, unwrapped)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.wire import View, herald_page_fields

MAX_MEMBERS = 10_000

UserId = fields.String(validate=validate.Length(min=1, max=255))


class GroupMembersSchema(Schema):
    """`PUT /api/groups/<group_id>`: the complete member list."""

    members = fields.List(UserId, required=True, validate=validate.Length(max=MAX_MEMBERS))


class GroupSchema(View):
    """A group: its id, member count, and (when read one at a time) its members' user ids."""

    id = fields.String(attribute="name")
    memberCount = fields.Integer(attribute="member_count")
    members = fields.List(fields.String())
    createdAt = fields.DateTime(attribute="created_at")
    updatedAt = fields.DateTime(attribute="updated_at")


class GroupSummarySchema(GroupSchema):
    class Meta:
        exclude = ("members",)


class GroupListSchema(View):
    # The page fields first: the order this list has always had, unlike the other lists.
    page, perPage, total = herald_page_fields()
    groups = fields.List(fields.Nested(GroupSummarySchema))

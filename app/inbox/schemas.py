"""Wire format of the inbox (seed 002 notifications: snake_case, epoch seconds).

Responses are built by `app.inbox.views.inbox_view`, shared with realtime events; these schemas
describe them for the OpenAPI document.
"""

from __future__ import annotations

from marshmallow import Schema, fields

from app.wire import ListPageView

FILTER_QUERY = ["read", "seen", "archived", "categories", "topics"]


class InboxNotificationView(Schema):
    id = fields.String()
    title = fields.String()
    content = fields.String(allow_none=True)
    action_url = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    topic = fields.String(allow_none=True)
    custom_attributes = fields.Dict()
    sent_at = fields.Integer(metadata={"description": "Unix seconds"})
    seen_at = fields.Integer(allow_none=True)
    read_at = fields.Integer(allow_none=True)
    archived_at = fields.Integer(allow_none=True)


class InboxNotificationEnvelope(Schema):
    notification = fields.Nested(InboxNotificationView)


class InboxListView(ListPageView):
    unseen_count = fields.Integer(
        metadata={"description": "Unarchived, unseen notifications (category/topic filters)"}
    )
    unread_count = fields.Integer(
        metadata={"description": "Unarchived, unread notifications (category/topic filters)"}
    )
    notifications = fields.List(fields.Nested(InboxNotificationView))

"""Wire format of the inbox (the inbox API's notifications: snake_case, epoch seconds).

Views are built by `app.inbox.views.inbox_view`, shared with realtime events; responses are
dumped through these schemas.
"""

from __future__ import annotations

from marshmallow import fields

from app.wire import View, WireList, list_page_fields

FILTER_QUERY = ["read", "seen", "archived", "categories", "topics"]


class InboxNotificationView(View):
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


class InboxNotificationEnvelope(View):
    notification = fields.Nested(InboxNotificationView)


class InboxListView(View):
    notifications = WireList(fields.Nested(InboxNotificationView))
    total, per_page, current_page, total_pages = list_page_fields()
    unread_count = fields.Integer(
        metadata={"description": "Unarchived, unread notifications (category/topic filters)"}
    )
    unseen_count = fields.Integer(
        metadata={"description": "Unarchived, unseen notifications (category/topic filters)"}
    )

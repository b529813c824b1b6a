"""The publish interface workers use: this test process publishes like a worker would, and
real sockets on a real web process receive the events meant for them and no others."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
import websocket

from app.realtime import frames
from app.realtime.publisher import publish_events, publish_to_users
from app.runtime import Runtime
from tests.support.factories import Tenant, make_tenant
from tests.support.processes import RunningProcess
from tests.support.realtime import Sockets, next_event
from tests.support.recipients import herald_id

INBOX_CHANGES = [
    (frames.NOTIFICATION_READ, {"id": "n1", "unread_count": 0, "unseen_count": 0}),
    (frames.NOTIFICATION_UNREAD, {"id": "n1", "unread_count": 1, "unseen_count": 0}),
    (frames.NOTIFICATION_SEEN, {"id": "n1", "unread_count": 1, "unseen_count": 0}),
    (frames.NOTIFICATION_ARCHIVED, {"id": "n1", "unread_count": 0, "unseen_count": 0}),
    (frames.NOTIFICATION_UNARCHIVED, {"id": "n1", "unread_count": 1, "unseen_count": 0}),
    (frames.NOTIFICATION_DELETED, {"id": "n1", "unread_count": 0, "unseen_count": 0}),
    (frames.NOTIFICATIONS_READ_ALL, {"ids": ["n1", "n2"], "unread_count": 0, "unseen_count": 0}),
    (frames.NOTIFICATIONS_SEEN_ALL, {"ids": ["n1", "n2"], "unread_count": 2, "unseen_count": 0}),
]


def fence(runtime: Runtime, tenant: Tenant, user_id: str) -> None:
    """A last event to a user: frames arrive in order, so anything before it was sent first."""
    publish_to_users(runtime, app_id=tenant.app_id, user_ids=[user_id], event="fence", data={})


def events_until_fence(ws: websocket.WebSocket) -> list[dict]:
    received = []
    while (frame := next_event(ws))["event"] != "fence":
        received.append(frame)
    return received


def test_every_inbox_change_reaches_the_users_sockets_in_order(
    web: RunningProcess, acme: Tenant, pg_runtime: Runtime, clients: Sockets
):
    ws = clients.connect(web.base_url, acme, "u-1")
    user_id = herald_id(pg_runtime, acme, "u-1")

    for event, data in INBOX_CHANGES:
        publish_to_users(pg_runtime, app_id=acme.app_id, user_ids=[user_id], event=event, data=data)
    fence(pg_runtime, acme, user_id)

    received = events_until_fence(ws)
    assert [(frame["event"], frame["data"]) for frame in received] == INBOX_CHANGES


def test_published_events_reach_only_the_named_users_of_the_named_app(
    web: RunningProcess, acme: Tenant, pg_runtime: Runtime, clients: Sockets
):
    globex = make_tenant(pg_runtime, "globex")
    mine = clients.connect(web.base_url, acme, "u-1")
    neighbour = clients.connect(web.base_url, acme, "u-2")
    other_app = clients.connect(web.base_url, globex, "u-1")
    me = herald_id(pg_runtime, acme, "u-1")

    publish_to_users(
        pg_runtime, app_id=acme.app_id, user_ids=[me], event="notification.new", data={"id": "n"}
    )
    # The right user id under the wrong app reaches nobody either.
    publish_to_users(pg_runtime, app_id=globex.app_id, user_ids=[me], event="wrong", data={})
    for tenant, ws_user in ((acme, "u-2"), (globex, "u-1")):
        fence(pg_runtime, tenant, herald_id(pg_runtime, tenant, ws_user))
    fence(pg_runtime, acme, me)

    assert [frame["event"] for frame in events_until_fence(mine)] == ["notification.new"]
    assert events_until_fence(neighbour) == []
    assert events_until_fence(other_app) == []


def test_publish_events_sends_each_recipient_its_own_notification(
    web: RunningProcess, acme: Tenant, pg_runtime: Runtime, clients: Sockets
):
    first = clients.connect(web.base_url, acme, "u-1")
    second = clients.connect(web.base_url, acme, "u-2")
    ids = {name: herald_id(pg_runtime, acme, name) for name in ("u-1", "u-2")}

    publish_events(
        pg_runtime,
        app_id=acme.app_id,
        events=[
            (ids["u-1"], frames.NOTIFICATION_NEW, {"id": "for-1"}),
            (ids["u-2"], frames.NOTIFICATION_NEW, {"id": "for-2"}),
            (ids["u-1"], frames.NOTIFICATION_NEW, {"id": "for-1b"}),
            ("offline-user", frames.NOTIFICATION_NEW, {"id": "for-nobody"}),
        ],
    )

    assert next_event(first) == {"event": "notification.new", "data": {"id": "for-1"}}
    assert next_event(first) == {"event": "notification.new", "data": {"id": "for-1b"}}
    assert next_event(second) == {"event": "notification.new", "data": {"id": "for-2"}}


def test_publishing_while_redis_is_unreachable_logs_instead_of_raising(
    pg_runtime: Runtime, caplog: pytest.LogCaptureFixture
):
    settings = replace(pg_runtime.settings, redis_url="redis://127.0.0.1:1/0")
    broken = Runtime.from_settings(settings)
    try:
        with caplog.at_level(logging.WARNING, logger="app.realtime.publisher"):
            publish_to_users(broken, app_id="a", user_ids=["u"], event="e", data={})
            publish_events(broken, app_id="a", events=[("u", "e", {})])
    finally:
        broken.close()
    assert [record.message for record in caplog.records] == ["realtime publish failed"] * 2

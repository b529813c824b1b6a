"""The one realtime publisher. Flask-free: the web process and Dramatiq workers both use it.

User ids here are Herald user ids (`users.id`), the ids sockets register under. Publishing is
one Redis round trip however many users: a Lua script reads presence and publishes each web
process one message naming its connected users (see `app.realtime.presence`); for messages
of the WebSocket API's `POST /send`, the calling process's own sockets are written to first,
before that trip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from redis import RedisError

from app.realtime.frames import encode_frame
from app.realtime.presence import PresenceKeys, route

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger(__name__)


def deliver_to_users(
    runtime: Runtime, *, app_id: str, user_ids: Iterable[str], event: str, data: Mapping[str, Any]
) -> int:
    """Send one stateless frame (a `POST /send` message) to every connected socket of these users;
    returns how many sockets.

    Each socket counts once however often its user is named. The calling process's own sockets
    get it at once, from its local index and before other processes are reached, not through
    its channel: nothing orders such a message against the events already on the channel.
    Raises `RedisError` (the local sockets have the message then).
    """
    frame = encode_frame(event, data)
    users = list(dict.fromkeys(user_ids))
    local = runtime.local_sockets
    if local is None:
        return _route(runtime, app_id, [(frame, users)])
    here = local.deliver(app_id, users, frame)
    return here + _route(runtime, app_id, [(frame, users)], leave_out=local.process_id)


def publish_to_users(
    runtime: Runtime, *, app_id: str, user_ids: Iterable[str], event: str, data: Mapping[str, Any]
) -> None:
    """Fire-and-forget: send one inbox event to every connected socket of these users.

    Through every process's channel, the caller's own included, so that a socket receives a
    user's inbox events in the order they were published (a `notification.new` a worker sent
    before a `notification.read` from a web request stays before it).
    """
    frame = encode_frame(event, data)
    try:
        _route(runtime, app_id, [(frame, list(dict.fromkeys(user_ids)))])
    except RedisError:
        log.warning("realtime publish failed", extra={"app_id": app_id, "event": event})


def publish_events(
    runtime: Runtime, *, app_id: str, events: Iterable[tuple[str, str, Mapping[str, Any]]]
) -> None:
    """Fire-and-forget: many (user_id, event, data) at once, in one round trip."""
    users_by_frame: dict[str, list[str]] = {}
    for user_id, event, data in events:
        users_by_frame.setdefault(encode_frame(event, data), []).append(user_id)
    batches = [(frame, list(dict.fromkeys(users))) for frame, users in users_by_frame.items()]
    try:
        _route(runtime, app_id, batches)
    except RedisError:
        log.warning("realtime publish failed", extra={"app_id": app_id, "events": len(batches)})


def _route(
    runtime: Runtime, app_id: str, batches: list[tuple[str, list[str]]], *, leave_out: str = ""
) -> int:
    return route(
        runtime.redis,
        PresenceKeys.for_runtime(runtime),
        ttl=runtime.settings.realtime_presence_ttl_s,
        app_id=app_id,
        batches=batches,
        leave_out=leave_out,
    )

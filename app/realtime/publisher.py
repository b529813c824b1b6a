"""The one realtime publisher. Flask-free: the web process and Dramatiq workers both use it.

User ids here are Herald user ids (`users.id`), the ids sockets register under. Publishing is
one Redis round trip however many users: a Lua script reads presence and publishes each web
process one message naming its connected users (see `app.realtime.presence`); the sockets of
the calling process itself are written to straight away.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from redis import RedisError

from app.realtime.frames import encode_frame
from app.realtime.presence import PresenceKeys, route
from app.runtime import Runtime

log = logging.getLogger(__name__)


def deliver_to_users(
    runtime: Runtime, *, app_id: str, user_ids: Iterable[str], event: str, data: Mapping[str, Any]
) -> int:
    """Send one frame to every connected socket of these users; returns how many sockets.

    Each socket counts once however often its user is named. Raises `RedisError`.
    """
    unique = list(dict.fromkeys(user_ids))
    return _route(runtime, app_id, [(encode_frame(event, data), unique)])


def publish_to_users(
    runtime: Runtime, *, app_id: str, user_ids: Iterable[str], event: str, data: Mapping[str, Any]
) -> None:
    """Fire-and-forget: send one event to every connected socket of these users."""
    try:
        deliver_to_users(runtime, app_id=app_id, user_ids=user_ids, event=event, data=data)
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


def _route(runtime: Runtime, app_id: str, batches: list[tuple[str, list[str]]]) -> int:
    local = runtime.local_sockets
    reached, mine = route(
        runtime.redis,
        PresenceKeys.for_runtime(runtime),
        ttl=runtime.settings.realtime_presence_ttl_s,
        app_id=app_id,
        batches=batches,
        caller_process_id=local.process_id if local else "",
    )
    if mine is not None and local is not None:
        local.dispatch(mine)
    return reached

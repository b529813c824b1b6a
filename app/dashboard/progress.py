"""How far sends have got, as the dashboard's progress bars show it, and the server-sent
events that move those bars: one stream per open page, reading the progress service about
once a second until every send it follows has finished."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.orm import Session

from app.engine.lifecycle import FINAL as FINISHED
from app.notifications import service

# Still waiting for a worker: neither queued nor retrying deliveries count as done.
WAITING = ("queued", "retrying")
POLL_INTERVAL_S = 1.0
# A stream ends after this long even if sends go on; the browser's EventSource reconnects.
STREAM_LIFETIME_S = 300.0


def channel_bars(progress: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Per channel: how many deliveries are done (sent, failed, skipped or cancelled) of all."""
    return {
        channel: {"done": counts["total"] - sum(counts[w] for w in WAITING), **counts}
        for channel, counts in progress.items()
    }


def overall_bar(progress: dict[str, dict[str, int]]) -> dict[str, int]:
    """Every channel's deliveries together."""
    bars = channel_bars(progress).values()
    return {
        "done": sum(bar["done"] for bar in bars),
        "total": sum(bar["total"] for bar in bars),
    }


def progress_event(view: dict[str, Any]) -> dict[str, Any]:
    """What one notification's bars and status need, from its wire view."""
    return {
        "id": view["notificationId"],
        "status": view["status"],
        "finished": view["status"] in FINISHED,
        "overall": overall_bar(view["progress"]),
        "channels": channel_bars(view["progress"]),
    }


def following(views: list[dict[str, Any]]) -> list[str]:
    """The ids of those sends a page's progress stream follows: the ones not finished."""
    return [view["notificationId"] for view in views if view["status"] not in FINISHED]


def read_progress(session: Session, *, app_id: str, ids: list[str]) -> list[dict[str, Any]]:
    """The progress of those of `ids` that are the app's (others are silently not there)."""
    views = service.describe_by_ids(session, app_id=app_id, ids=ids)
    return [progress_event(view) for view in views]


def progress_stream(
    read: Callable[[list[str]], list[dict[str, Any]] | None],
    ids: list[str],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Server-sent events: a `progress` event per reading, then `done` once every send has
    finished. Each reading asks `read` only for the sends not yet seen finished (or absent:
    not the app's); `read` answers None when the session has ended, which ends the stream."""
    yield "retry: 2000\n\n"
    started = time.monotonic()
    while time.monotonic() - started < STREAM_LIFETIME_S:
        events = read(ids)
        if events is None:
            yield "event: ended\ndata: {}\n\n"
            return
        yield f"event: progress\ndata: {json.dumps(events)}\n\n"
        ids = [event["id"] for event in events if not event["finished"]]
        if not ids:
            yield "event: done\ndata: {}\n\n"
            return
        sleep(POLL_INTERVAL_S)

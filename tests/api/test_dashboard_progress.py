"""The dashboard's progress stream (`app.dashboard.progress.progress_stream`) with a scripted
reading: what it asks for each second, and how it ends."""

from __future__ import annotations

import json
from typing import Any

from app.dashboard.progress import progress_stream


def event(notification_id: str, *, finished: bool) -> dict[str, Any]:
    return {"id": notification_id, "finished": finished}


def test_each_reading_asks_only_for_the_sends_not_yet_finished():
    readings = iter(
        [
            [event("a", finished=True), event("b", finished=False)],  # "c" is not the app's
            [event("b", finished=False)],
            [event("b", finished=True)],
        ]
    )
    asked: list[list[str]] = []

    def read(ids: list[str]) -> list[dict[str, Any]]:
        asked.append(list(ids))
        return next(readings)

    stream = list(progress_stream(read, ["a", "b", "c"], sleep=lambda _: None))

    assert asked == [["a", "b", "c"], ["b"], ["b"]]
    progress = [chunk for chunk in stream if chunk.startswith("event: progress")]
    assert [json.loads(chunk.split("data: ", 1)[1]) for chunk in progress][-1] == [
        event("b", finished=True)
    ]
    assert stream[-1] == "event: done\ndata: {}\n\n"


def test_a_stream_whose_session_ended_says_so_and_stops():
    stream = list(progress_stream(lambda ids: None, ["a"], sleep=lambda _: None))

    assert stream[-1] == "event: ended\ndata: {}\n\n"
    assert not any(chunk.startswith("event: progress") for chunk in stream)

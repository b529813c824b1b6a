"""`herald notifications watch`: readings of a notification's progress, poll after poll, shown
as one JSON line each or as a live table of progress bars on a terminal."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.progress_bar import ProgressBar
from rich.table import Table

# A delivery in one of these states is done with; queued (sending included) and retrying ones
# are not.
FINISHED = ("sent", "failed", "skipped", "cancelled")
# The exit status of a watch that saw the notification reach each final status.
EXIT_STATUS = {"completed": 0, "completed_with_errors": 3, "cancelled": 4}
# The exit status of a watch that gave up (--timeout) before a final status.
TIMED_OUT = 5


@dataclass
class Tracker:
    """Rates and time left per channel, measured from this watch's first poll."""

    started_at: float
    finished_at_start: dict[str, int] = field(default_factory=dict)

    def reading(self, view: dict[str, Any], now: float) -> dict[str, Any]:
        """A progress object: the notification's view (`GET /api/notifications/{id}`) with,
        per channel, the deliveries expected, the rate and the seconds left."""
        final = view["status"] in EXIT_STATUS
        elapsed = now - self.started_at
        channels = {
            channel: self._channel(channel, counts, view["targets"], final, elapsed)
            for channel, counts in view["progress"].items()
        }
        return {
            "notificationId": view["notificationId"],
            "templateKey": view["templateKey"],
            "mode": view["mode"],
            "status": view["status"],
            "final": final,
            "targets": view["targets"],
            "elapsedSeconds": round(elapsed, 1),
            "progress": channels,
        }

    def _channel(
        self, channel: str, counts: dict[str, int], targets: int, final: bool, elapsed: float
    ) -> dict[str, Any]:
        finished = sum(counts[state] for state in FINISHED)
        # Until it is over, a channel expects a delivery per target (fan-out records them as
        # it goes); once over, what was recorded is all there is (targets naming one user).
        expected = counts["total"] if final else max(counts["total"], targets)
        since_start = finished - self.finished_at_start.setdefault(channel, finished)
        rate = since_start / elapsed if elapsed > 0 else 0.0
        left = expected - finished
        seconds_left = 0.0 if left <= 0 else (round(left / rate, 1) if rate > 0 else None)
        return {
            **counts,
            "expected": expected,
            "perSecond": round(rate, 2),
            "secondsLeft": seconds_left,
        }


def follow(
    poll: Callable[[], dict[str, Any]],
    show: Callable[[dict[str, Any]], None],
    *,
    interval: float,
    timeout: float | None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll and show until the notification reaches a final status or the timeout passes;
    returns the last reading."""
    tracker = Tracker(started_at=clock())
    while True:
        reading = tracker.reading(poll(), clock())
        show(reading)
        if reading["final"] or (timeout is not None and clock() - tracker.started_at >= timeout):
            return reading
        sleep(interval)


def exit_status(reading: dict[str, Any]) -> int:
    return EXIT_STATUS.get(reading["status"], TIMED_OUT)


def progress_table(reading: dict[str, Any]) -> Table:
    """One row per channel: a bar of the deliveries done, the counts (retrying: waiting for
    another attempt), the rate, the time left."""
    title = f"{reading['templateKey'] or 'notification'} {reading['notificationId']}"
    table = Table(title=f"{title}: {reading['status']}", title_justify="left", box=None)
    for name in ("channel", "", "sent", "retrying", "failed", "skipped", "of", "rate", "left"):
        table.add_column(name, justify="left" if name in ("channel", "") else "right")
    for channel, counts in reading["progress"].items():
        finished = sum(counts[state] for state in FINISHED)
        table.add_row(
            channel,
            ProgressBar(total=max(counts["expected"], 1), completed=finished, width=30),
            str(counts["sent"]),
            str(counts["retrying"]),
            str(counts["failed"]),
            str(counts["skipped"]),
            str(counts["expected"]),
            f"{counts['perSecond']:g}/s",
            _clock(counts["secondsLeft"]),
        )
    return table


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{rest:02d}"

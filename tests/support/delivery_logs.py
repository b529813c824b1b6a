"""The delivery outcome lines (`herald.delivery`) a test captured with caplog."""

from __future__ import annotations

import logging

import pytest

from tests.support.sinks import wait_until


def delivery_lines(
    caplog: pytest.LogCaptureFixture, notification_id: str, *, count: int
) -> list[logging.LogRecord]:
    """The notification's delivery outcome lines, once `count` of them are logged.

    A line is logged after its outcome is committed, so the notification can read as finished
    a moment before its last line is written."""

    def lines() -> list[logging.LogRecord]:
        return [
            record
            for record in caplog.records
            if record.name == "herald.delivery" and record.notification_id == notification_id
        ]

    wait_until(lambda: len(lines()) >= count, timeout=10)
    return lines()

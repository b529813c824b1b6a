"""Two worker processes, each running the scheduled sends' pass every second, start each due
send once: every recipient gets one email per send."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app.composition import Process
from app.factory import build_app
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import people, schedule, status_of
from tests.support.processes import RunningProcess, procfile_process, wait_for_log
from tests.support.realtime import poll
from tests.support.sinks import SmtpSink


@pytest.fixture
def two_workers(postgresql_url: str, tmp_path: Path) -> Iterator[list[RunningProcess]]:
    with ExitStack() as stack:
        workers = [
            stack.enter_context(
                procfile_process("worker", database_url=postgresql_url, log_dir=tmp_path)
            )
            for _ in range(2)
        ]
        for worker in workers:
            wait_for_log(worker, r"is ready for action")
        yield workers


@pytest.fixture
def pg_client(pg_process: Process) -> FlaskClient:
    """The API, in this process, on the database the worker processes use."""
    return build_app(pg_process).test_client()


def test_two_worker_processes_start_each_due_send_exactly_once(
    two_workers: list[RunningProcess], pg_client: FlaskClient, acme: Tenant, smtp_sink: SmtpSink
):
    approved_template(pg_client, acme)
    send_at = datetime.now(UTC) + timedelta(seconds=2)
    sends = [("batch", people(3, prefix=f"b{i}-")) for i in range(4)]
    sends += [("realtime", people(1, prefix=f"r{i}-")) for i in range(4)]

    ids = [schedule(pg_client, acme, send_at, targets, mode) for mode, targets in sends]
    # all() stops at the first send still pending, so the polling stays inside the read budget.
    poll(
        lambda: all(status_of(pg_client, acme, i)["status"] == "completed" for i in ids), timeout=60
    )

    expected = Counter(target["email"] for _, targets in sends for target in targets)
    assert Counter(smtp_sink.recipients()) == expected
    assert set(expected.values()) == {1}

"""`herald dev`, the README's first command: on a fresh machine with only Python it runs Herald
(its own Redis and printing SMTP server, SQLite, a demo app), prints working credentials and
curls once the web process answers, starts again as often as it is run, after a clean stop or
a killed one, and stopping it (or a failed start) leaves nothing running."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.devserver import DevRun, DevRuns, send
from tests.support.sinks import wait_until


@pytest.fixture
def herald_dev(tmp_path: Path) -> Iterator[DevRuns]:
    """`herald dev` runs on a fresh instance directory; whatever they leave is killed at the end."""
    runs = DevRuns(tmp_path / "instance")
    yield runs
    runs.kill_all()


def test_herald_dev_starts_twice_on_one_instance_with_the_same_working_credentials(
    herald_dev: DevRuns,
):
    first = herald_dev.start()  # on PORT, as a platform would set it
    credentials = first.wait_until_ready()
    assert "Started a local Redis" in first.output()
    assert_printed_sends_work(first)
    wait_until(lambda: "Subject: Herald News" in first.output(), timeout=60)
    assert "To: jane@example.com" in first.output()  # the newsletter, printed decoded
    assert "herald.access: POST /api/notifications/send 200 " in first.output()
    summary = first.run_printed_batch()
    assert (summary["status"], summary["progress"]["email"]["sent"]) == ("completed", 300)
    assert first.stop() == 0
    herald_dev.wait_until_none_running()

    again = herald_dev.start()

    assert again.wait_until_ready() == credentials
    assert_printed_sends_work(again)
    assert again.stop() == 0
    herald_dev.wait_until_none_running()


def test_herald_dev_starts_again_after_a_start_killed_halfway(herald_dev: DevRuns):
    killed = herald_dev.start()
    wait_until(lambda: "web.1 started" in killed.output(), timeout=120)
    killed.stop(signal.SIGKILL)  # herald dev alone: what it started must not outlive it
    herald_dev.wait_until_none_running()

    again = herald_dev.start(port_option=True)  # --port, which beats PORT

    again.wait_until_ready()
    assert_printed_sends_work(again)
    assert again.stop() == 0
    herald_dev.wait_until_none_running()


def test_herald_dev_says_so_and_stops_everything_when_the_web_process_never_answers(
    herald_dev: DevRuns,
):
    # A web process without workers listens but never answers.
    run = herald_dev.start(WEB_CONCURRENCY="0", HERALD_DEV_READY_TIMEOUT_S="5")

    assert run.process.wait(timeout=120) == 1
    assert "did not answer" in run.output() and "/healthz within 5 s" in run.output()
    assert run.credentials() is None
    herald_dev.wait_until_none_running()


def assert_printed_sends_work(run: DevRun) -> None:
    """Each printed send API curl is answered 2xx; the printed inbox curl then shows a send."""
    curls = {request.full_url: request for request in run.printed_curls()}
    base = f"http://127.0.0.1:{run.port}"
    sends = [r for r in run.printed_curls() if r.full_url == f"{base}/api/notifications/send"]
    answers = [send(request) for request in sends]
    assert [(status // 100, body.get("templateKey")) for status, body in answers] == [
        (2, "order-confirmation"),
        (2, "newsletter"),
    ], answers
    status, inbox = send(curls[f"{base}/notifications"])
    assert status == 200, inbox
    assert "Order ORD-12345 confirmed" in [n["title"] for n in inbox["notifications"]]

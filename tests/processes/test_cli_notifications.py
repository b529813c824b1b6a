"""`herald notifications list` and `watch`: what the notifications API shows, from the command
line; watching prints a JSON progress object per poll (progress bars on a terminal) and exits
with the notification's outcome."""

from __future__ import annotations

import io
import json
from pathlib import Path

import dramatiq
from flask.testing import FlaskClient
from rich.console import Console

from app.cli.progress import TIMED_OUT, exit_status, follow, progress_table
from tests.support.cli import Herald
from tests.support.factories import Tenant, approved_template
from tests.support.sinks import SmtpSink, wait_until


def send(cli: Herald, tenant: Tenant, targets: str) -> str:
    sent = cli(
        "send", "--app", tenant.app_id, "--template", "order-confirmation", "--targets", targets,
        "--var", "customerName=Jane", "--var", "orderId=ORD-1",
    )  # fmt: skip
    return sent["notificationId"]


def watch(cli: Herald, notification_id: str) -> tuple[int, list[dict]]:
    result = cli.run("notifications", "watch", notification_id, "--interval", "0.05",
                     "--timeout", "60")  # fmt: skip
    return result.exit_code, [json.loads(line) for line in result.stdout.splitlines()]


def test_watch_prints_a_progress_line_per_poll_until_the_batch_completes(
    cli: Herald, client: FlaskClient, tenant: Tenant, worker: dramatiq.Worker
):
    approved_template(client, tenant)
    notification_id = send(cli, tenant, ",".join(f"u{i}" for i in range(5)))

    code, lines = watch(cli, notification_id)

    *progress, summary = lines
    assert code == 0
    assert all(line["notificationId"] == notification_id for line in lines)
    assert [line["final"] for line in lines] == [False] * len(progress) + [True]
    assert summary["status"] == "completed"
    assert summary["progress"]["in_app"]["sent"] == summary["progress"]["in_app"]["expected"] == 5
    assert summary["progress"]["email"]["skipped"] == 5  # ids alone: no address
    assert {"perSecond", "secondsLeft"} <= set(summary["progress"]["in_app"])
    api = client.get(f"/api/notifications/{notification_id}", headers=tenant.headers())
    assert api.get_json()["progress"]["in_app"].items() <= summary["progress"]["in_app"].items()


def test_watch_exits_3_when_the_notification_completes_with_errors(
    cli: Herald,
    client: FlaskClient,
    tenant: Tenant,
    worker: dramatiq.Worker,
    smtp_sink: SmtpSink,
    tmp_path: Path,
):
    approved_template(client, tenant)
    smtp_sink.fail("bob@example.com", "550 5.1.1 No such user", times=5)
    targets = tmp_path / "people.csv"
    targets.write_text("external_id,email\nu1,ann@example.com\nu2,bob@example.com\n")
    notification_id = send(cli, tenant, str(targets))

    code, lines = watch(cli, notification_id)

    assert code == 3
    assert lines[-1]["status"] == "completed_with_errors"
    email = lines[-1]["progress"]["email"]
    assert (email["sent"], email["failed"]) == (1, 1)


def test_watch_of_an_unknown_notification_is_refused(cli: Herald, tenant: Tenant):
    refused = cli.refusal("notifications", "watch", "no-such-notification")

    assert refused["errors"][0]["code"] == "ERR_NOTIFICATION_NOT_FOUND"


def test_watch_within_another_app_does_not_find_the_notification(
    cli: Herald, client: FlaskClient, tenant: Tenant, other_tenant: Tenant, worker
):
    approved_template(client, tenant)
    notification_id = send(cli, tenant, "u1")

    refused = cli.refusal("notifications", "watch", notification_id, "--app", other_tenant.app_id)

    assert refused["errors"][0]["code"] == "ERR_NOTIFICATION_NOT_FOUND"


def test_watch_gives_up_at_its_timeout_with_exit_status_5():
    view = {
        "notificationId": "n1",
        "templateKey": "order-confirmation",
        "mode": "batch",
        "status": "sending",
        "targets": 4,
        "progress": {"email": {"total": 4, "queued": 4, "retrying": 0, "sent": 0, "failed": 0,
                               "skipped": 0, "cancelled": 0}},
    }  # fmt: skip
    shown: list[dict] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    last = follow(lambda: view, shown.append, interval=1, timeout=3, clock=lambda: now[0],
                  sleep=sleep)  # fmt: skip

    assert (len(shown), last["final"], exit_status(last)) == (4, False, TIMED_OUT)
    assert last["progress"]["email"]["secondsLeft"] is None  # nothing moved: no rate yet


def test_on_a_terminal_each_channel_is_a_progress_bar_with_counts_retries_rate_and_time_left():
    reading = {
        "notificationId": "n1",
        "templateKey": "order-confirmation",
        "status": "sending",
        "progress": {
            "email": {"expected": 10, "sent": 5, "retrying": 2, "failed": 1, "skipped": 0,
                      "cancelled": 0, "perSecond": 2.0, "secondsLeft": 2.0},
            "in_app": {"expected": 10, "sent": 10, "retrying": 0, "failed": 0, "skipped": 0,
                       "cancelled": 0, "perSecond": 5.0, "secondsLeft": 0.0},
        },
    }  # fmt: skip
    out = io.StringIO()

    Console(file=out, force_terminal=True, width=120, color_system=None).print(
        progress_table(reading)
    )

    text = out.getvalue()
    assert "order-confirmation n1: sending" in text
    email = next(line.split() for line in text.splitlines() if line.split()[:1] == ["email"])
    assert email[1].startswith("━")
    assert email[-7:] == ["5", "2", "1", "0", "10", "2/s", "0:00:02"]
    assert "retrying" in text


def api_list(client: FlaskClient, tenant: Tenant) -> list[dict]:
    return client.get("/api/notifications", headers=tenant.headers()).get_json()["notifications"]


def test_notifications_list_pages_as_the_api_does(
    cli: Herald, client: FlaskClient, tenant: Tenant, worker
):
    approved_template(client, tenant)
    sent = [send(cli, tenant, f"u{i}") for i in range(3)]

    listed = cli("notifications", "list", "--app", tenant.app_id, "--per-page", "2")
    second = cli("notifications", "list", "--app", tenant.app_id, "--per-page", "2", "--page", "2")

    api = client.get("/api/notifications?perPage=2", headers=tenant.headers()).get_json()
    assert set(listed) == set(api)
    assert {k: v for k, v in listed.items() if k != "notifications"} == {
        k: v for k, v in api.items() if k != "notifications"
    }
    ids = [n["notificationId"] for n in listed["notifications"] + second["notifications"]]
    assert ids == sent[::-1]
    assert ids[:2] == [n["notificationId"] for n in api["notifications"]]
    # The worker finishes before the test's data is wiped.
    wait_until(lambda: all(n["status"] == "completed" for n in api_list(client, tenant)))


def test_notifications_list_refuses_pages_the_api_refuses(cli: Herald, tenant: Tenant):
    refused = cli.refusal("notifications", "list", "--app", tenant.app_id, "--per-page", "101")

    assert refused["errors"][0]["field"] == "perPage"

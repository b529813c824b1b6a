"""Scheduled sends that come due while the workers are killed, or while Redis is down and then
back empty: each starts once the installation is whole again, and is delivered exactly once."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta

from tests.support.cluster import SEND, VARIABLES, Audience, Cluster, audience, received
from tests.support.fault_outcome import stored_statuses, wait_until_completed
from tests.support.sinks import wait_until

DUE_IN = timedelta(seconds=2)


def schedule(cluster: Cluster, recipients: Audience, mode: str, send_at: datetime) -> str:
    """A send to the whole audience (batch) or to its first recipient (realtime)."""
    targets = recipients.targets() if mode == "batch" else recipients.targets()[:1]
    body = {
        "template": {"key": "order", "variables": VARIABLES},
        "targets": targets,
        "mode": mode,
        "sendAt": send_at.isoformat(),
    }
    status, answer = cluster.api("POST", SEND, recipients.tenant, body)
    assert status == 202, answer
    assert answer["status"] == "scheduled"
    return answer["notificationId"]


def wait_past(moment: datetime, extra: float) -> None:
    time.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0) + extra)


def delivered_once_each(cluster: Cluster, recipients: Audience) -> None:
    """Each recipient has the batch's email and push, the first the realtime send's too."""
    expected = dict.fromkeys(recipients.external_ids, 1)
    expected[recipients.external_ids[0]] = 2
    got = received(cluster, recipients)
    assert (dict(got.emails), dict(got.pushes)) == (expected, expected)


def test_sends_due_while_every_worker_is_killed_start_once_the_workers_are_back(
    cluster: Cluster,
):
    recipients = audience(cluster, "killed", 10)
    send_at = datetime.now(UTC) + DUE_IN
    ids = [schedule(cluster, recipients, mode, send_at) for mode in ("batch", "realtime")]

    assert cluster.worker is not None
    cluster.worker.kill(signal.SIGKILL)
    wait_past(send_at, 1)
    nothing_yet = received(cluster, recipients).total()
    cluster.start_worker()
    wait_until_completed(cluster, recipients.tenant, ids)

    assert nothing_yet == 0
    delivered_once_each(cluster, recipients)


def test_sends_due_while_redis_is_down_are_delivered_once_after_it_comes_back_empty(
    cluster: Cluster,
):
    recipients = audience(cluster, "outage", 10)
    send_at = datetime.now(UTC) + DUE_IN
    ids = [schedule(cluster, recipients, mode, send_at) for mode in ("batch", "realtime")]

    cluster.redis.kill()
    wait_past(send_at, 0)
    # Started from the database while Redis is away; their messages, refused, are not needed.
    started = dict(zip(ids, ("queued", "sending"), strict=True))
    during_the_outage = wait_until(lambda: stored_statuses(cluster, ids) == started and started)
    cluster.redis.restart_empty()
    wait_until_completed(cluster, recipients.tenant, ids)

    assert during_the_outage == started
    delivered_once_each(cluster, recipients)

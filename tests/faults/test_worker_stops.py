"""Worker processes stopped mid-batch: killed outright, or stopped as a platform stops them."""

from __future__ import annotations

import signal
import time

from tests.support.cluster import Cluster, batch_under_way
from tests.support.fault_outcome import (
    assert_consistent,
    outcome,
    report,
    sending_now,
    wait_until_completed,
)

# A Procfile platform's grace period between SIGTERM and SIGKILL (honcho's and Heroku's: 10 s).
GRACE_PERIOD_S = 10


def test_a_worker_group_killed_mid_batch_loses_nothing_and_repeats_only_sends_in_flight(
    cluster: Cluster,
):
    recipients, notification_id = batch_under_way(cluster, "kill9")

    assert cluster.worker is not None
    cluster.worker.kill(signal.SIGKILL)
    in_flight = sending_now(cluster, [notification_id])
    cluster.start_worker()
    views = wait_until_completed(cluster, recipients.tenant, [notification_id])

    result = outcome(cluster, recipients, views)
    report(f"kill -9 of the worker group ({in_flight} sending)", 1, result)
    assert_consistent(result, recipients)
    assert result.doubled <= in_flight, (result, in_flight)


def test_sigterm_to_the_whole_worker_group_drains_in_flight_sends_and_exits_cleanly(
    cluster: Cluster,
):
    recipients, notification_id = batch_under_way(cluster, "sigterm")

    stopped = cluster.worker
    assert stopped is not None
    stopping = time.monotonic()
    stopped.kill(signal.SIGTERM)  # the group: the dramatiq parent and every child
    stopped_after = time.monotonic() - stopping
    cluster.start_worker()
    views = wait_until_completed(cluster, recipients.tenant, [notification_id])

    assert stopped.process.returncode == 0, stopped.log()
    assert stopped_after < GRACE_PERIOD_S
    result = outcome(cluster, recipients, views)
    report(f"SIGTERM to the worker group (stopped in {stopped_after:.1f} s)", 1, result)
    assert_consistent(result, recipients)
    assert result.doubled == 0, result

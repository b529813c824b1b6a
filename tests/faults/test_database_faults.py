"""PostgreSQL connections cut again and again mid-batch, as a failover or an administrator does."""

from __future__ import annotations

import threading
import time
from collections import Counter

from tests.support.cluster import Answer, Audience, Cluster, batch_under_way, terminate_backends
from tests.support.fault_outcome import assert_consistent, outcome, report, wait_until_completed

CUT_EVERY_S = 0.25
CUTTING_FOR_S = 6


def test_a_batch_completes_and_no_call_fails_with_500_while_connections_are_cut(
    cluster: Cluster,
):
    recipients, notification_id = batch_under_way(cluster, "pgcut", share=0.2)

    answers: list[Answer] = []
    stop = threading.Event()
    callers = [
        threading.Thread(
            target=_keep_calling, args=(cluster, recipients, notification_id, stop, answers)
        )
        for _ in range(2)
    ]
    for caller in callers:
        caller.start()
    cuts = 0
    deadline = time.monotonic() + CUTTING_FOR_S
    while time.monotonic() < deadline:
        cuts += terminate_backends(cluster.database_url)
        time.sleep(CUT_EVERY_S)
    stop.set()
    for caller in callers:
        caller.join()
    views = wait_until_completed(cluster, recipients.tenant, [notification_id])

    statuses = Counter(a.status for a in answers)
    assert cuts > 0
    assert not [s for s in statuses if s >= 500 and s != 503], statuses
    assert all("Retry-After" in a.headers for a in answers if a.status == 503)
    assert statuses[200] > 0, statuses
    result = outcome(cluster, recipients, views)
    report(f"database connections cut ({len(answers)} API calls meanwhile)", cuts, result)
    assert_consistent(result, recipients)
    assert result.doubled == 0, result


def _keep_calling(
    cluster: Cluster,
    recipients: Audience,
    notification_id: str,
    stop: threading.Event,
    answers: list,
) -> None:
    """Reads of the batch's progress and new sends (to someone outside the audience)."""
    progress = f"/api/notifications/{notification_id}"
    another = {
        "template": {"key": "order", "variables": {"customerName": "Ed", "orderId": "P-1"}},
        "targets": [{"external_id": "bystander", "email": "bystander@faults.example.com"}],
        "mode": "batch",
    }
    while not stop.is_set():
        for method, path, body in (
            ("GET", progress, None),
            ("GET", f"{progress}/deliveries?perPage=5", None),
            ("GET", "/api/notifications?perPage=5", None),
            ("POST", "/api/notifications/send", another),
        ):
            answers.append(cluster.request(method, path, recipients.tenant, body))

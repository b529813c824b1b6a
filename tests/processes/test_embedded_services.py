"""The suite runs on a machine with only Python: a representative slice of it, run with
HERALD_TEST_SERVICES=embedded, starts its own PostgreSQL and Redis and passes on them.

The slice covers the migrations on both databases, a batch end to end through a real Dramatiq
worker, the Procfile's web process, a batch through the Procfile's processes while their Redis
is lost and restarted empty, and WebSocket delivery.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields

from app.config import PROJECT_ROOT, Settings

SLICE = (
    "tests/database/test_migrations.py",
    "tests/engine/test_pipeline.py::"
    "test_batch_across_chunks_reaches_every_recipient_exactly_once_per_channel",
    "tests/processes/test_procfile.py::test_web_process_serves_authenticated_requests",
    "tests/faults/test_redis_loss.py::"
    "test_a_batch_completes_without_a_restart_after_redis_comes_back_empty",
    "tests/realtime/test_websocket_api_send_delivery.py::"
    "test_the_message_frame_carries_the_documented_fields",
    "tests/realtime/test_websocket_api_send_delivery.py::"
    "test_every_socket_of_a_user_receives_and_counts",
)
# What this run chose for itself: the nested run must choose again, from nothing.
_INHERITED = {f.name.upper() for f in fields(Settings)} | {
    "TEST_DATABASE_URL",
    "HERALD_INSTANCE_DIR",
}


def test_a_slice_of_the_suite_passes_on_the_services_it_starts_itself():
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in _INHERITED and not name.startswith(("PYTEST_", "COV_"))
    }
    environment["HERALD_TEST_SERVICES"] = "embedded"

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", *SLICE],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    [services] = [line for line in run.stdout.splitlines() if line.startswith("services:")]
    assert services.count("embedded, started by this run") == 2, services
    assert "10 passed" in run.stdout

"""The Procfile's processes start as written and serve against the test databases."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from tests.support.factories import Tenant
from tests.support.processes import procfile_command, procfile_process, wait_for_log


def test_procfile_declares_release_web_and_worker():
    assert "herald db upgrade" in procfile_command("release")
    assert "gevent" in procfile_command("web")
    assert "dramatiq app.composition:worker_broker" in procfile_command("worker")
    # Idle consumers poll every 100 ms rather than Dramatiq's 1 s: a realtime email waits less.
    assert "dramatiq_worker_timeout=${WORKER_POLL_MS:-100}" in procfile_command("worker")


def test_web_process_serves_authenticated_requests(
    database_url: str, tenant: Tenant, tmp_path: Path
):
    with procfile_process("web", database_url=database_url, log_dir=tmp_path) as web:
        request = urllib.request.Request(
            f"{web.base_url}/api/apps/current", headers=tenant.headers()
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = json.load(response)
        with urllib.request.urlopen(f"{web.base_url}/readyz", timeout=5) as response:
            ready = json.load(response)

    assert body["appId"] == tenant.app_id
    assert ready["checks"] == {"database": True, "redis": True}


def test_worker_process_boots_against_the_broker(database_url: str, tmp_path: Path):
    with procfile_process("worker", database_url=database_url, log_dir=tmp_path) as worker:
        wait_for_log(worker, r"Worker process is ready|is ready for action")


def test_worker_processes_log_in_herald_format(database_url: str, tmp_path: Path):
    with procfile_process(
        "worker", database_url=database_url, log_dir=tmp_path, env={"LOG_JSON": "true"}
    ) as worker:
        wait_for_log(worker, r"is ready for action")
        ready = next(line for line in worker.log().splitlines() if "ready for action" in line)

    record = json.loads(ready)
    assert record["level"] == "INFO"
    assert record["logger"].startswith("dramatiq.WorkerProcess")
    assert "request_id" in record

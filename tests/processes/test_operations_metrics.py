"""Operations metrics from the Procfile's real processes: `GET /internal/metrics` on the web
process serves every web and worker process of its host (with METRICS_TOKEN, to its bearer
only), a worker host serves the same on WORKER_METRICS_PORT, and a send's request id is on its
delivery lines in the worker's log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from app.composition import Process
from app.config import PROJECT_ROOT
from app.engine.models import Notification
from app.factory import build_app
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template, make_tenant
from tests.support.pipeline import SEND, VARIABLES, people
from tests.support.processes import RunningProcess, free_port, procfile_process, wait_for_log
from tests.support.realtime import poll
from tests.support.sinks import SmtpSink

TOKEN = "metrics-token-" + uuid.uuid4().hex
RECIPIENTS = 6
# A process of the host that was killed (kill -9) with a socket open and some counts: its files
# stay in the metrics directory; nobody told prometheus-client it died.
KILLED_PROCESS = """
import os, signal
from app.observability.metrics import metrics
metrics().websocket_connections.inc()
metrics().reconciler_actions.labels("requeued_chunk").inc(3)
os.kill(os.getpid(), signal.SIGKILL)
"""


@dataclass(frozen=True)
class Host:
    web: RunningProcess
    worker: RunningProcess
    worker_metrics_url: str


@dataclass(frozen=True)
class Delivered:
    notification_id: str
    request_id: str


class Samples(dict[tuple[str, frozenset[tuple[str, str]]], float]):
    """A scrape's samples by name and labels."""

    @classmethod
    def parse(cls, text: str) -> Samples:
        return cls(
            ((sample.name, frozenset(sample.labels.items())), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        )

    def value(self, name: str, **labels: str) -> float | None:
        return self.get((name, frozenset(labels.items())))

    def of(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        return {labels: value for (sample, labels), value in self.items() if sample == name}

    def label_values(self, name: str, label: str) -> set[str]:
        return {dict(labels)[label] for labels in self.of(name)}


@pytest.fixture(scope="module")
def host(postgresql_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    """One host: the web process (two gunicorn workers, METRICS_TOKEN) and the worker (two worker
    processes, serving WORKER_METRICS_PORT), sharing one metrics directory, where a process
    killed earlier left its files. The web finds the directory in METRICS_DIR, the worker in
    PROMETHEUS_MULTIPROC_DIR: either names it."""
    metrics_dir = tmp_path_factory.mktemp("metrics")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_PROCESS],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    log_dir = tmp_path_factory.mktemp("logs")
    port = free_port()
    web_env = {"METRICS_TOKEN": TOKEN, "METRICS_DIR": str(metrics_dir), "WEB_CONCURRENCY": "2"}
    worker_env = {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "WORKER_METRICS_PORT": str(port),
        "WORKER_PROCESSES": "2",
        "CHUNK_SIZE": "2",  # a batch of six is three chunk tasks, in either worker process
    }
    with ExitStack() as stack:
        web, worker = (
            stack.enter_context(
                procfile_process(name, database_url=postgresql_url, log_dir=log_dir, env=env)
            )
            for name, env in (("web", web_env), ("worker", worker_env))
        )
        wait_for_log(worker, r"is ready for action")
        yield Host(web, worker, f"http://127.0.0.1:{port}/metrics")


@pytest.fixture(scope="module")
def tenant(pg_runtime: Runtime, pg_process: Process) -> Tenant:
    tenant = make_tenant(pg_runtime, "metrics")
    approved_template(build_app(pg_process).test_client(), tenant)
    return tenant


@pytest.fixture(scope="module")
def delivered(host: Host, tenant: Tenant, pg_runtime: Runtime, _smtp_server: SmtpSink) -> Delivered:
    """A batch to six people sent through the web process with a request id of its own, read
    back once through it, once the scrape counts every email sent."""
    request_id = f"batch-{uuid.uuid4().hex}"
    send = {
        "template": {"key": "order-confirmation", "variables": VARIABLES},
        "targets": people(RECIPIENTS, prefix="metrics-"),
        "mode": "batch",
    }
    headers = {**tenant.headers(), "X-Request-ID": request_id}
    status, body, _ = call(host.web.base_url + SEND, body=send, headers=headers)
    assert status == 202, body
    notification_id = json.loads(body)["notificationId"]

    poll(lambda: status_of(pg_runtime, notification_id) == "completed", timeout=60)
    url = f"{host.web.base_url}/api/notifications/{notification_id}"
    assert call(url, headers=tenant.headers())[0] == 200
    # Counted as logged: after each outcome commits, a moment after the notification completes.
    poll(lambda: sent_emails(scrape(host.web.base_url)) == RECIPIENTS, timeout=30)
    return Delivered(notification_id, request_id)


def test_importing_herald_leaves_prometheus_client_to_each_entry_point():
    """prometheus-client chooses where values live when it is first imported: a module importing
    it at import time would fix that before an entry point names the host's directory."""
    imports = (
        "import sys, app.composition, app.factory, app.cli, workers.actors, "
        "app.operations_metrics, workers.process_metrics; "
        "print(sorted(m for m in sys.modules if m.startswith('prometheus_client')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", imports], cwd=PROJECT_ROOT, capture_output=True, text=True
    )

    assert (loaded.returncode, loaded.stdout.strip()) == (0, "[]"), loaded.stderr


def test_counts_from_many_threads_of_a_process_all_reach_the_hosts_files(tmp_path: Path):
    threads = """
import sys, threading
from app.observability.metrics import metrics
sys.setswitchinterval(1e-6)  # threads take turns as often as they can: races show
start = threading.Barrier(8)

def count():
    start.wait()
    for _ in range(500):
        metrics().deliveries.labels("email", "sent").inc()

workers = [threading.Thread(target=count) for _ in range(8)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
"""
    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", threads], cwd=PROJECT_ROOT, env=environment, check=True)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))

    labels = {"channel": "email", "outcome": "sent"}
    assert registry.get_sample_value("herald_deliveries_total", labels) == 8 * 500


def test_without_a_metrics_token_the_endpoint_does_not_exist(pg_process: Process):
    client = build_app(pg_process).test_client()

    assert pg_process.runtime.settings.metrics_token == ""
    assert client.get("/internal/metrics", headers={"Authorization": "Bearer x"}).status_code == 404


def test_the_endpoint_answers_only_the_bearer_of_the_metrics_token(host: Host):
    url = host.web.base_url + "/internal/metrics"

    refusals = [
        call(url)[0],
        call(url, headers={"Authorization": "Bearer not-the-token"})[0],
        call(url, headers={"Authorization": f"Basic {TOKEN}"})[0],
        call(url, headers={"Authorization": f"Bearer {TOKEN}x"})[0],
    ]
    status, body, headers = call(url, headers={"Authorization": f"Bearer {TOKEN}"})

    assert refusals == [401, 401, 401, 401]
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE herald_http_requests_total counter" in body


def test_a_batch_is_counted_once_across_the_hosts_web_and_worker_processes(
    host: Host, delivered: Delivered
):
    samples = scrape(host.web.base_url)

    assert samples.value("herald_deliveries_total", channel="email", outcome="sent") == 6
    assert samples.value("herald_deliveries_total", channel="in_app", outcome="sent") == 6
    assert samples.value("herald_deliveries_total", channel="push", outcome="skipped") == 6
    assert samples.value("herald_delivery_time_to_sent_seconds_count", channel="email") == 6
    assert samples.value("herald_delivery_time_to_sent_seconds_count", channel="in_app") == 6
    assert not samples.of("herald_delivery_failures_total")


def test_http_requests_are_counted_by_route_never_by_raw_path(host: Host, delivered: Delivered):
    samples = scrape(host.web.base_url)
    requests = samples.of("herald_http_requests_total")
    routes = samples.label_values("herald_http_requests_total", "route")

    send = {("route", SEND), ("method", "POST"), ("status", "202")}
    assert requests[frozenset(send)] == 1
    assert "/api/notifications/<notification_id>" in routes
    assert not [route for route in routes if delivered.notification_id in route]
    assert (
        samples.value("herald_http_request_duration_seconds_count", route=SEND, method="POST") == 1
    )


def test_the_scrape_reads_every_queue_and_the_retry_backlog(host: Host, delivered: Delivered):
    samples = scrape(host.web.base_url)
    queues = samples.label_values("herald_queue_messages", "queue")
    ages = samples.label_values("herald_queue_oldest_message_age_seconds", "queue")

    # The queues docs/operations.md names, each one read.
    assert queues == {"default", "pipeline", "realtime", "email_turns", "webhooks", "imports"}
    assert ages == queues
    assert samples.value("herald_deliveries_retrying") == 0


def test_a_process_killed_without_a_word_leaves_its_counts_but_not_its_open_sockets(
    host: Host, delivered: Delivered
):
    samples = scrape(host.web.base_url)

    assert samples.value("herald_websocket_connections") == 0
    assert samples.value("herald_reconciler_actions_total", action="requeued_chunk") == 3


def test_a_worker_host_serves_the_same_metrics_on_its_worker_metrics_port(
    host: Host, delivered: Delivered
):
    status, body, _ = call(host.worker_metrics_url)
    from_worker = Samples.parse(body.decode())
    from_web = scrape(host.web.base_url)

    assert status == 200
    assert from_worker.of("herald_deliveries_total") == from_web.of("herald_deliveries_total")
    assert from_worker.value("herald_deliveries_total", channel="email", outcome="sent") == 6


def test_each_delivery_line_of_the_send_in_the_worker_log_carries_its_request_id(
    host: Host, delivered: Delivered
):
    def lines() -> list[dict[str, Any]]:
        return [
            record
            for record in map(_json_or_none, host.worker.log().splitlines())
            if record
            and record.get("logger") == "herald.delivery"
            and record.get("notification_id") == delivered.notification_id
        ]

    # Each recipient: in-app sent and push skipped at fan-out, then the email sent.
    logged = poll(lambda: len(lines()) >= 3 * RECIPIENTS and lines(), timeout=30)

    assert {record["request_id"] for record in logged} == {delivered.request_id}


def call(
    url: str, *, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, Message]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as refusal:
        return refusal.code, refusal.read(), refusal.headers


def scrape(base_url: str) -> Samples:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    status, body, _ = call(base_url + "/internal/metrics", headers=headers)
    assert status == 200, body
    return Samples.parse(body.decode())


def status_of(runtime: Runtime, notification_id: str) -> str | None:
    with runtime.database.transaction() as session:
        return session.scalar(select(Notification.status).where(Notification.id == notification_id))


def sent_emails(samples: Samples) -> float | None:
    return samples.value("herald_deliveries_total", channel="email", outcome="sent")


def _json_or_none(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None

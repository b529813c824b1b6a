"""A Herald installation under test: the Procfile's web and worker processes on PostgreSQL, a
Redis server the test starts, kills and restarts, and sinks counting every delivery.

What a fault test checks, at the sinks and in the ledger, lives here too (`Outcome`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis

from app.runtime import Runtime
from tests.support import services
from tests.support.cleanup import wipe
from tests.support.factories import ORDER_CHANNELS, ORDER_SCHEMA, Tenant, make_tenant
from tests.support.pipeline import subscribe
from tests.support.processes import RunningProcess, free_port, procfile_process
from tests.support.realtime import poll, runtime_for
from tests.support.sinks import FakeBrowser, PushService, SmtpSink

SEND = "/api/notifications/send"
VARIABLES = {"customerName": "Jane", "orderId": "ORD-7"}
# Small enough for CI, large enough that every fault lands mid-batch: the sinks take a few
# milliseconds per delivery, so a batch takes seconds with the workers' 8 threads.
SETTINGS = {
    "RECONCILE_INTERVAL_S": "1",
    "RECONCILE_STALE_AFTER_S": "3",
    "RETRY_SCHEDULE": "300ms,300ms,300ms,300ms",
    "CHUNK_SIZE": "40",
    "WORKER_PROCESSES": "2",
    "WORKER_THREADS": "4",
    "WEB_CONCURRENCY": "1",
    "WEBPUSH_ALLOW_PRIVATE": "true",
    "PUSH_TIMEOUT_S": "5",
}


class ControlledRedis:
    """A redis-server of the test's own on a free port, keeping nothing on disk: a restart
    comes back empty, as a Redis without persistence (or a new replica) does."""

    def __init__(self, workdir: Path) -> None:
        self.binary = services.redis_server_binary()
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ControlledRedis:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        poll(lambda: _answers(client), timeout=10, interval=0.05)
        return self

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)

    def restart_empty(self) -> None:
        self.kill()
        self.start()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@dataclass
class Cluster:
    """The processes and what surrounds them; `worker` is replaced after a kill."""

    database_url: str
    redis: ControlledRedis
    smtp: SmtpSink
    push: PushService
    log_dir: Path
    runtime: Runtime
    web: RunningProcess | None = None
    worker: RunningProcess | None = None
    # A test's own settings, over the suite's.
    overrides: dict[str, str] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)

    @property
    def env(self) -> dict[str, str]:
        return {
            **SETTINGS,
            **self.overrides,
            "REDIS_URL": self.redis.url,
            "SMTP_URL": self.smtp.url,
        }

    def start_web(self) -> RunningProcess:
        self.web = self._stack.enter_context(self._process("web"))
        return self.web

    def start_worker(self) -> RunningProcess:
        self.worker = self._stack.enter_context(self._process("worker"))
        return self.worker

    def _process(self, name: str) -> Any:
        return procfile_process(
            name, database_url=self.database_url, log_dir=self.log_dir, env=self.env
        )

    def close(self) -> None:
        self._stack.close()

    def print_logs(self, tail: int = 4000) -> None:
        for path in sorted(self.log_dir.glob("*.log")):
            print(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")

    def api(self, method: str, path: str, tenant: Tenant, body: Any = None, **headers: str):
        """A server call; (status, parsed JSON body)."""
        answer = self.request(method, path, tenant, body, **headers)
        return answer.status, answer.body

    def request(
        self, method: str, path: str, tenant: Tenant, body: Any = None, **headers: str
    ) -> Answer:
        assert self.web is not None
        sent = urllib.request.Request(
            self.web.base_url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={**tenant.headers(), **headers, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(sent, timeout=30) as response:
                raw, status, received = response.read(), response.status, response.headers
        except urllib.error.HTTPError as exc:
            raw, status, received = exc.read(), exc.code, exc.headers
            exc.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:  # not the error envelope: kept as text for the assertion message
            parsed = raw.decode(errors="replace")
        return Answer(status, parsed, dict(received.items()))


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


@contextmanager
def running_cluster(
    database_url: str,
    smtp: SmtpSink,
    push: PushService,
    workdir: Path,
    overrides: dict[str, str] | None = None,
) -> Iterator[Cluster]:
    controlled = ControlledRedis(workdir).start()
    runtime = runtime_for(database_url)
    cluster = Cluster(
        database_url, controlled, smtp, push, workdir, runtime, overrides=dict(overrides or {})
    )
    try:
        cluster.start_web()
        cluster.start_worker()
        yield cluster
    finally:
        cluster.close()
        # The apps and batches the test made: the next test on the database starts clean.
        wipe(runtime)
        runtime.close()
        controlled.kill()


@dataclass
class Audience:
    """A tenant's recipients, each with an email address and a browser subscribed to push."""

    tenant: Tenant
    browsers: dict[str, FakeBrowser]

    @property
    def external_ids(self) -> list[str]:
        return list(self.browsers)

    def email(self, external_id: str) -> str:
        return f"{external_id}@faults.example.com"

    def targets(self, external_ids: list[str] | None = None) -> list[dict[str, str]]:
        return [
            {"external_id": e, "email": self.email(e)} for e in (external_ids or self.external_ids)
        ]


def audience(cluster: Cluster, name: str, size: int) -> Audience:
    """A new app with an approved order template and `size` users subscribed to push."""
    tenant = make_tenant(
        cluster.runtime,
        name,
        rate_limit_read_per_minute=100_000,
        rate_limit_write_per_minute=100_000,
    )
    template = {
        "key": "order",
        "name": "Order",
        "channels": ORDER_CHANNELS,
        "variableSchema": ORDER_SCHEMA,
    }
    status, body = cluster.api("POST", "/api/templates", tenant, template)
    assert status == 201, body
    for action in ("submit", "approve"):
        status, body = cluster.api("POST", f"/api/templates/order/{action}", tenant, {})
        assert status == 200, body
    browsers = {
        f"{name}-{index}": subscribe(cluster.runtime, tenant, cluster.push, f"{name}-{index}")
        for index in range(size)
    }
    return Audience(tenant, browsers)


def send_batch(
    cluster: Cluster, audience: Audience, external_ids: list[str] | None = None, **headers: str
) -> tuple[int, Any]:
    body = {
        "template": {"key": "order", "variables": VARIABLES},
        "targets": audience.targets(external_ids),
        "mode": "batch",
    }
    return cluster.api("POST", SEND, audience.tenant, body, **headers)


@dataclass(frozen=True)
class Received:
    emails: Counter[str]
    pushes: Counter[str]

    def total(self) -> int:
        return sum(self.emails.values()) + sum(self.pushes.values())


def received(cluster: Cluster, audience: Audience) -> Received:
    addresses = {audience.email(e): e for e in audience.browsers}
    emails = Counter(addresses[r] for r in cluster.smtp.recipients() if r in addresses)
    pushes = Counter({e: len(b.received) for e, b in audience.browsers.items() if b.received})
    return Received(emails, pushes)


def wait_for_share_sent(cluster: Cluster, audience: Audience, share: float) -> None:
    """Until the sinks have received `share` of the audience's deliveries (both channels)."""
    total = 2 * len(audience.browsers)
    poll(lambda: received(cluster, audience).total() >= share * total, timeout=60, interval=0.02)


# Each fault test's batch: large enough that the fault lands while it is being sent.
RECIPIENTS = 150


def batch_under_way(cluster: Cluster, name: str, share: float = 0.3) -> tuple[Audience, str]:
    """A batch to a new audience, accepted and `share` delivered; (audience, notification id)."""
    recipients = audience(cluster, name, RECIPIENTS)
    status, sent = send_batch(cluster, recipients)
    assert status == 202, sent
    wait_for_share_sent(cluster, recipients, share)
    return recipients, sent["notificationId"]


def terminate_backends(database_url: str) -> int:
    """Terminate every other connection to the database, as an administrator or a failover does."""
    libpq = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)

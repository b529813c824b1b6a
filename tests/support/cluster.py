"""A Herald installation under test: the Procfile's web and worker processes on PostgreSQL, a
Redis server the test starts, kills and restarts, and sinks counting every delivery.

What a fault test checks, at the sinks and in the ledger, lives here too (`Outcome`).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
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
from sqlalchemy import func, select

from app.engine.models import Delivery, Notification
from app.push.service import register_subscription
from app.runtime import Runtime
from app.users.service import find_or_create_user
from tests.support.cleanup import wipe
from tests.support.factories import ORDER_CHANNELS, ORDER_SCHEMA, Tenant, make_tenant
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
    "RETRY_BACKOFF_MS": "300",
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
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed; the fault tests start their own Redis with it. "
                "Install it (Debian: apt-get install redis-server)."
            )
        self.binary = binary
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
    _stack: ExitStack = field(default_factory=ExitStack)

    @property
    def env(self) -> dict[str, str]:
        return {**SETTINGS, "REDIS_URL": self.redis.url, "SMTP_URL": self.smtp.url}

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
    database_url: str, smtp: SmtpSink, push: PushService, workdir: Path
) -> Iterator[Cluster]:
    controlled = ControlledRedis(workdir).start()
    runtime = runtime_for(database_url)
    cluster = Cluster(database_url, controlled, smtp, push, workdir, runtime)
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
    browsers = {f"{name}-{index}": cluster.push.new_browser() for index in range(size)}
    _subscribe(cluster.runtime, tenant, browsers)
    return Audience(tenant, browsers)


def _subscribe(runtime: Runtime, tenant: Tenant, browsers: dict[str, FakeBrowser]) -> None:
    """Register each user's browser. Through the service: the API admits only https endpoints,
    and the sink is a plain-http push service on loopback (WEBPUSH_ALLOW_PRIVATE)."""
    with runtime.database.transaction() as session:
        for external_id, browser in browsers.items():
            user = find_or_create_user(
                session=session, app_id=tenant.app_id, external_id=external_id
            )
            register_subscription(
                session=session,
                app_id=tenant.app_id,
                user_id=user.id,
                platform="web",
                device_token=browser.endpoint,
                destinations=runtime.push_http.guard,
                p256dh=browser.p256dh,
                auth=browser.auth,
            )


def send_batch(
    cluster: Cluster, audience: Audience, external_ids: list[str] | None = None, **headers: str
) -> tuple[int, Any]:
    body = {
        "template": {"key": "order", "variables": VARIABLES},
        "targets": audience.targets(external_ids),
        "mode": "batch",
    }
    return cluster.api("POST", SEND, audience.tenant, body, **headers)


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


def sending_now(cluster: Cluster, notification_ids: list[str]) -> int:
    """Deliveries the ledger shows in flight: at a kill -9, the ones that may go twice."""
    with cluster.runtime.database.transaction() as session:
        return session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.notification_id.in_(notification_ids), Delivery.status == "sending")
        )


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


def wait_until_completed(
    cluster: Cluster, tenant: Tenant, notification_ids: list[str], timeout: float = 90
) -> dict[str, dict[str, Any]]:
    """Until the API reports every notification completed (with errors or not) and the stored
    status says the same."""

    def views() -> dict[str, dict[str, Any]] | None:
        found = {}
        for notification_id in notification_ids:
            status, view = cluster.api("GET", f"/api/notifications/{notification_id}", tenant)
            if status != 200 or view["status"] not in ("completed", "completed_with_errors"):
                return None
            found[notification_id] = view
        stored = stored_statuses(cluster, notification_ids)
        return found if all(stored[i] == found[i]["status"] for i in found) else None

    return poll(views, timeout=timeout, interval=0.25)


def stored_statuses(cluster: Cluster, notification_ids: list[str]) -> dict[str, str]:
    """What `notifications.status` holds, which listing, filtering and metrics read."""
    with cluster.runtime.database.transaction() as session:
        rows = session.execute(
            select(Notification.id, Notification.status).where(
                Notification.id.in_(notification_ids)
            )
        )
        return {notification_id: status for notification_id, status in rows}


def ledger(cluster: Cluster, notification_ids: list[str]) -> Counter[tuple[str, str]]:
    """(channel, status) -> deliveries, over these notifications."""
    with cluster.runtime.database.transaction() as session:
        rows = session.execute(
            select(Delivery.channel, Delivery.status, func.count())
            .where(Delivery.notification_id.in_(notification_ids))
            .group_by(Delivery.channel, Delivery.status)
        )
        return Counter({(channel, status): count for channel, status, count in rows})


@dataclass(frozen=True)
class Outcome:
    """What the sinks, the ledger and the API say once a faulted run is over."""

    expected: int
    lost: int
    doubled: int
    ledger: Counter[tuple[str, str]]
    progress_sent: dict[str, int]


def outcome(
    cluster: Cluster,
    audience: Audience,
    views: dict[str, dict[str, Any]],
    sends_per_recipient: int = 1,
) -> Outcome:
    """Every recipient should have one email and one push per notification sent to them."""
    got = received(cluster, audience)
    expected_each = sends_per_recipient
    lost = doubled = 0
    for external_id in audience.browsers:
        for counts in (got.emails, got.pushes):
            n = counts[external_id]
            lost += max(expected_each - n, 0)
            doubled += max(n - expected_each, 0)
    progress_sent = {
        channel: sum(view["progress"][channel]["sent"] for view in views.values())
        for channel in ("email", "push", "in_app")
    }
    return Outcome(
        expected=2 * len(audience.browsers) * expected_each,
        lost=lost,
        doubled=doubled,
        ledger=ledger(cluster, list(views)),
        progress_sent=progress_sent,
    )


def assert_consistent(result: Outcome, audience: Audience, notifications: int = 1) -> None:
    """The ledger, the API's progress and the sinks agree: everything sent, once."""
    recipients = len(audience.browsers) * notifications
    assert result.lost == 0, result
    sent = {channel: result.ledger[(channel, "sent")] for channel in ("email", "push", "in_app")}
    assert sent == {"email": recipients, "push": recipients, "in_app": recipients}, result
    assert result.progress_sent == sent, result
    assert sum(result.ledger.values()) == 3 * recipients, result


def report(fault: str, injected: int, result: Outcome) -> None:
    """One line per faulted run (shown with `pytest -s`), the figures docs/operations.md quotes."""
    print(
        f"\nfault report | {fault} | faults injected: {injected} | deliveries checked at the "
        f"sinks: {result.expected} | lost: {result.lost} | doubled: {result.doubled}"
    )


def terminate_backends(database_url: str) -> int:
    """Terminate every other connection to the database, as an administrator or a failover does."""
    libpq = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def elapsed_since(start: float) -> float:
    return time.monotonic() - start

"""Batch benchmark: one 10,000-target send (email + web push + in-app) through the Procfile.

Run by hand (never in the test suite):

    .venv/bin/python -m bench.batch [--targets 10000] [--sqlite]
    .venv/bin/python -m bench.batch --throttle 200      # SMTP_MAX_PER_SECOND=200
    .venv/bin/python -m bench.batch --apps 2            # a second app's batch 2 s later
    .venv/bin/python -m bench.batch --metrics           # operations metrics on (METRICS_TOKEN)

It creates a private PostgreSQL database (or SQLite file) and Redis prefix, starts the SMTP and
push sinks in this process, the Procfile's `web` and `worker` processes, sends one batch through
the API and prints: API accept time, time to the last delivery, deliveries per second, peak
worker memory, and the same sends done by a plain script with the same processes and threads,
as a ratio. With `--throttle N` the workers run with SMTP_MAX_PER_SECOND=N and the SMTP sink
refuses (451) any message beyond `--sink-per-second` (default 1.25 N) in a second, counting
its refusals; the plain script is skipped. With `--apps 2` a second app, with as many recipients
of its own, sends the same batch 2 s after the first: it prints the time from its acceptance to
its first delivery, and each batch's time to its last delivery.

`machine_probe_us` (`plain_machine_probe_us` for the plain script) is how long a fixed piece of
work took during the run (bench/machine_speed.py): compare runs whose probes agree. With
`--metrics` every process counts its work for GET /internal/metrics, as in production, and
`metrics_sent_counted` is what they counted as sent.
"""

from __future__ import annotations

import argparse
import json
import os
import smtplib
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["REDIS_PREFIX"] = f"herald-bench-{uuid.uuid4().hex[:8]}:"
os.environ.setdefault("SECRET_KEY", "bench-secret-key")
os.environ["LOG_LEVEL"] = "WARNING"
# The push sink listens on loopback, where user-supplied endpoints may not otherwise lead.
os.environ["WEBPUSH_ALLOW_PRIVATE"] = "true"

from sqlalchemy import insert

from app.config import Settings
from app.migrate import upgrade
from app.orm import new_id, utcnow
from app.push.models import PushSubscription
from app.runtime import Runtime
from app.security import hash_secret
from app.users.models import User
from bench import common, webhook
from bench.common import (
    WORKER_PROCESSES,
    WORKER_THREADS,
    group_cpu_s,
    group_rss_kib,
    private_database,
    procfile_parser,
)
from bench.machine_speed import SpeedProbe
from tests.support.factories import ORDER_CHANNELS, ORDER_SCHEMA, Tenant, make_tenant
from tests.support.processes import free_port, procfile_process, wait_for_log
from tests.support.sinks import PushService, SmtpSink


def main() -> None:
    parser = procfile_parser(__doc__.splitlines()[0])
    parser.add_argument("--throttle", type=int, default=0, help="SMTP_MAX_PER_SECOND")
    parser.add_argument("--sink-per-second", type=int, default=0, help="the SMTP sink's quota")
    parser.add_argument("--apps", type=int, choices=(1, 2), default=1, help="apps sending")
    parser.add_argument("--webhook", action="store_true", help="an endpoint for every event")
    args = parser.parse_args()
    globals()["WORKER_THREADS"] = args.threads
    globals()["WORKER_PROCESSES"] = args.processes
    smtp = SmtpSink(port=free_port()).start()
    push = PushService().start()
    quota = args.sink_per_second or (args.throttle * 5 // 4)
    if quota:
        smtp.limit_rate(quota)
    os.environ["SMTP_URL"] = smtp.url
    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-"))
    with private_database(workdir, sqlite=args.sqlite) as database_url:
        try:
            run(args, database_url, workdir, smtp, push)
        finally:
            smtp.stop()
            push.stop()


def run(
    args: argparse.Namespace, database_url: str, workdir: Path, smtp: SmtpSink, push: PushService
) -> None:
    count = args.targets
    upgrade(database_url)
    runtime = Runtime.from_settings(Settings.from_env(database_url=database_url))
    apps = [_app(runtime, push, count, name) for name in ("bench", "second")[: args.apps]]
    env = {"WORKER_PROCESSES": str(WORKER_PROCESSES), "WORKER_THREADS": str(WORKER_THREADS)}
    env.update(common.metrics_environment(workdir, enabled=args.metrics))
    if args.throttle:
        env["SMTP_MAX_PER_SECOND"] = str(args.throttle)
    with (
        procfile_process("web", database_url=database_url, log_dir=workdir, env=env) as web,
        procfile_process("worker", database_url=database_url, log_dir=workdir, env=env) as worker,
        webhook.receiving(runtime, apps[0], smtp, push, enabled=args.webhook),
        SpeedProbe() as herald_probe,
    ):
        wait_for_log(worker, r"is ready for action|Worker process is ready", timeout=120)
        for app in apps:
            _approve_template(web.base_url, app.tenant.headers())
        cpu_before = group_cpu_s(worker.process.pid)
        for position, app in enumerate(apps):
            if position:  # the next app's batch, 2 s after the first was accepted
                time.sleep(max(0.0, apps[0].started + 2.0 - time.monotonic()))
            _send(web.base_url, app, count)
        peak = 0
        for app in apps:
            peak = max(peak, _wait_for_completion(web.base_url, app, worker.process.pid))
        worker_cpu = group_cpu_s(worker.process.pid) - cpu_before
        counted = common.sent_counted(web.base_url) if args.metrics else None
    first = apps[0]
    last = max(smtp.last_received_at, push.last_received_at)
    herald_seconds = last - first.started
    sends = smtp.count() + push.total_received()
    print(f"herald: {sends} deliveries in {herald_seconds:.1f} s", flush=True)
    figures = {
        "targets": count,
        "database": database_url.split(":")[0],
        "api_accept_ms": round(first.accepted_s * 1000, 1),
        "time_to_last_delivery_s": round(herald_seconds, 2),
        "deliveries": sends,
        "deliveries_per_s": round(sends / herald_seconds, 1),
        "peak_worker_rss_mb": round(peak / 1024, 1),
        "worker_cpu_ms_per_delivery": round(worker_cpu * 1000 / sends, 2),
        "machine_probe_us": herald_probe.median_us,
        "metrics_sent_counted": counted,  # None: --metrics not given, metrics off
    }
    if args.throttle or args.sink_per_second:
        figures.update(_email_pace(smtp, first.started, args.throttle))
    if len(apps) > 1:
        figures.update(_shares(smtp, apps))
    elif not args.throttle:
        content = _sent_content(smtp, first.browsers)
        with SpeedProbe() as plain_probe:
            plain_seconds = _plain_baseline(
                smtp.url, first.browsers, runtime, first.app_id, content
            )
        figures["plain_script_s"] = round(plain_seconds, 2)
        figures["plain_machine_probe_us"] = plain_probe.median_us
        figures["herald_speed_vs_plain"] = round(plain_seconds / herald_seconds, 2)
    runtime.close()
    print(json.dumps(figures, indent=2))


@dataclass
class BenchApp:
    """One app sending a batch: its credentials, recipients' browsers and email domain."""

    tenant: Tenant
    browsers: list
    domain: str
    started: float = 0.0
    accepted_s: float = 0.0
    notification_id: str = ""

    @property
    def app_id(self) -> str:
        return self.tenant.app_id


def _app(runtime: Runtime, push: PushService, count: int, name: str) -> BenchApp:
    tenant = make_tenant(
        runtime, name, rate_limit_read_per_minute=100_000, rate_limit_write_per_minute=100_000
    )
    browsers = [push.new_browser() for _ in range(count)]
    domain = "example.com" if name == "bench" else f"{name}.example.com"
    _create_recipients(runtime, tenant.app_id, browsers, domain)
    return BenchApp(tenant, browsers, domain)


def _send(base: str, app: BenchApp, count: int) -> None:
    request = {
        "template": {
            "key": "order-confirmation",
            "variables": {"customerName": "Jane", "orderId": "B-1"},
        },
        "targets": [f"user-{i}" for i in range(count)],
        "mode": "batch",
    }
    app.started = time.monotonic()
    answer = _post(base + "/api/notifications/send", request, app.tenant.headers())
    app.accepted_s = time.monotonic() - app.started
    app.notification_id = answer["notificationId"]


def _email_pace(smtp: SmtpSink, started: float, throttle: int) -> dict[str, float | int]:
    """When the last email arrived, the most emails the sink took in any one second, and the
    messages it refused for coming too fast."""
    times = [t for _, t in smtp.arrivals()]
    peak, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        peak = max(peak, last - first + 1)
    if os.environ.get("BENCH_TRACE"):
        seconds = [int(t - started) for t in times]
        print("emails per second:", [seconds.count(i) for i in range(max(seconds) + 1)])
    return {
        "smtp_max_per_second": throttle,
        "time_to_last_email_s": round(max(times) - started, 2),
        "emails_per_s": round(len(times) / (max(times) - started), 1),
        "most_emails_in_one_second": peak,
        "sink_refusals": smtp.refusals,
    }


def _shares(smtp: SmtpSink, apps: list[BenchApp]) -> dict[str, float]:
    """Each batch's first and last delivery (email or push), from its own acceptance."""
    figures = {}
    for position, app in enumerate(apps, start=1):
        times = [t for r, t in smtp.arrivals() if r.endswith("@" + app.domain)]
        times += [t for b in app.browsers for t in b.received_at]
        figures[f"batch_{position}_first_delivery_s"] = round(min(times) - app.started, 2)
        figures[f"batch_{position}_last_delivery_s"] = round(max(times) - app.started, 2)
    return figures


def _create_recipients(runtime: Runtime, app_id: str, browsers: list, domain: str) -> None:
    now = utcnow()
    users, subscriptions = [], []
    for i, browser in enumerate(browsers):
        user_id = new_id()
        users.append(
            {
                "id": user_id,
                "app_id": app_id,
                "external_id": f"user-{i}",
                "email": f"user-{i}@{domain}",
                "custom_attributes": {},
                "phone_numbers": [],
                "created_at": now,
                "updated_at": now,
            }
        )
        subscriptions.append(
            {
                "id": new_id(),
                "app_id": app_id,
                "user_id": user_id,
                "platform": "web",
                "device_token": browser.endpoint,
                "token_hash": hash_secret(browser.endpoint),
                "p256dh": browser.p256dh,
                "auth": browser.auth,
                "created_at": now,
                "updated_at": now,
            }
        )
    with runtime.database.transaction() as session:
        session.execute(insert(User), users)
        session.execute(insert(PushSubscription), subscriptions)


def _approve_template(base: str, headers: dict[str, str]) -> None:
    body = {
        "key": "order-confirmation",
        "name": "Order",
        "channels": ORDER_CHANNELS,
        "variableSchema": ORDER_SCHEMA,
    }
    _post(base + "/api/templates", body, headers)
    for action in ("submit", "approve"):
        _post(f"{base}/api/templates/order-confirmation/{action}", {}, headers)


def _post(url: str, body: dict, headers: dict[str, str]) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={**headers, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _wait_for_completion(base: str, app: BenchApp, worker_pid: int) -> int:
    """Poll progress until complete; returns the worker process group's peak RSS in KiB."""
    peak = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        peak = max(peak, group_rss_kib(worker_pid))
        request = urllib.request.Request(
            f"{base}/api/notifications/{app.notification_id}", headers=app.tenant.headers()
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
        status, progress = body["status"], body["progress"]
        if status.startswith("completed"):
            return peak
        if os.environ.get("BENCH_TRACE"):
            counts = {c: (p["queued"], p["sent"]) for c, p in progress.items()}
            print(round(time.monotonic() % 1000, 2), status, counts, flush=True)
        time.sleep(1.0)  # the polling rate: "cheap to poll every second"
    raise TimeoutError("batch did not complete in 10 minutes")


def _sent_content(smtp: SmtpSink, browsers: list) -> tuple[str, str, str, str, dict]:
    """What Herald sent (sender, subject, text, HTML, push payload), for the plain script."""
    _, message = smtp.messages[0]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    push_payload = next(b.received[0] for b in browsers if b.received)
    return str(message["From"]), str(message["Subject"]), text, html, push_payload


def _plain_baseline(
    smtp_url: str, browsers: list, runtime: Runtime, app_id: str, content: tuple
) -> float:
    """The same sends straight to the sinks: the same processes and threads, the same content
    (a multipart text + HTML email and the same push payload), no queue, no database."""
    from app.tenants.models import App
    from app.tenants.service import vapid_private_key

    with runtime.database.transaction() as session:
        private_key = vapid_private_key(app=session.get(App, app_id), encryptor=runtime.encryptor)
    port = int(smtp_url.rsplit(":", 1)[1])
    jobs = [
        (port, i, b.endpoint, b.p256dh, b.auth, private_key, content)
        for i, b in enumerate(browsers)
    ]
    shares = [jobs[i::WORKER_PROCESSES] for i in range(WORKER_PROCESSES)]
    started = time.monotonic()
    with Pool(WORKER_PROCESSES) as pool:
        pool.map(_plain_share, shares)
    return time.monotonic() - started


_local = threading.local()


def _plain_share(jobs: list) -> None:
    with ThreadPoolExecutor(WORKER_THREADS) as pool:
        list(pool.map(_plain_send, jobs))


def _plain_send(job: tuple) -> None:
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText
    from email.utils import make_msgid

    from pywebpush import webpush

    port, i, endpoint, p256dh, auth, private_key, content = job
    sender, subject, text, html, push_payload = content
    if getattr(_local, "smtp", None) is None:
        _local.smtp = smtplib.SMTP("127.0.0.1", port)
    message = MIMEMultipart("alternative")
    message["From"], message["To"], message["Subject"] = sender, f"user-{i}@example.com", subject
    message["Message-ID"] = make_msgid(domain="example.com")
    message.attach(MIMEText(text, "plain", "utf-8"))
    message.attach(MIMEText(html, "html", "utf-8"))
    _local.smtp.send_message(message)
    webpush(
        {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
        data=json.dumps(push_payload, separators=(",", ":")),
        vapid_private_key=private_key,
        vapid_claims={"sub": "mailto:bench@example.com"},
    )


if __name__ == "__main__":
    main()

"""Mobile push benchmark: one batch to users with an iPhone and an Android phone each, through
the Procfile, to fakes of FCM HTTP v1 and APNs.

Run by hand (never in the test suite):

    .venv/bin/python -m bench.mobile [--targets 10000] [--sqlite] [--processes N] [--threads N]

It starts FakeGoogle (OAuth2 token endpoint + FCM) and FakeApns (HTTP/2, TLS from a trustme CA
written to a file) in this process, and the Procfile's `web` and `worker` processes pointed at
them with a private database and Redis prefix. It configures one app's FCM service account and
APNs key through the API, inserts the users with an iOS and an Android subscription each, sends
one batch of a push-only template through the API and waits until it is completed and the fakes
have the 2 x targets messages. It prints accept time, time to the last delivery, messages/s,
worker CPU per message, APNs connections, provider and access tokens, devices missed or reached
twice, the worker log's warnings; then the same for a plain script sending the same messages with
the same clients (MobilePush.from_settings) from the same processes x threads without API,
database or queue, and plain time / Herald time.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import trustme
from sqlalchemy import insert

from app.config import Settings
from app.engine.channels.destinations import DestinationGuard
from app.engine.channels.guarded_http import GuardedHttp
from app.engine.channels.mobile import MobileMessage
from app.engine.push_dispatch import MobilePush
from app.migrate import upgrade
from app.orm import new_id, utcnow
from app.push.models import PushSubscription
from app.push.providers import ApnsCredentials
from app.push.service import token_hash
from app.runtime import Runtime, web_push_policy
from app.users.models import User
from bench import common
from bench.batch import (
    BenchApp,
    _post,
    _send,
    _wait_for_completion,
)
from bench.common import group_cpu_s, private_database, procfile_parser
from tests.support.factories import ORDER_CHANNELS, ORDER_SCHEMA, make_tenant
from tests.support.fake_apns import ApnsRequest, FakeApns
from tests.support.fake_google import FakeGoogle
from tests.support.mobile_push_keys import (
    ApnsKey,
    new_apns_device_token,
    new_apns_key,
    new_service_account,
)
from tests.support.processes import procfile_process, wait_for_log

BUNDLE = "com.example.shop"
PROVIDERS = "/api/apps/current/push_providers"


@dataclass(frozen=True)
class Device:
    """A user's two phones: an iPhone's APNs token and an Android phone's FCM token."""

    ios: str
    android: str


def main() -> None:
    args = procfile_parser(__doc__.splitlines()[0]).parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="herald-bench-mobile-"))
    ca = trustme.CA()
    ca_file = workdir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    google, apns = FakeGoogle(), FakeApns(ca)
    with private_database(workdir, sqlite=args.sqlite) as database_url:
        try:
            settings = Settings.from_env(
                database_url=database_url,
                fcm_base_url=google.url,
                apns_base_url=apns.url,
                push_providers_ca_file=str(ca_file),
                webpush_allow_private=True,  # the service account's token endpoint: loopback http
            )
            run(args, settings, workdir, google, apns)
        finally:
            google.close()
            apns.close()


def run(
    args: argparse.Namespace, settings: Settings, workdir: Path, google: FakeGoogle, apns: FakeApns
) -> None:
    count = args.targets
    load_before = os.getloadavg()
    upgrade(settings.database_url)
    runtime = Runtime.from_settings(settings)
    tenant = make_tenant(
        runtime, "bench", rate_limit_read_per_minute=100_000, rate_limit_write_per_minute=100_000
    )
    app = BenchApp(tenant, [], "example.com")
    devices = [Device(new_apns_device_token(), _fcm_token()) for _ in range(count)]
    _create_recipients(runtime, tenant.app_id, devices)
    env = {
        "WORKER_PROCESSES": str(args.processes),
        "WORKER_THREADS": str(args.threads),
        "FCM_BASE_URL": settings.fcm_base_url,
        "APNS_BASE_URL": settings.apns_base_url,
        "PUSH_PROVIDERS_CA_FILE": settings.push_providers_ca_file,
        "WEBPUSH_ALLOW_PRIVATE": "true",
        **common.metrics_environment(workdir, enabled=args.metrics),
    }
    url = settings.database_url
    with (
        procfile_process("web", database_url=url, log_dir=workdir, env=env) as web,
        procfile_process("worker", database_url=url, log_dir=workdir, env=env) as worker,
    ):
        wait_for_log(worker, r"is ready for action|Worker process is ready", timeout=120)
        account, key = _configure_providers(web.base_url, tenant.headers(), google, apns)
        _approve_push_template(web.base_url, tenant.headers())
        start = Mark.of(google, apns)
        arrivals = Arrivals(google, apns, 2 * count).start()
        cpu_before = group_cpu_s(worker.process.pid)
        _send(web.base_url, app, count)
        peak = _wait_for_completion(web.base_url, app, worker.process.pid)
        arrivals.wait(timeout=30)
        worker_cpu = group_cpu_s(worker.process.pid) - cpu_before
        arrivals.stop()
        final = _request("GET", f"{web.base_url}/api/notifications/{app.notification_id}", app)
        worker_log = worker.log()
        counted = common.sent_counted(web.base_url) if args.metrics else None
    herald_seconds = arrivals.last_at - app.started
    herald = _tally(google, apns, start, devices)
    print(f"herald: {herald['messages']} push messages in {herald_seconds:.1f} s", flush=True)
    figures: dict[str, Any] = {
        "targets": count,
        "database": settings.database_url.split(":")[0],
        "worker_processes_x_threads": f"{args.processes} x {args.threads}",
        "api_accept_ms": round(app.accepted_s * 1000, 1),
        "time_to_last_delivery_s": round(herald_seconds, 2),
        "time_to_99_percent_s": round(arrivals.almost_at - app.started, 2),
        "messages_per_s": round(herald["messages"] / herald_seconds, 1),
        "worker_cpu_ms_per_message": round(worker_cpu * 1000 / max(herald["messages"], 1), 2),
        "peak_worker_rss_mb": round(peak / 1024, 1),
        "metrics_sent_counted": counted,  # None: --metrics not given, metrics off
        **herald,
        "notification_status": final["status"],
        "push_progress": final["progress"].get("push"),
        **_log_problems(worker_log),
    }
    message = _sent_message(apns.requests[start.apns :], settings.mobile_push_ttl_s)
    before_plain = Mark.of(google, apns)
    credentials = ApnsCredentials(key.key_id, key.team_id, key.p8, BUNDLE, "production")
    shares = [
        (settings, account, credentials, message, devices[i :: args.processes], args.threads)
        for i in range(args.processes)
    ]
    started = time.monotonic()
    with Pool(args.processes) as pool:
        errors = sum(pool.starmap(_plain_share, shares), Counter[str]())
    plain_seconds = time.monotonic() - started
    plain = _tally(google, apns, before_plain, devices)
    figures["plain_script_s"] = round(plain_seconds, 2)
    figures.update({f"plain_{name}": value for name, value in plain.items()})
    figures["plain_send_errors"] = dict(errors)
    figures["herald_speed_vs_plain"] = round(plain_seconds / herald_seconds, 2)
    figures["fake_apns_errors"] = len(apns.errors)
    figures["load_average_before"] = [round(x, 2) for x in load_before]
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    runtime.close()
    print(json.dumps(figures, indent=2))


@dataclass(frozen=True)
class Mark:
    """How far the fakes had got: messages, APNs requests, connections and tokens."""

    fcm: int
    apns: int
    connections: int
    provider_tokens: int
    access_tokens: int

    @classmethod
    def of(cls, google: FakeGoogle, apns: FakeApns) -> Mark:
        return cls(
            len(google.messages),
            len(apns.requests),
            apns.connections_opened,
            len(apns.provider_tokens_seen),
            google.tokens_issued,
        )


def _tally(
    google: FakeGoogle, apns: FakeApns, since: Mark, devices: list[Device]
) -> dict[str, int]:
    """What reached the fakes since the mark: messages accepted, devices missed or reached more
    than once, APNs refusals, connections and tokens."""
    requests = apns.requests[since.apns :]
    reached = Counter(m.message["token"] for m in google.messages[since.fcm :])
    reached.update(r.device_token for r in requests if r.status == 200)
    ios, android = {d.ios for d in devices}, {d.android for d in devices}
    twice = {token for token, n in reached.items() if n > 1}
    now = Mark.of(google, apns)
    return {
        "messages": sum(reached.values()),
        "devices_missed": len((ios | android) - set(reached)),
        "ios_devices_reached_twice_or_more": len(twice & ios),
        "android_devices_reached_twice_or_more": len(twice & android),
        "apns_refused": sum(1 for r in requests if r.status != 200),
        "apns_connections_opened": now.connections - since.connections,
        "apns_provider_tokens_seen": now.provider_tokens - since.provider_tokens,
        "fcm_access_tokens_issued": now.access_tokens - since.access_tokens,
    }


class Arrivals:
    """Watches the fakes' request counts every 20 ms: `last_at` is when the count last grew,
    `almost_at` when it first reached 99 % of `expected`."""

    def __init__(self, google: FakeGoogle, apns: FakeApns, expected: int) -> None:
        self._google, self._apns, self._expected = google, apns, expected
        self._base = self._count()
        self.received, self.last_at, self.almost_at = 0, 0.0, 0.0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> Arrivals:
        self._thread.start()
        return self

    def _count(self) -> int:
        return len(self._google.messages) + len(self._apns.requests)

    def _watch(self) -> None:
        while not self._stopped.wait(0.02):
            received = self._count() - self._base
            if received != self.received:
                self.received, self.last_at = received, time.monotonic()
                if not self.almost_at and received >= 0.99 * self._expected:
                    self.almost_at = self.last_at

    def wait(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.received < self._expected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # anything more (a duplicate) would show now

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


def _fcm_token() -> str:
    """Shaped like an FCM registration token: an instance id, ':APA91b' and 134 more."""
    return f"{secrets.token_urlsafe(16)[:22]}:APA91b{secrets.token_urlsafe(101)[:134]}"


def _create_recipients(runtime: Runtime, app_id: str, devices: list[Device]) -> None:
    now = utcnow()
    stamps = {"app_id": app_id, "created_at": now, "updated_at": now}
    users, subscriptions = [], []
    for i, device in enumerate(devices):
        user_id = new_id()
        user = {"id": user_id, "external_id": f"user-{i}", "custom_attributes": {}}
        users.append({**stamps, **user, "phone_numbers": []})
        for platform, token in (("ios", device.ios), ("android", device.android)):
            subscription = {"id": new_id(), "user_id": user_id, "platform": platform}
            subscription |= {"device_token": token, "token_hash": token_hash(token)}
            subscriptions.append({**stamps, **subscription})
    with runtime.database.transaction() as session:
        session.execute(insert(User), users)
        session.execute(insert(PushSubscription), subscriptions)


def _configure_providers(
    base: str, headers: dict[str, str], google: FakeGoogle, apns: FakeApns
) -> tuple[dict[str, Any], ApnsKey]:
    """The app's service account and APNs key, trusted by the fakes, saved through the API."""
    account = new_service_account(google.token_uri, project_id="herald-bench")
    google.trust(account)
    key = new_apns_key()
    apns.trust(key, [BUNDLE])
    _request("PUT", f"{base}{PROVIDERS}/fcm", headers, {"serviceAccount": account})
    apns_body = {"keyId": key.key_id, "teamId": key.team_id, "privateKey": key.p8}
    apns_body |= {"bundleId": BUNDLE, "environment": "production"}
    _request("PUT", f"{base}{PROVIDERS}/apns", headers, apns_body)
    return account, key


def _approve_push_template(base: str, headers: dict[str, str]) -> None:
    """bench.batch's order confirmation (its `_send` sends it), with the push channel only."""
    body = {
        "key": "order-confirmation",
        "name": "Order",
        "channels": {"push": ORDER_CHANNELS["push"]},
        "variableSchema": ORDER_SCHEMA,
    }
    _post(base + "/api/templates", body, headers)
    for action in ("submit", "approve"):
        _post(f"{base}/api/templates/order-confirmation/{action}", {}, headers)


def _request(
    method: str, url: str, who: dict[str, str] | BenchApp, body: dict[str, Any] | None = None
) -> Any:
    headers = who.tenant.headers() if isinstance(who, BenchApp) else who
    data = None if body is None else json.dumps(body).encode()
    headers = {**headers, "Content-Type": "application/json"} if data else headers
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def _log_problems(log: str) -> dict[str, Any]:
    """Warnings, errors and tracebacks in the worker's log (the first three quoted)."""
    words = ("WARNING", "ERROR", "CRITICAL", "Traceback")
    lines = [line for line in log.splitlines() if any(word in line for word in words)]
    return {"worker_log_problem_lines": len(lines), "worker_log_first": lines[:3]}


def _sent_message(apns_requests: list[ApnsRequest], ttl_s: int) -> MobileMessage:
    """What Herald sent (APNs's copy: alert, badge, data, thread and collapse id)."""
    sent = next(r for r in apns_requests if r.status == 200)
    data = dict(sent.payload)
    aps = data.pop("aps")
    alert = aps.get("alert", {})
    return MobileMessage(
        title=alert.get("title"),
        body=alert.get("body"),
        data=data,
        category=aps.get("thread-id"),
        tag=sent.headers.get("apns-collapse-id"),
        badge=aps.get("badge"),
        ttl_s=ttl_s,
    )


def _plain_share(
    settings: Settings,
    account: dict[str, Any],
    credentials: ApnsCredentials,
    message: MobileMessage,
    devices: list[Device],
    threads: int,
) -> Counter[str]:
    """One process of the plain script: its own clients, as a worker process builds them, and
    `threads` threads sending each user's two messages in turn, as Herald's push delivery does;
    returns the send errors by class (counted, not retried)."""
    mobile = MobilePush.from_settings(
        settings, GuardedHttp(DestinationGuard(web_push_policy(settings)))
    )

    def send(device: Device) -> list[str]:
        errors = []
        for platform in ("ios", "android"):
            try:
                if platform == "ios":
                    mobile.apns.send(credentials, device.ios, message, topic=BUNDLE)
                else:
                    mobile.fcm.send(account, device.android, message)
            except Exception as exc:
                errors.append(f"{platform}: {exc.__class__.__name__} {exc}"[:120])
        return errors

    try:
        with ThreadPoolExecutor(threads) as pool:
            return Counter(error for errors in pool.map(send, devices) for error in errors)
    finally:
        mobile.close()


if __name__ == "__main__":
    main()

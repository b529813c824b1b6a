"""Shared fixtures. Tests run against real Redis, PostgreSQL and SQLite, never skipping.

The run chooses its Redis and PostgreSQL once (tests/support/services.py), starting embedded
ones where the machine has none, before xdist spawns its workers, which share them. Each test
session (each xdist worker) gets its own PostgreSQL database, SQLite file and Redis key prefix,
so parallel runs and concurrent developers never see each other's data.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import dramatiq
import pytest
import trustme
from flask import Flask
from flask.testing import FlaskClient

from app.composition import Process, compose
from app.config import Settings
from app.factory import build_app
from app.migrate import upgrade
from app.runtime import Runtime
from workers.actors import Actors

# Before any of them is imported: the shared helpers' asserts report their operands, as the
# tests' own asserts do.
pytest.register_assert_rewrite("tests.support")

from tests.support import services  # noqa: E402
from tests.support.cleanup import wipe  # noqa: E402
from tests.support.factories import Tenant, make_tenant  # noqa: E402
from tests.support.processes import free_port  # noqa: E402
from tests.support.sinks import PushService, SmtpSink  # noqa: E402
from tests.support.webhook_receiver import WebhookReceiver  # noqa: E402

_SESSION_TAG = uuid.uuid4().hex[:10]
_SMTP_PORT = free_port()
_INSTANCE_DIR = Path(tempfile.mkdtemp(prefix=f"herald-test-{_SESSION_TAG}-"))
# This session's settings. In-process fixtures build theirs from these (`settings`); the
# processes the tests start (Procfile processes, `herald dev`) and the `herald` commands they
# run read them from the environment, as every Herald process does. REDIS_URL joins them once
# the run's services are chosen (pytest_sessionstart).
SESSION_ENVIRONMENT = {
    "REDIS_PREFIX": f"herald-test-{_SESSION_TAG}:",
    "SECRET_KEY": "test-secret-key-" + _SESSION_TAG,
    "HERALD_INSTANCE_DIR": str(_INSTANCE_DIR),
    "LOG_LEVEL": os.environ.get("TEST_LOG_LEVEL", "WARNING"),
    "DATABASE_URL": f"sqlite:///{_INSTANCE_DIR / 'default.db'}",
    "SMTP_URL": f"smtp://127.0.0.1:{_SMTP_PORT}",
    "DEFAULT_SENDER": "Herald Test <herald@test.example>",
    # Tests run reconciliation passes themselves; retries wait milliseconds, not seconds.
    "RECONCILE_INTERVAL_S": "0",
    "RETRY_SCHEDULE": "20ms,20ms",
    # The push service sinks listen on loopback; tests of the destination rules install a
    # strict guard themselves (tests/engine/test_push_destinations.py).
    "WEBPUSH_ALLOW_PRIVATE": "true",
    # Webhook receivers listen on loopback too; other private addresses stay refused.
    "WEBHOOK_ALLOW_LOOPBACK": "true",
    "WEBHOOK_PASS_INTERVAL_S": "0.2",
}

ENGINES = ("sqlite", "postgresql")
pytest_plugins = [
    "tests.support.process_fixtures",
    "tests.support.mobile_push",
    "tests.support.mobile_delivery",
    "tests.support.send_api",
    "tests.support.direct_send",
]
_SERVICES = pytest.StashKey[services.Choice]()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Choose the run's services, unless this is an xdist worker: its controller chose them
    before spawning it, and exported them in REDIS_URL and TEST_DATABASE_URL."""
    config = session.config
    if not hasattr(config, "workerinput"):
        try:
            choice = services.choose(os.environ)
        except services.ServiceUnavailable as exc:
            pytest.exit(str(exc), returncode=3)
        config.stash[_SERVICES] = choice
        os.environ.update(choice.environment)
    SESSION_ENVIRONMENT["REDIS_URL"] = services.redis_url()
    os.environ.update(SESSION_ENVIRONMENT)


def pytest_report_header(config: pytest.Config) -> str | None:
    choice = config.stash.get(_SERVICES, None)
    return choice.describe() if choice else None


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the embedded services this process started, once every worker has finished."""
    choice = config.stash.get(_SERVICES, None)
    if choice:
        choice.stop()


@pytest.fixture(scope="session", autouse=True)
def _real_services() -> None:
    services.require_redis()
    services.require_postgres()


@pytest.fixture(scope="session")
def postgresql_url(_real_services: None) -> Iterator[str]:
    url = services.create_postgres_database()
    upgrade(url)
    yield url
    services.drop_postgres_database(url)


@pytest.fixture(scope="session")
def sqlite_url() -> str:
    url = f"sqlite:///{_INSTANCE_DIR / 'herald.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings() -> Settings:
    """This session's settings (Redis prefix, secret key, SMTP sink, quick retries)."""
    return Settings.from_env(SESSION_ENVIRONMENT)


@pytest.fixture(scope="session")
def _processes_by_engine() -> Iterator[dict[str, Process]]:
    processes: dict[str, Process] = {}
    yield processes
    for process in processes.values():
        process.close()


@pytest.fixture(scope="session")
def _apps_by_engine() -> dict[str, Flask]:
    return {}


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(engine_name: str, request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{engine_name}_url")


@pytest.fixture
def process(
    settings: Settings,
    database_url: str,
    engine_name: str,
    _processes_by_engine: dict[str, Process],
) -> Process:
    """This process's dependencies on one engine, built by the composition root as a web or
    worker process builds its own."""
    if engine_name not in _processes_by_engine:
        engine_settings = replace(settings, database_url=database_url)
        _processes_by_engine[engine_name] = compose(engine_settings)
    return _processes_by_engine[engine_name]


@pytest.fixture
def app(process: Process, engine_name: str, _apps_by_engine: dict[str, Flask]) -> Iterator[Flask]:
    """The API on one engine (every test using it runs on SQLite and on PostgreSQL)."""
    if engine_name not in _apps_by_engine:
        _apps_by_engine[engine_name] = build_app(process)
    yield _apps_by_engine[engine_name]
    wipe(process.runtime)


@pytest.fixture
def runtime(app: Flask, process: Process) -> Runtime:
    return process.runtime


@pytest.fixture
def actors(app: Flask, process: Process) -> Actors:
    """The actors the API enqueues; a test calls them directly as a worker would."""
    return process.actors


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tenant(runtime: Runtime) -> Tenant:
    return make_tenant(runtime, "acme")


@pytest.fixture
def other_tenant(runtime: Runtime) -> Tenant:
    return make_tenant(runtime, "globex")


@pytest.fixture
def worker(runtime: Runtime, process: Process) -> Iterator[dramatiq.Worker]:
    """A real Dramatiq worker (threads in this process) on the real Redis broker, running the
    actors against the test's runtime."""
    broker = process.broker
    worker = dramatiq.Worker(broker, worker_threads=4, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()
    broker.flush_all()
    # Worker() registers a middleware on the broker that outlives it; drop it.
    broker.middleware[:] = [
        m for m in broker.middleware if getattr(m, "worker", None) is not worker
    ]


@pytest.fixture(scope="session")
def _smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=_SMTP_PORT).start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink(_smtp_server: SmtpSink) -> SmtpSink:
    """The real SMTP server (aiosmtpd) at SMTP_URL, emptied for this test."""
    _smtp_server.reset()
    return _smtp_server


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP webhook receiver on loopback that records requests and answers as told."""
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def push_service() -> Iterator[PushService]:
    """A real HTTP Web Push service that decrypts what it receives."""
    service = PushService().start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    """A certificate authority that the tests' https push services and clients trust."""
    return trustme.CA()


@pytest.fixture
def tls_ca_file(tls_ca: trustme.CA, tmp_path: Path) -> str:
    """The authority's certificate as a PEM file (a client's `ca_certs`)."""
    path = tmp_path / "test-ca.pem"
    tls_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def https_push_service(tls_ca: trustme.CA) -> Iterator[PushService]:
    """A real https Web Push service on loopback whose certificate names push.example.net; its
    endpoints name that host, which only a test's resolver maps to 127.0.0.1."""
    service = PushService(tls_ca=tls_ca, hostname="push.example.net").start()
    yield service
    service.stop()

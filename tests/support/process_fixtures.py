"""Fixtures for tests of Herald's processes: the `herald` command, and real web processes (one
per module, on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.composition import Process, compose
from app.config import Settings
from app.runtime import Runtime
from tests.support.cleanup import wipe
from tests.support.cli import Herald
from tests.support.factories import Tenant, make_tenant
from tests.support.processes import RunningProcess, procfile_process
from tests.support.realtime import Sockets, sockets


@pytest.fixture(scope="module")
def pg_process(settings: Settings, postgresql_url: str) -> Iterator[Process]:
    """This process's dependencies on the PostgreSQL test database the web processes use."""
    process = compose(replace(settings, database_url=postgresql_url))
    yield process
    # What the module's tests made here: the next module starts clean, as after `app`'s tests.
    wipe(process.runtime)
    process.close()


@pytest.fixture(scope="module")
def pg_runtime(pg_process: Process) -> Runtime:
    """The runtime of this process on the web processes' database."""
    return pg_process.runtime


@pytest.fixture(scope="module")
def web(postgresql_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    """The Procfile's web process, shared by the tests of one module."""
    log_dir: Path = tmp_path_factory.mktemp("web")
    with procfile_process("web", database_url=postgresql_url, log_dir=log_dir) as process:
        yield process


@pytest.fixture
def acme(pg_runtime: Runtime) -> Tenant:
    return make_tenant(pg_runtime, "acme")


@pytest.fixture
def clients() -> Iterator[Sockets]:
    """WebSocket clients opened by the test, all closed at its end."""
    with sockets() as opened:
        yield opened


@pytest.fixture
def cli(runtime: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Herald:
    """The `herald` command on the test's database (each test runs on SQLite and PostgreSQL)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return Herald(CliRunner())

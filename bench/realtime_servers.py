"""The realtime benchmark's servers, each one fresh web process started for one measurement and
stopped after it: Herald's web process as the Procfile starts it (gunicorn, one gevent worker)
and the Flask-SocketIO baseline (bench/socketio_server.py), with or without issue 5's checks.
Each yields a Server: how to reach its sockets and its send endpoint, and the web worker's
memory and CPU time read from /proc.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.devprocesses import free_port

ROOT = Path(__file__).resolve().parent.parent
GROUP = "bench-all"


@dataclass
class Server:
    kind: str
    port: int
    process: subprocess.Popen[bytes]
    socket_url: Any  # user id -> ws:// URL
    send_body: Any  # (target, tag, is_group) -> (path, headers, body)

    @property
    def worker_pid(self) -> int:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return int(children.split()[0])

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.worker_pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def cpu_s(self) -> float:
        """CPU time (user + system) the web worker has used so far."""
        fields = Path(f"/proc/{self.worker_pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def post(
        self, conn: http.client.HTTPConnection, method: str, path: str, headers: dict, body: Any
    ) -> Any:
        text, headers = json.dumps(body), {**headers, "Content-Type": "application/json"}
        try:
            conn.request(method, path, text, headers)
            response = conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            conn.close()  # the server closed an idle keep-alive connection: open a new one
            conn.request(method, path, text, headers)
            response = conn.getresponse()
        answer = json.loads(response.read() or b"null")
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {answer}")
        return answer


def server_log(kind: str) -> Any:
    """Where a server's output goes: a file per run under the system's temporary directory."""
    path = Path(tempfile.gettempdir()) / f"herald-bench-{kind}-{os.getpid()}.log"
    return path.open("ab")


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server not healthy")


@contextmanager
def herald_server(database_url: str, env: dict[str, str]) -> Iterator[Server]:
    from app.config import Settings
    from app.runtime import Runtime
    from app.security import user_hmac
    from app.tenants import service as tenants

    port = free_port()
    runtime = Runtime.from_settings(Settings.from_env(env, database_url=database_url))
    with runtime.database.transaction() as session:
        app, issued = tenants.create_tenant(
            session=session, name="bench", encryptor=runtime.encryptor
        )
        # Budgets far above the benchmark's rate: the limiter still counts every call.
        app.rate_limit_read_per_minute = app.rate_limit_write_per_minute = 1_000_000
        api_key, secret = app.api_key, issued.secret
    runtime.close()
    procfile = (ROOT / "Procfile").read_text().splitlines()
    command = next(line.split(":", 1)[1] for line in procfile if line.startswith("web:"))
    extra_args = os.environ.get("BENCH_GUNICORN_ARGS", "")  # e.g. a profiling config
    command = command.replace("gunicorn ", f"gunicorn {extra_args} ", 1)
    process_env = {**env, "PORT": str(port), "WEB_CONCURRENCY": "1", "WEB_CONNECTIONS": "12000"}
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command.strip()}"],
        cwd=ROOT,
        env=process_env,
        stdout=server_log("herald"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def socket_url(user: str) -> str:
        query = {"api_key": api_key, "user_id": user, "user_hmac": user_hmac(secret, user)}
        return f"ws://127.0.0.1:{port}/ws?{urllib.parse.urlencode(query)}"

    def send_body(target: str, tag: str, group: bool) -> tuple[str, dict, dict]:
        to = [{"type": "group" if group else "user", "id": target}]
        body = {"to": to, "type": "bench", "message": tag, "data": {"n": 1}}
        return "/send", {"X-API-Key": api_key, "X-API-Secret": secret}, body

    yield from _serve(Server("herald", port, process, socket_url, send_body))


@contextmanager
def socketio_server(env: dict[str, str], *, checked: bool = False) -> Iterator[Server]:
    """The baseline; `checked`: doing issue 5's checks too (see bench/socketio_server.py)."""
    port = free_port()
    api_key, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
    # An empty config, so that Herald's gunicorn.conf.py (its GC tuning) stays Herald's own.
    config = Path(tempfile.gettempdir()) / "herald-bench-socketio.conf.py"
    config.write_text("")
    command = [
        str(Path(sys.executable).parent / "gunicorn"), "--config", str(config),
        "-k", "gevent", "-w", "1", "--worker-connections", "12000",
        "--bind", f"127.0.0.1:{port}", "bench.socketio_server:app",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={
            **env,
            "SOCKETIO_CHANNEL": f"herald-bench-{secrets.token_hex(4)}",
            "SOCKETIO_CHECKS": "1" if checked else "0",
            "SOCKETIO_API_KEY": api_key,
            "SOCKETIO_SECRET": secret,
        },
        stdout=server_log("socketio"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def socket_url(user: str) -> str:
        query = {"EIO": 4, "transport": "websocket", "user_id": user, "groups": GROUP}
        if checked:
            query |= {"api_key": api_key, "user_hmac": base64_hmac(secret, user)}
        return f"ws://127.0.0.1:{port}/socket.io/?{urllib.parse.urlencode(query)}"

    def send_body(target: str, tag: str, group: bool) -> tuple[str, dict, dict]:
        body = {"group" if group else "user": target, "data": {"message": tag, "n": 1}}
        headers = {"X-API-Key": api_key, "X-API-Secret": secret} if checked else {}
        return "/send", headers, body

    kind = "socketio-checks" if checked else "socketio"
    yield from _serve(Server(kind, port, process, socket_url, send_body))


def base64_hmac(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _serve(server: Server) -> Iterator[Server]:
    try:
        wait_healthy(server.port, server.process)
        yield server
    finally:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=15)

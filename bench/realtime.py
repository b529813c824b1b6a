"""Realtime benchmark, run by hand (never a timed test): Herald's /ws against Flask-SocketIO.

    .venv/bin/pip install -e '.[dev,bench]'
    .venv/bin/python bench/realtime.py [--sizes 1000 10000] [--samples 500] [--only herald ...]

For each server and each number of sockets it starts one fresh web process (gunicorn, one
gevent worker), connects the sockets from a separate client process (asyncio + websockets),
and measures: connect time, web-process memory per idle socket (RSS growth / sockets),
p50/p99 latency from POST /send to receipt for single-user messages, and the time for one
group message to reach every socket. For Herald it also times `POST /send` refused by
validation (`checks_p50_ms`): the checks every send passes before a message may leave, which
the baseline does not make. A third server, `socketio-checks`, is the baseline doing the
work issue 5 asks of each handshake and send (bench/socketio_server.py). Needs PostgreSQL
(a scratch database is created and dropped; --database-url to use another) and Redis (a
unique key prefix; REDIS_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
TAG = re.compile(rb"t0=(\d+);(\w+)")
# When the server published the frame: Herald's `sentAt`, the baseline's `sentAtNs`.
SENT_AT = re.compile(rb'"sentAt":"([^"]+)"|"sentAtNs":(\d+)')
GROUP = "bench-all"
KINDS = ("herald", "socketio", "socketio-checks")


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- client process: holds the sockets, timestamps every receipt ----------------------------


class RawSocket(asyncio.Protocol):
    """A minimal WebSocket client: both servers are measured, not a client library's overhead."""

    def __init__(self, clients: Clients, request: bytes) -> None:
        self.clients = clients
        self.request = request
        self.buffer = bytearray()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake: {exc}"))

    def data_received(self, data: bytes) -> None:
        received = (time.monotonic_ns(), time.time_ns())
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(bytes(self.buffer[:200]).decode()))
                return
            del self.buffer[: end + 4]
            self.upgraded = True
            if self.clients.kind == "herald":
                self.opened.set_result(None)
        while len(self.buffer) >= 2:
            opcode, size, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + size:
                return
            payload = bytes(self.buffer[start : start + size])
            del self.buffer[: start + size]
            self.on_frame(opcode, payload, received)

    def on_frame(self, opcode: int, payload: bytes, received: tuple[int, int]) -> None:
        if opcode == 0x9:
            self.send(0xA, payload)  # pong
        elif opcode == 0x1 and self.clients.kind != "herald" and payload[:1] in (b"0", b"2"):
            self.send(0x1, b"40" if payload[:1] == b"0" else b"3")  # join namespace / pong
        elif opcode == 0x1 and payload[:2] == b"40" and not self.opened.done():
            self.opened.set_result(None)
        elif opcode == 0x1:
            self.clients.on_text(payload, received)

    def send(self, opcode: int, payload: bytes) -> None:
        mask = secrets.token_bytes(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked)


class Clients:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sockets: list[RawSocket] = []
        self.latencies: list[int] = []
        self.delivery: list[int] = []  # from the server's publish to receipt
        self.group_receipts: dict[str, list[int]] = {}

    async def connect_all(self, urls: list[str], concurrency: int) -> float:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)

        async def one(url: str) -> None:
            parts = urllib.parse.urlsplit(url)
            request = (
                f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Key: {base64.b64encode(secrets.token_bytes(16)).decode()}\r\n\r\n"
            ).encode()
            async with gate:
                _, protocol = await loop.create_connection(
                    lambda: RawSocket(self, request), parts.hostname, parts.port
                )
                await asyncio.wait_for(protocol.opened, 120)
                self.sockets.append(protocol)

        started = time.perf_counter()
        await asyncio.gather(*(one(url) for url in urls))
        return time.perf_counter() - started

    def on_text(self, payload: bytes, received: tuple[int, int]) -> None:
        match = TAG.search(payload)
        if match is None:
            return
        sent, label = int(match[1]), match[2].decode()
        if label == "u":
            self.latencies.append(received[0] - sent)
            self.delivery.append(received[1] - published_ns(payload))
        else:
            self.group_receipts.setdefault(label, []).append(received[0] - sent)

    async def group_time(self, label: str, expected: int, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while len(self.group_receipts.get(label, [])) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        receipts = self.group_receipts.get(label, [])
        return {"received": len(receipts), "last_ms": max(receipts, default=0) / 1e6}


def published_ns(payload: bytes) -> int:
    match = SENT_AT.search(payload)
    assert match is not None, payload
    if match[2]:
        return int(match[2])
    return int(datetime.fromisoformat(match[1].decode()).timestamp() * 1e9)


async def client_main(kind: str) -> None:
    clients = Clients(kind)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        command = json.loads(line)
        if command["cmd"] == "connect":
            seconds = await clients.connect_all(command["urls"], command["concurrency"])
            reply: dict[str, Any] = {"seconds": seconds, "connected": len(clients.sockets)}
        elif command["cmd"] == "latencies":
            await asyncio.sleep(0.5)
            reply = {"latencies_ns": clients.latencies, "delivery_ns": clients.delivery}
            clients.latencies, clients.delivery = [], []
        elif command["cmd"] == "group":
            reply = await clients.group_time(command["label"], command["expected"], 30.0)
        else:
            break
        print(json.dumps(reply), flush=True)
    for socket in clients.sockets:
        if socket.transport is not None:
            socket.transport.abort()


# -- servers -----------------------------------------------------------------------------


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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    sys.path.insert(0, str(ROOT))
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


# -- the measurements ----------------------------------------------------------------------


def measure(server: Server, size: int, samples: int, concurrency: int) -> dict[str, Any]:
    users = [f"user-{i}" for i in range(size)]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    if server.kind == "herald":
        headers = server.send_body("x", "", False)[1]
        server.post(conn, "PUT", f"/api/groups/{GROUP}", headers, {"members": users})
    time.sleep(1.0)
    rss_before = server.rss_kib()
    client = subprocess.Popen(
        [sys.executable, __file__, "client", server.kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def ask(command: dict[str, Any]) -> dict[str, Any]:
        assert client.stdin and client.stdout
        client.stdin.write(json.dumps(command) + "\n")
        client.stdin.flush()
        return json.loads(client.stdout.readline())

    try:
        urls = [server.socket_url(user) for user in users]
        cpu_before = server.cpu_s()
        connected = ask({"cmd": "connect", "urls": urls, "concurrency": concurrency})
        connect_cpu_s = server.cpu_s() - cpu_before
        time.sleep(2.0)
        rss_after = server.rss_kib()
        for _ in range(samples):
            user = random.choice(users)
            server.post(conn, "POST", *server.send_body(user, f"t0={time.monotonic_ns()};u", False))
        answer = ask({"cmd": "latencies"})
        latencies, delivery = sorted(answer["latencies_ns"]), sorted(answer["delivery_ns"])
        checks = sorted(checks_only(server, conn, samples)) if server.kind == "herald" else None
        group_ms, delivered = [], []
        for round_ in range(5):
            label = f"g{round_}"
            path, headers, body = server.send_body(GROUP, f"t0={time.monotonic_ns()};{label}", True)
            answer = server.post(conn, "POST", path, headers, body)
            delivered.append(answer.get("delivered"))
            result = ask({"cmd": "group", "label": label, "expected": size})
            group_ms.append(result["last_ms"] if result["received"] == size else float("inf"))
            time.sleep(0.5)
    finally:
        if client.stdin:
            client.stdin.close()
        client.wait(timeout=60)
        conn.close()
    return {
        "server": server.kind,
        "sockets": connected["connected"],
        "connect_s": round(connected["seconds"], 1),
        "connect_cpu_ms": round(connect_cpu_s * 1000 / size, 2),  # web worker CPU per socket
        "kib_per_socket": round((rss_after - rss_before) / size, 1),
        "p50_ms": round(statistics.median(latencies) / 1e6, 2),
        "p99_ms": round(percentile(latencies, 0.99) / 1e6, 2),
        "received": len(latencies),
        "delivery_p50_ms": round(statistics.median(delivery) / 1e6, 2),
        "delivery_p99_ms": round(percentile(delivery, 0.99) / 1e6, 2),
        "group_ms_median": round(statistics.median(group_ms), 1),
        "group_ms_max": round(max(group_ms), 1),
        "delivered": delivered[-1],
        "checks_p50_ms": round(statistics.median(checks) / 1e6, 2) if checks else None,
    }


def checks_only(server: Server, conn: http.client.HTTPConnection, samples: int) -> list[int]:
    """Round trips of a `POST /send` refused by validation (an empty `to`): authentication, the
    rate limit and the body checks, which every send passes before a message may leave."""
    path, headers, body = server.send_body("nobody", "", False)
    text = json.dumps({**body, "to": []})
    headers = {**headers, "Content-Type": "application/json"}
    timings = []
    for _ in range(samples):
        started = time.monotonic_ns()
        conn.request("POST", path, text, headers)
        response = conn.getresponse()
        response.read()
        timings.append(time.monotonic_ns() - started)
        if response.status != 400:
            raise RuntimeError(f"expected a validation refusal, got {response.status}")
    return timings


def percentile(ordered: list[int], fraction: float) -> int:
    return ordered[max(0, int(len(ordered) * fraction) - 1)]


def scratch_database() -> tuple[str, Any]:
    import psycopg

    name = f"herald_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{url}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50, help="handshakes in flight")
    parser.add_argument("--only", nargs="+", choices=KINDS)
    parser.add_argument("--database-url", help="Herald's database (default: a scratch one)")
    args = parser.parse_args()
    raise_fd_limit()
    sys.path.insert(0, str(ROOT))
    from app.migrate import upgrade

    database_url, drop = (args.database_url, None) if args.database_url else scratch_database()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": f"herald-bench-{secrets.token_hex(4)}:",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "LOG_LEVEL": "WARNING",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    rows = []
    try:
        upgrade(database_url)
        for size in args.sizes:
            for kind in KINDS:
                if args.only and kind not in args.only:
                    continue
                context = (
                    herald_server(database_url, env)
                    if kind == "herald"
                    else socketio_server(env, checked=kind == "socketio-checks")
                )
                with context as server:
                    rows.append(measure(server, size, args.samples, args.concurrency))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        if drop:
            drop()
        forget_redis_keys(env["REDIS_PREFIX"])
    print_table(rows)


def forget_redis_keys(prefix: str) -> None:
    from redis import Redis

    client = Redis.from_url(REDIS_URL)
    stale = list(client.scan_iter(match=prefix + "*", count=1000))
    if stale:
        client.delete(*stale)
    client.close()


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0]) if rows else []
    print("\n| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"]:
        raise_fd_limit()
        asyncio.run(client_main(sys.argv[2]))
    else:
        main()

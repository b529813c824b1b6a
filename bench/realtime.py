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

The servers are started by bench/realtime_servers.py, the sockets held by a client process,
bench/realtime_client.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script (python bench/realtime.py), the path holds bench/ and not the project.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.realtime_client import raise_fd_limit
from bench.realtime_servers import GROUP, Server, herald_server, socketio_server

CLIENT = Path(__file__).with_name("realtime_client.py")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
KINDS = ("herald", "socketio", "socketio-checks")


def measure(server: Server, size: int, samples: int, concurrency: int) -> dict[str, Any]:
    users = [f"user-{i}" for i in range(size)]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    if server.kind == "herald":
        headers = server.send_body("x", "", False)[1]
        server.post(conn, "PUT", f"/api/groups/{GROUP}", headers, {"members": users})
    time.sleep(1.0)
    rss_before = server.rss_kib()
    client = subprocess.Popen(
        [sys.executable, str(CLIENT), server.kind],
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
    main()

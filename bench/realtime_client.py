"""The realtime benchmark's client process (bench/realtime.py starts one per measurement): it
holds the sockets, timestamps every receipt, and answers the commands bench/realtime.py writes
to its stdin, one JSON object a line, with one JSON line each:

    {"cmd": "connect", "urls": [...], "concurrency": 50} -> {"seconds": ..., "connected": ...}
    {"cmd": "latencies"} -> {"latencies_ns": [...], "delivery_ns": [...]}
    {"cmd": "group", "label": "g0", "expected": 1000} -> {"received": ..., "last_ms": ...}

    .venv/bin/python bench/realtime_client.py herald|socketio|socketio-checks

Standard library only (asyncio and a minimal WebSocket client), so that both servers are
measured rather than a client library.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import resource
import secrets
import sys
import time
import urllib.parse
from datetime import datetime
from typing import Any

TAG = re.compile(rb"t0=(\d+);(\w+)")
# When the server published the frame: Herald's `sentAt`, the baseline's `sentAtNs`.
SENT_AT = re.compile(rb'"sentAt":"([^"]+)"|"sentAtNs":(\d+)')


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


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


if __name__ == "__main__":
    raise_fd_limit()
    asyncio.run(client_main(sys.argv[1]))

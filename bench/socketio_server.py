"""The baseline for bench/realtime.py: the small Flask-SocketIO server a Python team would
otherwise write, with its Redis message queue so that several processes could share sends.

Run by the benchmark as `gunicorn -k gevent -w 1 bench.socketio_server:app`. Clients connect
with `?user_id=...&groups=a,b` and join a room per user and per group; `POST /send` with
`{"user": id}` or `{"group": id}` and `"data"` emits to that room through Redis.
"""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask, request
from flask_socketio import SocketIO, join_room

app = Flask(__name__)
socketio = SocketIO(
    app,
    async_mode="gevent",
    message_queue=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    channel=os.environ.get("SOCKETIO_CHANNEL", "herald-bench-socketio"),
    cors_allowed_origins="*",
)


@socketio.on("connect")
def on_connect(auth: Any = None) -> None:
    join_room(f"user:{request.args['user_id']}")
    for group in filter(None, request.args.get("groups", "").split(",")):
        join_room(f"group:{group}")


@app.post("/send")
def send() -> Any:
    body = request.get_json()
    room = f"user:{body['user']}" if "user" in body else f"group:{body['group']}"
    # When the server hands the message over, like Herald's `sentAt` (for delivery latency).
    socketio.emit("message", {**body["data"], "sentAtNs": time.time_ns()}, to=room)
    return {"ok": True}


@app.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}

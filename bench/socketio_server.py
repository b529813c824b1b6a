"""The baseline for bench/realtime.py: the small Flask-SocketIO server a Python team would
otherwise write, with its Redis message queue so that several processes could share sends.

Run by the benchmark as `gunicorn -k gevent -w 1 bench.socketio_server:app`. Clients connect
with `?user_id=...&groups=a,b` and join a room per user and per group; `POST /send` with
`{"user": id}` or `{"group": id}` and `"data"` emits to that room through Redis.

With `SOCKETIO_CHECKS=1` it also does, as plainly as such a team would, the work issue 5 asks
of every handshake and send, so that the benchmark can show what that work costs on this
stack: a handshake checks the API key and the user's HMAC, creates the user or moves its
`last_seen_at` in PostgreSQL (`DATABASE_URL`) and counts the socket in Redis; a send checks the
key and secret, validates the body, and in one Redis round trip spends a per-minute budget and
reads how many sockets the target has (`delivered`, across processes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from typing import Any

from flask import Flask, request
from flask_socketio import SocketIO, join_room

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CHECKED = os.environ.get("SOCKETIO_CHECKS") == "1"

app = Flask(__name__)
socketio = SocketIO(
    app,
    async_mode="gevent",
    message_queue=REDIS_URL,
    channel=os.environ.get("SOCKETIO_CHANNEL", "herald-bench-socketio"),
    cors_allowed_origins="*",
)


def rooms_of(args: Any) -> list[str]:
    groups = filter(None, args.get("groups", "").split(","))
    return [f"user:{args['user_id']}", *(f"group:{group}" for group in groups)]


if not CHECKED:

    @socketio.on("connect")
    def on_connect(auth: Any = None) -> None:
        for room in rooms_of(request.args):
            join_room(room)

    @app.post("/send")
    def send() -> Any:
        body = request.get_json()
        room = f"user:{body['user']}" if "user" in body else f"group:{body['group']}"
        # When the server hands the message over, like Herald's `sentAt` (for delivery latency).
        socketio.emit("message", {**body["data"], "sentAtNs": time.time_ns()}, to=room)
        return {"ok": True}

else:
    from redis import Redis
    from sqlalchemy import create_engine, text

    API_KEY = os.environ["SOCKETIO_API_KEY"]
    SECRET = os.environ["SOCKETIO_SECRET"].encode()
    PREFIX = os.environ.get("SOCKETIO_CHANNEL", "herald-bench-socketio") + ":"
    LIMIT_PER_MINUTE = 1_000_000
    engine = create_engine(os.environ["DATABASE_URL"], pool_size=10, max_overflow=20)
    redis = Redis.from_url(REDIS_URL)
    SEEN = text(
        "INSERT INTO socketio_bench_users (external_id, last_seen_at) VALUES (:user, now()) "
        "ON CONFLICT (external_id) DO UPDATE SET last_seen_at = now() RETURNING external_id"
    )
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS socketio_bench_users "
                "(external_id text PRIMARY KEY, last_seen_at timestamptz)"
            )
        )

    def expected_hmac(user: str) -> str:
        return base64.b64encode(hmac.new(SECRET, user.encode(), hashlib.sha256).digest()).decode()

    def count(rooms: list[str], step: int) -> None:
        pipe = redis.pipeline(transaction=False)
        for room in rooms:
            pipe.hincrby(PREFIX + "presence", room, step)
        pipe.execute()

    @socketio.on("connect")
    def on_connect(auth: Any = None) -> bool:
        user = request.args.get("user_id", "")
        given = request.args.get("user_hmac", "")
        if not (
            user
            and hmac.compare_digest(request.args.get("api_key", ""), API_KEY)
            and hmac.compare_digest(given, expected_hmac(user))
        ):
            return False
        with engine.begin() as connection:
            connection.execute(SEEN, {"user": user})
        rooms = rooms_of(request.args)
        count(rooms, 1)
        for room in rooms:
            join_room(room)
        return True

    @socketio.on("disconnect")
    def on_disconnect(*_: Any) -> None:
        count(rooms_of(request.args), -1)

    @app.post("/send")
    def send() -> Any:
        if not (
            hmac.compare_digest(request.headers.get("X-API-Key", ""), API_KEY)
            and hmac.compare_digest(request.headers.get("X-API-Secret", "").encode(), SECRET)
        ):
            return {"error": "unauthorized"}, 401
        body = request.get_json(silent=True)
        target = body.get("user") or body.get("group") if isinstance(body, dict) else None
        if not isinstance(target, str) or not isinstance(body.get("data"), dict):
            return {"error": "user or group, and data (an object), are required"}, 400
        room = f"user:{target}" if "user" in body else f"group:{target}"
        bucket = f"{PREFIX}budget:{int(time.time() // 60)}"
        pipe = redis.pipeline(transaction=False)
        pipe.incr(bucket)
        pipe.expire(bucket, 120)
        pipe.hget(PREFIX + "presence", room)
        used, _, delivered = pipe.execute()
        if used > LIMIT_PER_MINUTE:
            return {"error": "rate limit exceeded"}, 429
        socketio.emit("message", {**body["data"], "sentAtNs": time.time_ns()}, to=room)
        return {"ok": True, "delivered": int(delivered or 0)}


@app.get("/healthz")
def healthz() -> Any:
    return {"status": "ok"}

"""Request budgets per minute, counted in Redis so that every web process shares them.

Fixed one-minute windows: each authenticated call spends one request of its budget, reads
(GET/HEAD/OPTIONS) and writes separately, with the limits from the app's settings
(`rateLimitReadPerMinute`, `rateLimitWritePerMinute`). Server calls share the app's budget;
a user call spends its user's budget within the app, so one busy inbox cannot lock every other
user of the app out. Only calls that pass authentication are counted; health checks, the
OpenAPI document and WebSocket handshakes never are.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, g, request
from redis import Redis, RedisError
from redis.commands.core import Script

from app.errors import HeraldError
from app.extensions import runtime
from app.tenants.models import App
from app.users.models import User

log = logging.getLogger(__name__)

WINDOW_S = 60
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Seconds since the epoch; tests pin it so that a minute cannot turn over mid-test.
clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class Budget:
    """One window's budget after spending a request of it."""

    limit: int
    used: int
    reset_s: int

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": str(self.reset_s),
        }
        if self.exceeded:
            headers["Retry-After"] = str(self.reset_s)
        return headers


# One command, one reply: cheaper for the client than MULTI/INCR/EXPIRE/EXEC, and as atomic.
# Two windows of expiry: a process whose clock runs a little behind still finds its counter.
# Hashed once here; each call runs EVALSHA (loading the script on a miss).
_SPEND = Script(
    None,  # type: ignore[arg-type]
    b"""
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return used
""",
)


def spend(redis: Redis, *, bucket: str, limit: int, now: float) -> Budget:
    """Count one request in the bucket's current window (one Redis round trip)."""
    window = int(now // WINDOW_S)
    key = f"{bucket}:{window}"
    used = _SPEND(keys=[key], args=[2 * WINDOW_S], client=redis)
    reset_s = max(1, math.ceil((window + 1) * WINDOW_S - now))
    return Budget(limit=limit, used=int(used), reset_s=reset_s)


def enforce(app: App, user: User | None) -> None:
    """Spend one request of the caller's budget; 429 `rate_limit_exceeded` when it is spent.

    Redis being unreachable lets the request through (logged): the budget protects the
    service, and refusing every call would be the larger outage.
    """
    is_read = request.method in READ_METHODS
    limit = app.rate_limit_read_per_minute if is_read else app.rate_limit_write_per_minute
    parts = ["ratelimit", app.id, "read" if is_read else "write"]
    if user is not None:
        parts += ["user", user.id]
    rt = runtime()
    try:
        budget = spend(rt.redis, bucket=rt.key(*parts), limit=limit, now=clock())
    except RedisError:
        log.warning("rate limit not checked: Redis unreachable", extra={"app_id": app.id})
        return
    g.rate_limit = budget
    if budget.exceeded:
        kind = "read" if is_read else "write"
        raise HeraldError(
            f"Rate limit exceeded: {limit} {kind} requests per minute.",
            code="rate_limit_exceeded",
            status=429,
        )


def init_app(flask_app: Flask) -> None:
    """Put the budget's headers on every response of a limited call, errors included."""

    @flask_app.after_request
    def _rate_limit_headers(response: Response) -> Response:
        budget: Budget | None = g.get("rate_limit")
        if budget is not None:
            response.headers.update(budget.headers())
        return response

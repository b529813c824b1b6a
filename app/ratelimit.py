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

from app.extensions import runtime
from app.observability.metrics import metrics
from app.refusals import HeraldError
from app.tenants.credentials import Credentials, generation_lua
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
# The confirming variant first checks that the caller's cached credentials are still current
# (the credential generation), spending nothing when they are not: authentication and its
# budget then cost one round trip. Hashed once here; each call runs EVALSHA.
_SPEND_LUA = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
"""
_SPEND = Script(None, (_SPEND_LUA + "return used").encode())  # type: ignore[arg-type]
# KEYS[2] the generation; ARGV[2] the view's (or ''), ARGV[3] one to start if Redis has none.
_SPEND_CONFIRMING = Script(
    None,  # type: ignore[arg-type]
    (
        generation_lua("KEYS[2]", "ARGV[3]")
        + "if ARGV[2] ~= '' and generation ~= ARGV[2] then return {0, generation} end"
        + _SPEND_LUA
        + "return {used, generation}"
    ).encode(),
)


def spend(
    redis: Redis,
    *,
    bucket: str,
    limit: int,
    now: float,
    confirming: Credentials | None = None,
) -> Budget | None:
    """Count one request in the bucket's current window (one Redis round trip).

    With `confirming`, the same call reads the credential generation: the budget is spent only
    if that view is still current (see `Credentials.confirmed`); None when it is not.
    """
    window = int(now // WINDOW_S)
    key, expiry = f"{bucket}:{window}", 2 * WINDOW_S
    if confirming is None:
        used = _SPEND(keys=[key], args=[expiry], client=redis)
    else:
        generation_key, expected, fresh = confirming.confirmation()
        used, generation = _SPEND_CONFIRMING(
            keys=[key, generation_key], args=[expiry, expected, fresh], client=redis
        )
        if not confirming.confirmed(generation):
            return None
    reset_s = max(1, math.ceil((window + 1) * WINDOW_S - now))
    return Budget(limit=limit, used=int(used), reset_s=reset_s)


def used_in_window(redis: Redis, *, bucket: str, now: float) -> int:
    """What the bucket's current window has counted so far, spending nothing."""
    used = redis.get(f"{bucket}:{int(now // WINDOW_S)}")
    return int(used) if used is not None else 0


def enforce(app: App, user: User | None, *, confirming: Credentials | None = None) -> bool:
    """Spend one request of the caller's budget; 429 `rate_limit_exceeded` when it is spent.

    With `confirming` (the credential view the caller was authenticated with), the same round
    trip confirms the view is still current; False when it is not, or could not be read:
    nothing is spent then, and the caller must authenticate again from a fresh view.
    Redis being unreachable otherwise lets the request through (logged): the budget protects
    the service, and refusing every call would be the larger outage.
    """
    is_read = request.method in READ_METHODS
    limit = app.rate_limit_read_per_minute if is_read else app.rate_limit_write_per_minute
    parts = ["ratelimit", app.id, "read" if is_read else "write"]
    if user is not None:
        parts += ["user", user.id]
    rt = runtime()
    try:
        budget = spend(
            rt.redis, bucket=rt.key(*parts), limit=limit, now=clock(), confirming=confirming
        )
    except RedisError:
        if confirming is not None:
            return False
        log.warning("rate limit not checked: Redis unreachable", extra={"app_id": app.id})
        return True
    if budget is None:
        return False
    g.rate_limit = budget
    if budget.exceeded:
        kind = "read" if is_read else "write"
        metrics().rate_limit_refusals.labels(kind, "server" if user is None else "user").inc()
        raise HeraldError(
            f"Rate limit exceeded: {limit} {kind} requests per minute.",
            code="rate_limit_exceeded",
            status=429,
        )
    return True


def init_app(flask_app: Flask) -> None:
    """Put the budget's headers on every response of a limited call, errors included."""

    @flask_app.after_request
    def _rate_limit_headers(response: Response) -> Response:
        budget: Budget | None = g.get("rate_limit")
        if budget is not None:
            response.headers.update(budget.headers())
        return response
